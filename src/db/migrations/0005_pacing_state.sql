-- Up Migration
-- The operator's CPS limit and hold, durable (issue #12). PostgreSQL is the source of truth;
-- Redis's cps:limit is a copy every dialer reads, restored from here when Redis lost it (restart,
-- failover, eviction). Without a row, nobody ever set a limit and MAX_CPS applies.
-- One row per pacing scope: the Redis key prefix (stages or tests sharing one Redis).
CREATE TABLE pacing_state (
  scope          text PRIMARY KEY DEFAULT '',
  cps_limit      integer NOT NULL CHECK (cps_limit >= 1),
  -- a manual hold (`cps set`): the adaptive pacer leaves the limit alone until it ends
  held_by        text,
  held_since     timestamptz,
  -- NULL with held_by set: held until `cps auto --resume`
  held_until     timestamptz,
  hold_reason    text,
  changed_at     timestamptz NOT NULL DEFAULT now(),
  changed_by     text NOT NULL,
  change_source  text NOT NULL,
  change_reason  text NOT NULL,
  CHECK (held_by IS NOT NULL OR (held_until IS NULL AND held_since IS NULL))
);

-- Down Migration
DROP TABLE pacing_state;
