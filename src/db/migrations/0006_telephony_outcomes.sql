-- Up Migration
-- Telephony outcomes at their real edges (issue #14):
--  * status 'machine': answering-machine detection (AMD) classified the answer as a machine;
--  * reason: why a failed call failed, in one word the pacing and doctor can count
--    ('media' = the prompt could not be played, 'telephony-restart' = Asterisk went away, …);
--  * ended_by: what ended an answered call (the IVR runner's end reason, 'telephony-restart',
--    'worker-restart' for a channel a restarted worker found and hung up).
ALTER TABLE call_attempts DROP CONSTRAINT call_attempts_status_check;
ALTER TABLE call_attempts ADD CONSTRAINT call_attempts_status_check
  CHECK (status IN ('answered', 'busy', 'congestion', 'dialing', 'failed', 'machine', 'no-answer'));
ALTER TABLE call_attempts ADD COLUMN reason text;
ALTER TABLE call_attempts ADD COLUMN ended_by text;
-- doctor and the media-failure metric count recent failures per campaign and reason
CREATE INDEX call_attempts_reason_idx ON call_attempts (campaign_id, reason, ended_at DESC)
  WHERE reason IS NOT NULL;
-- amd per campaign lives in campaigns.config (jsonb): no column needed.

-- Down Migration
DROP INDEX call_attempts_reason_idx;
ALTER TABLE call_attempts DROP COLUMN ended_by;
ALTER TABLE call_attempts DROP COLUMN reason;
ALTER TABLE call_attempts DROP CONSTRAINT call_attempts_status_check;
ALTER TABLE call_attempts ADD CONSTRAINT call_attempts_status_check
  CHECK (status IN ('dialing', 'answered', 'no-answer', 'busy', 'congestion', 'failed'));
