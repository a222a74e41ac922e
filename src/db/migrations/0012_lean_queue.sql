-- Up Migration
-- The local queue's per-message cost near a plain SKIP LOCKED queue's (issue #17). Every receive
-- writes a new row version (visible_at is indexed, so no HOT update), and a new version gets an
-- entry in every index: the two random-UUID unique indexes and the foreign key's per-row check
-- (which also share-locks the queues row from every sending transaction) cost more than the
-- queue work itself. What they guarded is kept another way:
-- - receipt handles name their row (`<id>.<uuid>`, src/queue/pg/handles.ts): lookups go through
--   the primary key and compare the uuid, so a stale handle still matches nothing;
-- - message ids are random UUIDs (122 random bits) made by the sender: nothing looks a message up
--   by its id in the hot path, and a collision is not a practical concern;
-- - a send names an existing queue: the INSERT checks it once per statement (PgQueue.insert), and
--   nothing deletes queues.
ALTER TABLE queue_messages DROP CONSTRAINT queue_messages_queue_fkey;
ALTER TABLE queue_messages DROP CONSTRAINT queue_messages_message_id_key;
ALTER TABLE queue_messages DROP CONSTRAINT queue_messages_receipt_handle_key;

-- Down Migration
ALTER TABLE queue_messages ADD CONSTRAINT queue_messages_receipt_handle_key UNIQUE (receipt_handle);
ALTER TABLE queue_messages ADD CONSTRAINT queue_messages_message_id_key UNIQUE (message_id);
ALTER TABLE queue_messages ADD CONSTRAINT queue_messages_queue_fkey
  FOREIGN KEY (queue) REFERENCES queues(name) ON DELETE CASCADE;
