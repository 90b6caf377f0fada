-- Same file in internal/sqlite/migrations.
--
-- A search of versions across all models in time order (MLflow's
-- search_model_versions orders by last_updated_timestamp DESC unless told
-- otherwise; created_at is the native API's "newest first") walks one of
-- these indexes and stops after a page, instead of sorting every version
-- that matches the filter: at 100k versions, 300 ms became 5 ms per page.
CREATE INDEX versions_updated ON versions (updated_at DESC);
CREATE INDEX versions_created ON versions (created_at DESC);
