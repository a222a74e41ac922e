-- Up Migration
-- Campaigns, contacts, attempts, outcomes, blacklist and the pacing audit.
-- Every object is unqualified: the runner sets search_path, so tests can give each run its own schema.

CREATE TABLE campaigns (
  id          text PRIMARY KEY,
  name        text NOT NULL,
  type        text NOT NULL DEFAULT 'voice',
  status      text NOT NULL DEFAULT 'draft'
              CHECK (status IN ('draft', 'active', 'paused', 'completed', 'cancelled')),
  config      jsonb NOT NULL,
  timezone    text NOT NULL,
  -- load tests may only target campaigns marked as test campaigns
  is_test     boolean NOT NULL DEFAULT false,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Each lifecycle move (draft → active, pause, resume, …): who, when, why.
CREATE TABLE campaign_events (
  id           bigserial PRIMARY KEY,
  campaign_id  text NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
  from_status  text,
  to_status    text NOT NULL,
  reason       text,
  actor        text NOT NULL,
  at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX campaign_events_campaign_idx ON campaign_events (campaign_id, at DESC);

CREATE TABLE contacts (
  campaign_id      text NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
  id               text NOT NULL,
  phone_number     text NOT NULL,
  metadata         jsonb NOT NULL DEFAULT '{}'::jsonb,
  status           text NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'queued', 'dialing', 'done', 'failed')),
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  last_outcome     text,
  status_changed_at timestamptz NOT NULL DEFAULT now(),
  created_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (campaign_id, id)
);
-- The dispatcher's eligibility scan: pending contacts whose next attempt is due, per campaign.
CREATE INDEX contacts_eligible_idx ON contacts (campaign_id, next_attempt_at) WHERE status = 'pending';
-- Crash recovery: contacts stuck queued / dialing.
CREATE INDEX contacts_inflight_idx ON contacts (status, status_changed_at) WHERE status IN ('queued', 'dialing');
CREATE UNIQUE INDEX contacts_campaign_phone_idx ON contacts (campaign_id, phone_number);

CREATE TABLE blacklist (
  phone_number  text PRIMARY KEY,
  reason        text NOT NULL,
  source        text NOT NULL,
  campaign_id   text,
  added_at      timestamptz NOT NULL DEFAULT now()
);

-- One row per dial of a contact attempt. The unique key is the dial's idempotency key:
-- a redelivered task finds its row and is not dialed again.
CREATE TABLE call_attempts (
  call_id       text PRIMARY KEY,
  campaign_id   text NOT NULL,
  contact_id    text NOT NULL,
  attempt       integer NOT NULL,
  phone_number  text NOT NULL,
  status        text NOT NULL DEFAULT 'dialing'
                CHECK (status IN ('dialing', 'answered', 'no-answer', 'busy', 'congestion', 'failed')),
  hangup_cause  integer,
  digit         text,
  actions       jsonb NOT NULL DEFAULT '[]'::jsonb,
  error         text,
  worker_id     text,
  started_at    timestamptz NOT NULL DEFAULT now(),
  answered_at   timestamptz,
  ended_at      timestamptz,
  duration_ms   integer,
  UNIQUE (campaign_id, contact_id, attempt)
);
CREATE INDEX call_attempts_campaign_idx ON call_attempts (campaign_id, started_at DESC);
CREATE INDEX call_attempts_open_idx ON call_attempts (worker_id) WHERE status = 'dialing';

CREATE TABLE donations (
  id           bigserial PRIMARY KEY,
  call_id      text NOT NULL UNIQUE REFERENCES call_attempts(call_id),
  campaign_id  text NOT NULL,
  contact_id   text NOT NULL,
  parameters   jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at   timestamptz NOT NULL DEFAULT now()
);

-- Every dial task's fate, so none is lost silently: dialed, filtered, dropped (with reason),
-- rate-limited / failed (retried), dlq.
CREATE TABLE task_outcomes (
  id           bigserial PRIMARY KEY,
  message_id   text,
  campaign_id  text,
  contact_id   text,
  attempt      integer,
  stage        text NOT NULL,
  outcome      text NOT NULL,
  reason       text,
  call_id      text,
  at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX task_outcomes_at_idx ON task_outcomes (at DESC);
CREATE INDEX task_outcomes_contact_idx ON task_outcomes (campaign_id, contact_id);

CREATE TABLE pacing_audit (
  id         bigserial PRIMARY KEY,
  at         timestamptz NOT NULL DEFAULT now(),
  actor      text NOT NULL,
  source     text NOT NULL,
  old_limit  integer,
  new_limit  integer NOT NULL,
  reason     text NOT NULL
);
CREATE INDEX pacing_audit_at_idx ON pacing_audit (at DESC);

-- Down Migration
DROP TABLE pacing_audit, task_outcomes, donations, call_attempts, blacklist, contacts, campaign_events, campaigns;
