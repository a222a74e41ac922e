-- Up Migration
-- The worker's per-call statements (gate_lock, gate_claim, finish_call and contact_after_call of
-- 0015_call_functions.sql) find their one row by its key, whatever the tables' statistics say
-- (issue #17). A PL/pgSQL function plans each statement once per session, generically; on a table
-- that is new or was never analyzed (a fresh local stack, a bench run, a new stage before its
-- first autovacuum) every index whose leading column a statement names ties with the primary key
-- at "1 row", and PostgreSQL took the other one and kept it for the connection's life:
--   gate_lock's and gate_claim's contact by (campaign_id, id) through contacts_campaign_phone_idx
--   on campaign_id alone, gate_claim's earlier-call check through call_attempts_campaign_idx on
--   campaign_id alone — each read every row of the campaign (331 buffers per call after 600 calls,
--   growing with every call) —, finish_call's call row through all of call_attempts_open_idx, and
--   contact_after_call's contact through contacts_campaign_inflight_idx.
-- So no secondary index here is reachable from those statements: the unique number index leads
-- with the number, the calls-by-time index with the time, and each partial index carries a
-- condition (always true for its rows, the column being NOT NULL or set by every claim) that its
-- readers state and the per-call statements never do. Checked on new and on filled tables by
-- test/integration/call-plans.test.ts.
--
-- Each secondary index also costs an insert on every status change (none of these updates is
-- HOT: status is indexed); contacts_campaign_inflight_idx has had no reader since the in-flight
-- counts moved to contact_counts (0008), and goes.

DROP INDEX contacts_campaign_inflight_idx;

-- One contact per number in a campaign (push and import absorb a repeat through it). Readers
-- name the number: pushed-contacts.ts, contacts-insert.ts.
CREATE UNIQUE INDEX contacts_phone_campaign_idx ON contacts (phone_number, campaign_id);
DROP INDEX contacts_campaign_phone_idx;

-- Crash recovery (src/dispatch/recovery.ts): contacts queued / dialing since before a cutoff.
-- Its `status_changed_at < cutoff` implies the second condition; contact_after_call's
-- `status = 'dialing'` alone does not.
DROP INDEX contacts_inflight_idx;
CREATE INDEX contacts_inflight_idx ON contacts (status, status_changed_at)
  WHERE status IN ('queued', 'dialing') AND status_changed_at IS NOT NULL;

-- Calls started since an instant (a load test's results, src/control/data-outcomes.ts).
DROP INDEX call_attempts_campaign_idx;
CREATE INDEX call_attempts_started_idx ON call_attempts (started_at);

-- A worker's open calls (failOpenCalls, recoverOpenCalls in src/calls/): they name the worker,
-- which implies worker_id IS NOT NULL; finish_call's `call_id = … AND status = 'dialing'` does not.
DROP INDEX call_attempts_open_idx;
CREATE INDEX call_attempts_open_idx ON call_attempts (worker_id)
  WHERE status = 'dialing' AND worker_id IS NOT NULL;

-- Down Migration
DROP INDEX call_attempts_open_idx;
CREATE INDEX call_attempts_open_idx ON call_attempts (worker_id) WHERE status = 'dialing';
DROP INDEX call_attempts_started_idx;
CREATE INDEX call_attempts_campaign_idx ON call_attempts (campaign_id, started_at DESC);
DROP INDEX contacts_inflight_idx;
CREATE INDEX contacts_inflight_idx ON contacts (status, status_changed_at) WHERE status IN ('queued', 'dialing');
CREATE UNIQUE INDEX contacts_campaign_phone_idx ON contacts (campaign_id, phone_number);
DROP INDEX contacts_phone_campaign_idx;
CREATE INDEX contacts_campaign_inflight_idx ON contacts (campaign_id, status) WHERE status IN ('queued', 'dialing');
