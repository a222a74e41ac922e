-- Up Migration
-- The dial gate (issue #11): callee time zones on contacts, and worker identity with heartbeats.

-- The callee's zone(s). `timezone`: an explicit IANA zone given at import (CSV column `timezone`,
-- `push --timezone`); it wins. `number_timezones`: the zones libphonenumber maps the number's prefix
-- to, computed when the contact is written (the data file is not in a Lambda bundle; see
-- src/campaigns/callee-zones.ts). Neither set: the campaign's zone applies.
ALTER TABLE contacts
  ADD COLUMN timezone text,
  ADD COLUMN number_timezones text[];

-- One row per worker process (or local stack): recovery closes only the open calls of its own id
-- or of ids whose heartbeat stopped (proven dead), never those of a live peer.
CREATE TABLE workers (
  worker_id     text PRIMARY KEY,
  -- 'worker' (worker/main.ts) or 'local-stack' (dialctl dev)
  kind          text NOT NULL,
  host          text NOT NULL,
  pid           integer NOT NULL,
  started_at    timestamptz NOT NULL DEFAULT now(),
  heartbeat_at  timestamptz NOT NULL DEFAULT now(),
  -- set on a clean stop: the id is not running any more
  stopped_at    timestamptz
);

-- call_attempts already carries UNIQUE (campaign_id, contact_id, attempt) (0001): the gate's
-- "never claimed before" is that constraint, whatever the call id looks like.

-- Down Migration
DROP TABLE workers;
ALTER TABLE contacts DROP COLUMN number_timezones, DROP COLUMN timezone;
