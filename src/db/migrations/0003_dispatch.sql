-- Up Migration
-- The dispatcher paces each campaign against what it already has queued or dialing; counting
-- those per campaign must not scan the campaign's (possibly millions of) contacts.
CREATE INDEX contacts_campaign_inflight_idx ON contacts (campaign_id, status)
  WHERE status IN ('queued', 'dialing');

-- Down Migration
DROP INDEX contacts_campaign_inflight_idx;
