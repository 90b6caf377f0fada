-- Same file name in internal/sqlite/migrations and internal/postgres/migrations.
--
-- dataset_metrics: the latest value of each metric of a logged model on
-- each dataset (name and digest) it was logged on, a JSON array of
-- {key, dataset_name, dataset_digest, value, step, timestamp} derived
-- from metric_points on every write (sqlfilter.DatasetMetrics), which
-- MLflow 3's search_logged_models(datasets=...) and its order_by on a
-- dataset read. Models logged before this migration get it from the
-- store's backfill when it opens the database; this index finds those
-- still missing it, and is empty once they are done.
ALTER TABLE logged_models ADD COLUMN dataset_metrics TEXT;
CREATE INDEX logged_models_dataset_metrics_missing ON logged_models (id) WHERE dataset_metrics IS NULL;
