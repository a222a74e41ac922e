-- Up Migration
-- Spans of dial tasks recorded by the local stack (`dialctl dev --trace`); on AWS they go to X-Ray.
-- One row per span; `dialctl trace CALL_ID` finds the trace through the call id and prints it.
CREATE TABLE trace_spans (
  trace_id    text NOT NULL,
  span_id     text NOT NULL,
  parent_id   text,
  name        text NOT NULL,
  call_id     text,
  started_at  timestamptz NOT NULL,
  ended_at    timestamptz NOT NULL,
  attributes  jsonb NOT NULL DEFAULT '{}'::jsonb,
  PRIMARY KEY (trace_id, span_id)
);
CREATE INDEX trace_spans_call_idx ON trace_spans (call_id) WHERE call_id IS NOT NULL;
