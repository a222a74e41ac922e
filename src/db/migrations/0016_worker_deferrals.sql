-- Worker deferrals per minute (issue #16): a worker that answers 429 / 503 draining to every
-- POST /dial defers tasks by its Retry-After without spending a receive, so nothing fails and
-- nothing reaches the DLQ. The dialer's counts of such deferrals and of accepted dials, per pipe
-- minute, let `status` and `doctor` tell a refusing worker from a busy moment.
ALTER TABLE pipe_metrics
  ADD COLUMN tasks_dialed     integer NOT NULL DEFAULT 0,
  ADD COLUMN worker_deferrals integer NOT NULL DEFAULT 0;
