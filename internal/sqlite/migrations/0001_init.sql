-- Cairn metadata schema, SQLite dialect. internal/postgres/migrations has the
-- same tables and columns under the same file name. Times are unix
-- microseconds (BIGINT) in both dialects so that filters, exports and the
-- audit hash see one representation. Free-form maps are JSON text.

CREATE TABLE models (
    id             INTEGER PRIMARY KEY,
    name           TEXT    NOT NULL UNIQUE,
    kind           TEXT    NOT NULL CHECK (kind IN ('model','dataset','prompt','evaluation','other')),
    description    TEXT    NOT NULL DEFAULT '',
    tags           TEXT    NOT NULL DEFAULT '{}',
    latest_version INTEGER NOT NULL DEFAULT 0,
    archived       INTEGER NOT NULL DEFAULT 0,
    created_by     TEXT    NOT NULL,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    deleted_at     INTEGER
);

CREATE TABLE versions (
    id                  INTEGER PRIMARY KEY,
    model_id            INTEGER NOT NULL REFERENCES models(id),
    number              INTEGER NOT NULL CHECK (number > 0),
    status              TEXT    NOT NULL CHECK (status IN ('pending','ready','failed')),
    status_message      TEXT    NOT NULL DEFAULT '',
    digest              TEXT    NOT NULL,
    size                INTEGER NOT NULL,
    files               TEXT    NOT NULL,
    run_id              TEXT    NOT NULL DEFAULT '',
    source              TEXT    NOT NULL DEFAULT '',
    source_code_version TEXT    NOT NULL DEFAULT '',
    training_dataset    TEXT    NOT NULL DEFAULT '',
    validation_dataset  TEXT    NOT NULL DEFAULT '',
    metrics             TEXT    NOT NULL DEFAULT '{}',
    params              TEXT    NOT NULL DEFAULT '{}',
    signature           TEXT,
    dependencies        TEXT    NOT NULL DEFAULT '',
    framework           TEXT    NOT NULL DEFAULT '',
    trained_by          TEXT    NOT NULL DEFAULT '',
    derived_from        TEXT    NOT NULL DEFAULT '[]',
    inputs              TEXT    NOT NULL DEFAULT '[]',
    tags                TEXT    NOT NULL DEFAULT '{}',
    description         TEXT    NOT NULL DEFAULT '',
    created_by          TEXT    NOT NULL,
    created_by_verified INTEGER NOT NULL DEFAULT 0,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    archived            INTEGER NOT NULL DEFAULT 0,
    stage               TEXT    NOT NULL DEFAULT 'None' CHECK (stage IN ('None','Staging','Production','Archived')),
    deleted_at          INTEGER,
    UNIQUE (model_id, number)
);
CREATE INDEX versions_latest ON versions (model_id, status, archived, number DESC) WHERE deleted_at IS NULL;
CREATE INDEX versions_digest ON versions (digest);
CREATE INDEX versions_pending ON versions (created_at) WHERE status = 'pending';
CREATE INDEX versions_run ON versions (run_id) WHERE run_id <> '';

CREATE TABLE aliases (
    model_id   INTEGER NOT NULL REFERENCES models(id),
    name       TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    updated_by TEXT    NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (model_id, name),
    FOREIGN KEY (model_id, version) REFERENCES versions (model_id, number)
);
CREATE INDEX aliases_version ON aliases (model_id, version);

CREATE TABLE alias_history (
    seq          INTEGER PRIMARY KEY,
    model_id     INTEGER NOT NULL REFERENCES models(id),
    alias        TEXT    NOT NULL,
    from_version INTEGER,
    to_version   INTEGER,
    actor        TEXT    NOT NULL,
    at           INTEGER NOT NULL,
    request_id   TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX alias_history_alias ON alias_history (model_id, alias, seq DESC);
-- AliasHistory(model, "") lists every alias's moves of one model, newest first.
CREATE INDEX alias_history_model ON alias_history (model_id, seq DESC);

CREATE TABLE runs (
    id            TEXT    PRIMARY KEY,
    experiment_id TEXT    NOT NULL DEFAULT '0',
    name          TEXT    NOT NULL DEFAULT '',
    status        TEXT    NOT NULL,
    start_time    INTEGER NOT NULL,
    end_time      INTEGER,
    params        TEXT    NOT NULL DEFAULT '{}',
    metrics       TEXT    NOT NULL DEFAULT '{}',
    tags          TEXT    NOT NULL DEFAULT '{}',
    artifact_uri  TEXT    NOT NULL DEFAULT '',
    created_by    TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    deleted_at    INTEGER
);
CREATE INDEX runs_experiment ON runs (experiment_id, created_at DESC);
-- ListRuns across all experiments, newest first.
CREATE INDEX runs_created ON runs (created_at DESC, id);

CREATE TABLE run_metrics (
    run_id    TEXT    NOT NULL REFERENCES runs(id),
    key       TEXT    NOT NULL,
    value     REAL    NOT NULL,
    timestamp INTEGER NOT NULL,
    step      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX run_metrics_key ON run_metrics (run_id, key, step, timestamp);

-- A lineage node is a version (model_id + number) or a run (run id). Exactly
-- one of the pair is set on each side.
CREATE TABLE lineage_edges (
    id              INTEGER PRIMARY KEY,
    from_version_id INTEGER REFERENCES versions(id),
    from_run_id     TEXT    REFERENCES runs(id),
    to_version_id   INTEGER REFERENCES versions(id),
    to_run_id       TEXT    REFERENCES runs(id),
    type            TEXT    NOT NULL,
    created_by      TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    CHECK ((from_version_id IS NULL) <> (from_run_id IS NULL)),
    CHECK ((to_version_id IS NULL) <> (to_run_id IS NULL))
);
CREATE UNIQUE INDEX lineage_edges_unique ON lineage_edges (
    COALESCE(from_version_id, -1), COALESCE(from_run_id, ''),
    COALESCE(to_version_id, -1), COALESCE(to_run_id, ''), type);
CREATE INDEX lineage_edges_from_version ON lineage_edges (from_version_id) WHERE from_version_id IS NOT NULL;
CREATE INDEX lineage_edges_from_run ON lineage_edges (from_run_id) WHERE from_run_id IS NOT NULL;
CREATE INDEX lineage_edges_to_version ON lineage_edges (to_version_id) WHERE to_version_id IS NOT NULL;
CREATE INDEX lineage_edges_to_run ON lineage_edges (to_run_id) WHERE to_run_id IS NOT NULL;

-- before/after are stored as the exact bytes hashed, never re-encoded.
CREATE TABLE audit_log (
    seq            INTEGER PRIMARY KEY,
    at             INTEGER NOT NULL,
    actor          TEXT    NOT NULL,
    actor_verified INTEGER NOT NULL DEFAULT 0,
    action         TEXT    NOT NULL,
    target         TEXT    NOT NULL,
    before         TEXT,
    after          TEXT,
    request_id     TEXT    NOT NULL DEFAULT '',
    prev_hash      TEXT    NOT NULL,
    hash           TEXT    NOT NULL
);
CREATE INDEX audit_log_target ON audit_log (target, seq);

CREATE TABLE events (
    seq     INTEGER PRIMARY KEY,
    id      TEXT    NOT NULL UNIQUE,
    type    TEXT    NOT NULL,
    at      INTEGER NOT NULL,
    actor   TEXT    NOT NULL,
    model   TEXT    NOT NULL DEFAULT '',
    alias   TEXT    NOT NULL DEFAULT '',
    payload TEXT    NOT NULL
);

-- Single-row counters whose row lock serializes appends to the audit chain
-- and the event sequence, so both are gap-free in commit order.
CREATE TABLE counters (
    name  TEXT    PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT INTO counters (name, value) VALUES ('audit', 0), ('event', 0);

CREATE TABLE uploads (
    id          TEXT    PRIMARY KEY,
    digest      TEXT    NOT NULL,
    size        INTEGER NOT NULL,
    backend_key TEXT    NOT NULL,
    created_by  TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX uploads_digest ON uploads (digest, created_at DESC);
CREATE INDEX uploads_expiry ON uploads (expires_at);

CREATE TABLE upload_parts (
    upload_id TEXT    NOT NULL REFERENCES uploads(id) ON DELETE CASCADE,
    number    INTEGER NOT NULL CHECK (number > 0),
    size      INTEGER NOT NULL,
    etag      TEXT    NOT NULL DEFAULT '',
    digest    TEXT    NOT NULL,
    PRIMARY KEY (upload_id, number)
);

CREATE TABLE idempotency_keys (
    key          TEXT    PRIMARY KEY,
    request_hash TEXT    NOT NULL,
    status       INTEGER NOT NULL,
    body         BLOB    NOT NULL,
    created_at   INTEGER NOT NULL
);
