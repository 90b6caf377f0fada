-- MLflow tracking (internal/mlflowapi): experiments, and what runs gained to
-- be MLflow runs. PostgreSQL dialect; internal/sqlite/migrations has the
-- same tables under the same file name.

-- An experiment groups runs. Ids are decimal strings allocated from the
-- 'experiment' counter (its row lock serializes allocations across
-- replicas); "0" is the default experiment, which exists from the start.
-- Names are unique among all experiments, deleted ones included, as
-- MLflow's are.
CREATE TABLE experiments (
    id                TEXT   COLLATE "C" PRIMARY KEY,
    name              TEXT   COLLATE "C" NOT NULL UNIQUE,
    artifact_location TEXT   NOT NULL,
    tags              JSONB  NOT NULL DEFAULT '{}',
    created_by        TEXT   NOT NULL DEFAULT '',
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    deleted_at        BIGINT
);
-- Search's default order: newest first.
CREATE INDEX experiments_created ON experiments (created_at DESC, id);

INSERT INTO experiments (id, name, artifact_location, created_at, updated_at)
VALUES ('0', 'Default', 'mlflow-artifacts:/0',
        (EXTRACT(EPOCH FROM now()))::bigint * 1000000, (EXTRACT(EPOCH FROM now()))::bigint * 1000000);

-- Runs created before experiments existed named experiments by id only:
-- give each such id an experiment, so every run has one.
INSERT INTO experiments (id, name, artifact_location, created_at, updated_at)
SELECT experiment_id, 'Experiment ' || experiment_id, 'mlflow-artifacts:/' || experiment_id,
       MIN(created_at), MAX(updated_at)
FROM runs WHERE experiment_id NOT IN (SELECT id FROM experiments) GROUP BY experiment_id;

INSERT INTO counters (name, value)
SELECT 'experiment', COALESCE(MAX(id::bigint), 0) FROM experiments
WHERE id ~ '^[0-9]{1,18}$';

-- user_id is the user the client says started the run (MLflow's user_id);
-- inputs holds {"datasets": [...], "models": [...]} (log-inputs), outputs
-- the logged models the run produced (log-outputs).
ALTER TABLE runs ADD COLUMN user_id TEXT  NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN inputs  JSONB NOT NULL DEFAULT '{}';
ALTER TABLE runs ADD COLUMN outputs JSONB NOT NULL DEFAULT '[]';
-- Run search's default order within experiments.
CREATE INDEX runs_search ON runs (experiment_id, start_time DESC, id);
