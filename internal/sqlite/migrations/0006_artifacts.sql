-- The MLflow artifact store (internal/registry/artifacts.go), SQLite
-- dialect. internal/postgres/migrations has the same table under the same
-- file name.

-- artifacts maps a path of the mlflow-artifacts namespace
-- ("1/<run id>/artifacts/model/MLmodel") to the blob holding its bytes.
-- Paths compare in byte order (BINARY), so a directory is the range
-- [dir/, dir0) of the primary key. Garbage collection keeps every blob a
-- row names (the digest index answers it); overwriting or deleting a path
-- leaves its old blob to the collector unless a version refers to it.
CREATE TABLE artifacts (
    path       TEXT    PRIMARY KEY,
    digest     TEXT    NOT NULL,
    size       INTEGER NOT NULL CHECK (size >= 0),
    updated_by TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX artifacts_digest ON artifacts (digest);
