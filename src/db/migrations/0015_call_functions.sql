-- Up Migration
-- The worker's per-call statements as PL/pgSQL functions (issue #17), for the reason of
-- 0014_queue_functions.sql: an unnamed statement is parsed and planned on every call (the call's
-- finish alone took 0.22 ms of planning, more than its execution), named (prepared) statements
-- break the embedded PostgreSQL, and a function keeps its plans per session. Each function is the
-- statement it replaces, unchanged in what it reads, locks and writes; the rules that decide
-- stay in TypeScript (src/calls/gate.ts), except the contact's move after a call, which was SQL
-- already and now lives here once for every caller.

-- The dial gate's locking read (src/calls/gate-statements.ts, lockFacts): the campaign FOR SHARE,
-- then the contact FOR UPDATE, as JSON rows (NULL when missing). Of the campaign's config only
-- what the gate reads (callingWindows, maxAttemptsPerContact), not the IVR flow it does not.
CREATE FUNCTION gate_lock(p_campaign_id text, p_contact_id text, OUT campaign json, OUT contact json)
LANGUAGE plpgsql AS $$
BEGIN
  SELECT row_to_json(cp) INTO campaign
    FROM (SELECT status, timezone,
                 -- each key only when the config has it: a missing key stays missing for the gate
                 (CASE WHEN config ? 'callingWindows'
                       THEN jsonb_build_object('callingWindows', config->'callingWindows') ELSE '{}' END
                  || CASE WHEN config ? 'maxAttemptsPerContact'
                       THEN jsonb_build_object('maxAttemptsPerContact', config->'maxAttemptsPerContact')
                       ELSE '{}' END) AS config
            FROM campaigns WHERE id = p_campaign_id FOR SHARE) cp;
  SELECT row_to_json(ct) INTO contact
    FROM (SELECT phone_number, status, attempts, timezone, number_timezones
            FROM contacts WHERE campaign_id = p_campaign_id AND id = p_contact_id FOR UPDATE) ct;
END $$;

-- The gate's late reads and the claim, one statement (gate-statements.ts, seeAndClaim): whether
-- the number is blacklisted and the attempt's existing call, read after gate_lock's locks are held
-- (a fresh snapshot); when p_admit (every other rule held) and neither says otherwise, the call
-- row 'dialing' and the contact queued/pending → dialing at this attempt. With p_admit false it
-- only reads (the adoption of an orphan call row).
CREATE FUNCTION gate_claim(p_phone_number text, p_campaign_id text, p_contact_id text, p_attempt integer,
                           p_call_id text, p_worker_id text, p_admit boolean,
                           OUT blacklisted boolean, OUT call_id text, OUT claimed boolean)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
  WITH seen AS (
    SELECT EXISTS (SELECT 1 FROM blacklist WHERE phone_number = p_phone_number) AS blacklisted,
           (SELECT a.call_id FROM call_attempts a
             WHERE a.campaign_id = p_campaign_id AND a.contact_id = p_contact_id AND a.attempt = p_attempt) AS call_id
  ), call AS (
    INSERT INTO call_attempts (call_id, campaign_id, contact_id, attempt, phone_number, status, worker_id)
    SELECT p_call_id, p_campaign_id, p_contact_id, p_attempt, p_phone_number, 'dialing', p_worker_id FROM seen
     WHERE p_admit AND NOT seen.blacklisted AND seen.call_id IS NULL
    ON CONFLICT DO NOTHING
    RETURNING 1
  ), moved AS (
    UPDATE contacts SET status = 'dialing', attempts = p_attempt + 1, status_changed_at = now()
     WHERE campaign_id = p_campaign_id AND id = p_contact_id AND attempts = p_attempt
       AND status IN ('queued', 'pending') AND EXISTS (SELECT 1 FROM call)
    RETURNING 1
  )
  SELECT seen.blacklisted, seen.call_id, EXISTS (SELECT 1 FROM call)
    INTO blacklisted, call_id, claimed
    FROM seen;
END $$;

-- The contact's move out of 'dialing' after a call of attempt p_attempt (docs/contact-states.md):
-- answered → done; else failed at maxAttemptsPerContact, otherwise pending again after
-- retryDelayMinutes — both read from the campaign's config, the defaults given by the caller
-- (src/calls/recorder.ts). Only the attempt this call belongs to moves: a late finish must not
-- move a newer attempt. Returns the contact's new status, NULL when it did not move.
CREATE FUNCTION contact_after_call(p_campaign_id text, p_contact_id text, p_attempt integer,
                                   p_answered boolean, p_outcome text,
                                   p_default_max_attempts integer, p_default_retry_minutes integer)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE moved text;
BEGIN
  UPDATE contacts c SET
    status = CASE
      WHEN p_answered THEN 'done'
      WHEN c.attempts >= COALESCE((cp.config->>'maxAttemptsPerContact')::int, p_default_max_attempts) THEN 'failed'
      ELSE 'pending' END,
    next_attempt_at = CASE
      WHEN NOT p_answered
        AND c.attempts < COALESCE((cp.config->>'maxAttemptsPerContact')::int, p_default_max_attempts)
      THEN now() + make_interval(mins => COALESCE((cp.config->>'retryDelayMinutes')::int, p_default_retry_minutes))
      ELSE c.next_attempt_at END,
    last_outcome = p_outcome,
    status_changed_at = now()
  FROM campaigns cp
  WHERE c.campaign_id = p_campaign_id AND c.id = p_contact_id AND cp.id = c.campaign_id
    AND c.status = 'dialing' AND c.attempts = p_attempt + 1
  RETURNING c.status INTO moved;
  RETURN moved;
END $$;

-- How a call ended (src/calls/recorder.ts, finishCall): the call row, only while 'dialing' (a
-- second finish changes nothing), then the contact's move. A voicemail left on a machine reached
-- the contact: done, like a human answer. recorded: the call row changed; contact_status: the
-- contact's new status, NULL when it did not move.
CREATE FUNCTION finish_call(p_call_id text, p_status text, p_hangup_cause integer, p_digit text,
                            p_actions jsonb, p_error text, p_answered_at timestamptz, p_duration_ms integer,
                            p_reason text, p_ended_by text,
                            p_default_max_attempts integer, p_default_retry_minutes integer,
                            OUT recorded boolean, OUT contact_status text)
LANGUAGE plpgsql AS $$
DECLARE
  v_campaign_id text;
  v_contact_id text;
  v_attempt integer;
BEGIN
  UPDATE call_attempts SET
    status = p_status, hangup_cause = p_hangup_cause, digit = p_digit, actions = p_actions, error = p_error,
    answered_at = p_answered_at, ended_at = now(), duration_ms = p_duration_ms, reason = p_reason,
    ended_by = p_ended_by
  WHERE call_id = p_call_id AND status = 'dialing'
  RETURNING campaign_id, contact_id, attempt INTO v_campaign_id, v_contact_id, v_attempt;
  recorded := FOUND;
  IF recorded THEN
    contact_status := contact_after_call(v_campaign_id, v_contact_id, v_attempt,
      p_status = 'answered' OR (p_status = 'machine' AND p_ended_by IS NOT DISTINCT FROM 'voicemail-left'), p_status,
      p_default_max_attempts, p_default_retry_minutes);
  END IF;
END $$;

-- Down Migration
DROP FUNCTION finish_call(text, text, integer, text, jsonb, text, timestamptz, integer, text, text, integer, integer);
DROP FUNCTION contact_after_call(text, text, integer, boolean, text, integer, integer);
DROP FUNCTION gate_claim(text, text, text, integer, text, text, boolean);
DROP FUNCTION gate_lock(text, text);
