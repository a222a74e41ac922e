-- Up Migration
-- A donation's call is no longer checked by a foreign key (issue #17). The only writer is the
-- worker's IVR (trigger_donation, src/calls/recorder.ts recordDonation), for the call it is running,
-- whose call_attempts row it claimed at the dial gate before dialing; call_attempts rows are never
-- deleted. The key's check cost each donation a probe of call_attempts_pkey and a FOR KEY SHARE lock
-- on the call row (a WAL record, the heap page dirtied) just before finish_call updates that row:
-- 2.08 → 2.03 million PostgreSQL instructions per call under callgrind (claim, donation, finish).
-- donations.call_id stays UNIQUE: one donation per call, a replayed digit does not double it.
ALTER TABLE donations DROP CONSTRAINT donations_call_id_fkey;

-- Down Migration
ALTER TABLE donations ADD CONSTRAINT donations_call_id_fkey FOREIGN KEY (call_id) REFERENCES call_attempts(call_id);
