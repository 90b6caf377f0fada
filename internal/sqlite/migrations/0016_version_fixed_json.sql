-- A ready version's fixed fields (kind through created_at of the version
-- record), encoded once as the API renders them (cairn.Version.EncodeFixed):
-- reads that only render versions (the native API's resolve, get and list)
-- splice it in instead of decoding the JSON columns and encoding them again.
-- It is written in the transaction that makes the version ready. Versions
-- made ready before this migration get it from the store's backfill when it
-- opens the database; this index finds those still missing it, and is
-- empty once they are done.
ALTER TABLE versions ADD COLUMN fixed_json TEXT;
CREATE INDEX versions_fixed_json_missing ON versions (id) WHERE status = 'ready' AND fixed_json IS NULL;
