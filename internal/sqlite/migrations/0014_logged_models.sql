-- MLflow 3 logged models (internal/mlflowapi): a model an experiment
-- logged, whose files live under artifact_location in the artifact store.
-- SQLite dialect; internal/postgres/migrations has the same table under the
-- same file name.
--
-- id is m-<32 hex>. status is PENDING, READY or FAILED. params and tags are
-- JSON objects; metric_points is the JSON array of every metric point
-- logged to the model ({key, value, timestamp, step, dataset_name,
-- dataset_digest, run_id}), and metrics the latest value of each key
-- (derived from metric_points on every write) for filters and ordering.
CREATE TABLE logged_models (
    id                TEXT    PRIMARY KEY,
    experiment_id     TEXT    NOT NULL,
    name              TEXT    NOT NULL,
    model_type        TEXT    NOT NULL DEFAULT '',
    source_run_id     TEXT    NOT NULL DEFAULT '',
    status            TEXT    NOT NULL,
    status_message    TEXT    NOT NULL DEFAULT '',
    artifact_location TEXT    NOT NULL,
    params            TEXT    NOT NULL DEFAULT '{}',
    tags              TEXT    NOT NULL DEFAULT '{}',
    metrics           TEXT    NOT NULL DEFAULT '{}',
    metric_points     TEXT    NOT NULL DEFAULT '[]',
    created_by        TEXT    NOT NULL DEFAULT '',
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    deleted_at        INTEGER
);
-- Search's default order within experiments: newest first.
CREATE INDEX logged_models_search ON logged_models (experiment_id, created_at DESC, id) WHERE deleted_at IS NULL;
-- register_model("runs:/…") looks for the models a run produced.
CREATE INDEX logged_models_run ON logged_models (source_run_id) WHERE source_run_id <> '';
