-- The MLflow artifact store (internal/registry/artifacts.go), PostgreSQL
-- dialect. internal/sqlite/migrations has the same table under the same
-- file name.

-- artifacts maps a path of the mlflow-artifacts namespace
-- ("1/<run id>/artifacts/model/MLmodel") to the blob holding its bytes.
-- Paths compare in byte order (COLLATE "C"), so a directory is the range
-- [dir/, dir0) of the primary key. Garbage collection keeps every blob a
-- row names (the digest index answers it); overwriting or deleting a path
-- leaves its old blob to the collector unless a version refers to it.
-- Writing a row takes the blob-references lock in shared mode (see
-- 0002_gc.sql and postgres.PutArtifact), so that a collection cannot delete
-- the blob between the writer's check that it exists and its commit.
CREATE TABLE artifacts (
    path       TEXT   COLLATE "C" PRIMARY KEY,
    digest     TEXT   COLLATE "C" NOT NULL,
    size       BIGINT NOT NULL CHECK (size >= 0),
    updated_by TEXT   NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX artifacts_digest ON artifacts (digest);
