-- Up Migration
-- The local queue carries each message's X-Ray trace header, as SQS carries the AWSTraceHeader
-- system attribute: the local pipe hands it to enrich in the record's attributes, a deferral
-- re-sends it, and a move to the DLQ (an UPDATE of the row) keeps it. NULL when the sender set
-- none (tracing off): no cost beyond the NULL bitmap.
ALTER TABLE queue_messages ADD COLUMN trace_header text;
