-- Up Migration
-- The local stack's queue (SQS semantics) and pipe (EventBridge Pipes semantics), kept in PostgreSQL
-- so that a restart of `dialctl dev` loses nothing and `dialctl pipe stop` works from another terminal.

-- One row per queue: its default visibility timeout and its redrive policy (SQS RedrivePolicy).
CREATE TABLE queues (
  name                        text PRIMARY KEY,
  visibility_timeout_seconds  double precision NOT NULL DEFAULT 30 CHECK (visibility_timeout_seconds >= 0),
  dead_letter_queue           text REFERENCES queues(name),
  max_receive_count           integer CHECK (max_receive_count BETWEEN 1 AND 1000),
  created_at                  timestamptz NOT NULL DEFAULT now(),
  CHECK ((dead_letter_queue IS NULL) = (max_receive_count IS NULL))
);

CREATE TABLE queue_messages (
  -- send order; receive prefers the oldest visible message (best-effort FIFO, like a standard queue)
  id                 bigserial PRIMARY KEY,
  queue              text NOT NULL REFERENCES queues(name) ON DELETE CASCADE,
  message_id         uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
  body               text NOT NULL,
  -- SentTimestamp: kept when the message moves to the DLQ (SQS keeps the original enqueue time)
  sent_at            timestamptz NOT NULL DEFAULT now(),
  visible_at         timestamptz NOT NULL DEFAULT now(),
  receive_count      integer NOT NULL DEFAULT 0,
  first_received_at  timestamptz,
  -- changes on every receive; NULL while nobody holds the message
  receipt_handle     uuid UNIQUE,
  -- set when the redrive policy moved the message into a DLQ: where it came from, and when
  moved_from         text,
  moved_at           timestamptz
);
-- receive: the visible messages of one queue, oldest first
CREATE INDEX queue_messages_ready_idx ON queue_messages (queue, visible_at, id);

-- DLQ redrives (SQS StartMessageMoveTask / ListMessageMoveTasks semantics).
CREATE TABLE queue_move_tasks (
  task_handle       uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  source_queue      text NOT NULL REFERENCES queues(name) ON DELETE CASCADE,
  -- NULL: each message goes back to the queue it was moved from
  destination_queue text REFERENCES queues(name) ON DELETE CASCADE,
  status            text NOT NULL DEFAULT 'RUNNING'
                    CHECK (status IN ('RUNNING', 'COMPLETED', 'CANCELLING', 'CANCELLED', 'FAILED')),
  max_per_second    integer,
  to_move           integer NOT NULL DEFAULT 0,
  moved             integer NOT NULL DEFAULT 0,
  failure_reason    text,
  started_at        timestamptz NOT NULL DEFAULT now(),
  finished_at       timestamptz
);
-- "Only one active message movement task is supported per queue at any given time."
CREATE UNIQUE INDEX queue_move_tasks_active_idx ON queue_move_tasks (source_queue)
  WHERE status IN ('RUNNING', 'CANCELLING');

-- The local pipe: desired state written by `dialctl pipe start|stop`, current state by the runner.
CREATE TABLE pipes (
  name           text PRIMARY KEY,
  desired_state  text NOT NULL DEFAULT 'RUNNING' CHECK (desired_state IN ('RUNNING', 'STOPPED')),
  current_state  text NOT NULL DEFAULT 'STOPPED'
                 CHECK (current_state IN ('STARTING', 'RUNNING', 'STOPPING', 'STOPPED')),
  state_reason   text,
  last_error     text,
  last_error_at  timestamptz,
  -- what `pipe status` shows: source, filter, batch size / window, enrichment, target
  config         jsonb NOT NULL DEFAULT '{}'::jsonb,
  runner         text,
  heartbeat_at   timestamptz,
  updated_at     timestamptz NOT NULL DEFAULT now()
);

-- Per-minute counters, for "last 5 minutes of executions and failures".
CREATE TABLE pipe_metrics (
  pipe                text NOT NULL REFERENCES pipes(name) ON DELETE CASCADE,
  minute              timestamptz NOT NULL,
  executions          integer NOT NULL DEFAULT 0,
  failed_executions   integer NOT NULL DEFAULT 0,
  messages_received   integer NOT NULL DEFAULT 0,
  messages_filtered   integer NOT NULL DEFAULT 0,
  messages_dropped    integer NOT NULL DEFAULT 0,
  messages_succeeded  integer NOT NULL DEFAULT 0,
  messages_failed     integer NOT NULL DEFAULT 0,
  PRIMARY KEY (pipe, minute)
);

-- Body → jsonb, NULL when it is not JSON: the DLQ move records campaign/contact when it can.
CREATE FUNCTION try_jsonb(body text) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  RETURN body::jsonb;
EXCEPTION WHEN others THEN
  RETURN NULL;
END;
$$;

-- Down Migration
DROP FUNCTION try_jsonb(text);
DROP TABLE pipe_metrics, pipes, queue_move_tasks, queue_messages, queues;
