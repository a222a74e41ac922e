-- Which import, and which line of its file, each contact came from (issue #13). An import of an
-- uploaded file runs over several control-function invocations; a later invocation no longer holds
-- the ids and numbers the earlier ones read, so it asks the table: a row repeating the id or number
-- of a contact an earlier line of the same import inserted is refused naming that line, exactly as
-- one invocation refuses it — not counted as a contact already in the campaign.
-- Nullable, no default: adding them rewrites nothing, whatever the table holds. Contacts imported
-- any other way (a local file, rows sent inline, push) leave them null.
ALTER TABLE contacts
  ADD COLUMN import_id uuid,
  ADD COLUMN import_line integer;
