-- Up Migration
-- The local queue's hot statements as PL/pgSQL functions (issue #17). node-postgres sends an
-- unnamed statement on every call, so PostgreSQL parses and plans the full text each time — on
-- this queue that was as much server CPU as the work itself — and named (prepared) statements are
-- out: the embedded PostgreSQL serves every connection from one session, where a second client's
-- PREPARE of the same name fails. A PL/pgSQL function keeps its statements' plans per session,
-- and the call parses in microseconds.
--
-- The plans are also made not to hinge on the table's statistics, which a queue table always has
-- wrong (it empties and fills between two ANALYZEs): with none, `queue = $1` looks like 2 rows,
-- and PostgreSQL scanned every visible message of the queue through a bitmap and sorted them all
-- to receive 10, or hashed the whole queue to delete 10. Receive runs with bitmap scans off (the
-- ready index gives the order, LIMIT stops after 10), and delete finds its rows by primary key.

-- SQS ReceiveMessage: up to p_max visible messages of p_queue, oldest first, skipping rows other
-- consumers hold; each received gets receive count + 1, a new receipt handle and is hidden for
-- p_visibility seconds (the queue's visibility timeout when NULL) — except those already received
-- maxReceiveCount times: they are only reported (due), for the move to the DLQ
-- (src/queue/pg/receive.ts). Times as epoch ms.
CREATE FUNCTION queue_receive(p_queue text, p_max integer, p_visibility double precision)
RETURNS TABLE (id bigint, message_id uuid, receipt_handle uuid, body text, receive_count integer,
               sent_ms double precision, first_ms double precision, moved_from text, due boolean,
               trace_header text)
LANGUAGE plpgsql SET enable_bitmapscan = off AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  WITH q AS (
    SELECT dead_letter_queue AS dlq, max_receive_count AS mrc,
           coalesce(p_visibility, visibility_timeout_seconds) AS vis
      FROM queues WHERE name = p_queue
  ), picked AS (
    SELECT m.id, m.receive_count AS rc
      FROM queue_messages m
     WHERE m.queue = p_queue AND m.visible_at <= now()
     ORDER BY m.visible_at, m.id
     LIMIT p_max
     FOR UPDATE SKIP LOCKED
  ), judged AS (
    SELECT p.id, (q.dlq IS NOT NULL AND p.rc >= q.mrc) AS due, q.vis FROM picked p, q
  ), got AS (
    UPDATE queue_messages m
       SET receive_count = m.receive_count + 1, receipt_handle = gen_random_uuid(),
           first_received_at = coalesce(m.first_received_at, now()),
           visible_at = now() + make_interval(secs => j.vis)
      FROM judged j
     WHERE m.id = j.id AND NOT j.due
    RETURNING m.id, m.message_id, m.receipt_handle, m.body, m.receive_count,
              (extract(epoch FROM m.sent_at) * 1000)::float8 AS sent_ms,
              (extract(epoch FROM m.first_received_at) * 1000)::float8 AS first_ms,
              m.moved_from, m.trace_header
  )
  SELECT g.id, g.message_id, g.receipt_handle, g.body, g.receive_count, g.sent_ms, g.first_ms,
         g.moved_from, false, g.trace_header
    FROM got g
  UNION ALL
  SELECT j.id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, true, NULL FROM judged j WHERE j.due;
END $$;

-- SQS SendMessageBatch: one row per entry, visible after its delay (seconds). Inserts nothing when
-- p_queue does not exist (the caller reports QueueDoesNotExist). Returns the rows inserted.
CREATE FUNCTION queue_send(p_queue text, p_ids uuid[], p_bodies text[], p_delays double precision[],
                           p_headers text[])
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE inserted integer;
BEGIN
  INSERT INTO queue_messages (queue, message_id, body, visible_at, trace_header)
  SELECT p_queue, t.id, t.body, now() + make_interval(secs => t.delay), t.header
    FROM unnest(p_ids, p_bodies, p_delays, p_headers) AS t(id, body, delay, header)
   WHERE EXISTS (SELECT 1 FROM queues WHERE name = p_queue);
  GET DIAGNOSTICS inserted = ROW_COUNT;
  RETURN inserted;
END $$;

-- SQS DeleteMessageBatch: the rows p_ids whose current receipt handle is the one at the same
-- position of p_handles; a stale handle deletes nothing. Found by primary key; the queue is a
-- filter only (IS NOT DISTINCT FROM: never the ready index, see above). Returns the rows deleted.
CREATE FUNCTION queue_delete(p_queue text, p_ids bigint[], p_handles uuid[])
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE deleted integer;
BEGIN
  DELETE FROM queue_messages m
   WHERE m.id = ANY (p_ids)
     AND m.receipt_handle = p_handles[array_position(p_ids, m.id)]
     AND m.queue IS NOT DISTINCT FROM p_queue;
  GET DIAGNOSTICS deleted = ROW_COUNT;
  RETURN deleted;
END $$;

-- Down Migration
DROP FUNCTION queue_delete(text, bigint[], uuid[]);
DROP FUNCTION queue_send(text, uuid[], text[], double precision[], text[]);
DROP FUNCTION queue_receive(text, integer, double precision);
