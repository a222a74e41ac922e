-- Up Migration
-- The status CHECKs of the two tables every call writes four times (call_attempts insert and
-- finish, the contact's claim and move; issue #17), with the same allowed values, written as one
-- array constant instead of a list. PostgreSQL keeps a CHECK as its stored expression tree and
-- reads it back for every statement that writes the table (ExecConstraints: stringToNode, then
-- constant folding, per statement, not per session). `status IN ('a', 'b', …)` is stored as an
-- ARRAY[...] of one node per value, rebuilt into an array each time; `status = ANY ('{a,b,…}')` is
-- one constant. Measured under callgrind on the worker's statements (claim, donation, finish):
-- 2.16 → 2.08 million instructions of PostgreSQL per call. The values are unchanged.
ALTER TABLE contacts
  DROP CONSTRAINT contacts_status_check,
  ADD CONSTRAINT contacts_status_check
    CHECK (status = ANY ('{pending,queued,dialing,done,failed}'::text[]));
ALTER TABLE call_attempts
  DROP CONSTRAINT call_attempts_status_check,
  ADD CONSTRAINT call_attempts_status_check
    CHECK (status = ANY ('{answered,busy,congestion,dialing,failed,machine,no-answer}'::text[]));

-- Down Migration
ALTER TABLE call_attempts
  DROP CONSTRAINT call_attempts_status_check,
  ADD CONSTRAINT call_attempts_status_check
    CHECK (status IN ('answered', 'busy', 'congestion', 'dialing', 'failed', 'machine', 'no-answer'));
ALTER TABLE contacts
  DROP CONSTRAINT contacts_status_check,
  ADD CONSTRAINT contacts_status_check CHECK (status IN ('pending', 'queued', 'dialing', 'done', 'failed'));
