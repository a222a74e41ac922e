-- Up Migration
-- queue_delete (0014_queue_functions.sql) paired each row with the handle at array_position of its
-- id, the first only: a batch holding a message twice (a stale handle, then the current one)
-- deleted nothing, where SQS's DeleteMessageBatch deletes it. Each (id, handle) pair is tried now;
-- the rows are still found by primary key.
CREATE OR REPLACE FUNCTION queue_delete(p_queue text, p_ids bigint[], p_handles uuid[])
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE deleted integer;
BEGIN
  DELETE FROM queue_messages m
   WHERE m.id = ANY (p_ids)
     AND EXISTS (SELECT 1 FROM unnest(p_ids, p_handles) AS h(id, handle)
                  WHERE h.id = m.id AND h.handle = m.receipt_handle)
     AND m.queue IS NOT DISTINCT FROM p_queue;
  GET DIAGNOSTICS deleted = ROW_COUNT;
  RETURN deleted;
END $$;

-- Down Migration
CREATE OR REPLACE FUNCTION queue_delete(p_queue text, p_ids bigint[], p_handles uuid[])
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
