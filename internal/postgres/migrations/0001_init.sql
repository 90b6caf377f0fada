-- Cairn metadata schema, PostgreSQL dialect. internal/sqlite/migrations has
-- the same tables and columns under the same file name. Times are unix
-- microseconds (BIGINT) in both dialects so that filters, exports and the
-- audit hash see one representation.
--
-- Free-form maps and lists are JSONB, so filters can reach into them. Three
-- kinds of JSON are kept as the exact text the store was given instead,
-- because JSONB re-encodes (key order, spacing): a version's signature
-- (json, which keeps the text and still checks it), and the audit log's
-- before/after and the event payload (TEXT): the audit hash covers their
-- exact bytes.
--
-- Names, keys and anything listed in order are COLLATE "C": byte order, as
-- in SQLite and Go, whatever the database's locale, and usable by btree
-- indexes for prefix searches.

CREATE TABLE models (
    id             BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name           TEXT    COLLATE "C" NOT NULL UNIQUE,
    kind           TEXT    NOT NULL CHECK (kind IN ('model','dataset','prompt','evaluation','other')),
    description    TEXT    NOT NULL DEFAULT '',
    tags           JSONB   NOT NULL DEFAULT '{}',
    latest_version BIGINT  NOT NULL DEFAULT 0,
    archived       BOOLEAN NOT NULL DEFAULT false,
    created_by     TEXT    COLLATE "C" NOT NULL,
    created_at     BIGINT  NOT NULL,
    updated_at     BIGINT  NOT NULL,
    deleted_at     BIGINT
);

CREATE TABLE versions (
    id                  BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    model_id            BIGINT  NOT NULL REFERENCES models(id),
    number              BIGINT  NOT NULL CHECK (number > 0),
    status              TEXT    NOT NULL CHECK (status IN ('pending','ready','failed')),
    status_message      TEXT    NOT NULL DEFAULT '',
    digest              TEXT    COLLATE "C" NOT NULL,
    size                BIGINT  NOT NULL,
    files               JSONB   NOT NULL,
    run_id              TEXT    COLLATE "C" NOT NULL DEFAULT '',
    source              TEXT    NOT NULL DEFAULT '',
    source_code_version TEXT    NOT NULL DEFAULT '',
    training_dataset    TEXT    NOT NULL DEFAULT '',
    validation_dataset  TEXT    NOT NULL DEFAULT '',
    metrics             JSONB   NOT NULL DEFAULT '{}',
    params              JSONB   NOT NULL DEFAULT '{}',
    signature           JSON,
    dependencies        TEXT    NOT NULL DEFAULT '',
    framework           TEXT    NOT NULL DEFAULT '',
    trained_by          TEXT    NOT NULL DEFAULT '',
    derived_from        JSONB   NOT NULL DEFAULT '[]',
    inputs              JSONB   NOT NULL DEFAULT '[]',
    tags                JSONB   NOT NULL DEFAULT '{}',
    description         TEXT    NOT NULL DEFAULT '',
    created_by          TEXT    COLLATE "C" NOT NULL,
    created_by_verified BOOLEAN NOT NULL DEFAULT false,
    created_at          BIGINT  NOT NULL,
    updated_at          BIGINT  NOT NULL,
    archived            BOOLEAN NOT NULL DEFAULT false,
    stage               TEXT    NOT NULL DEFAULT 'None' CHECK (stage IN ('None','Staging','Production','Archived')),
    deleted_at          BIGINT,
    UNIQUE (model_id, number)
);
CREATE INDEX versions_latest ON versions (model_id, status, archived, number DESC) WHERE deleted_at IS NULL;
-- PostgreSQL only: a model's versions newest first, so that a page of
-- ListVersions(model) reads one page of index whatever the model's size.
CREATE INDEX versions_list ON versions (model_id, number DESC) WHERE deleted_at IS NULL;
CREATE INDEX versions_digest ON versions (digest);
CREATE INDEX versions_pending ON versions (created_at) WHERE status = 'pending';
CREATE INDEX versions_run ON versions (run_id) WHERE run_id <> '';

CREATE TABLE aliases (
    model_id   BIGINT NOT NULL REFERENCES models(id),
    name       TEXT   COLLATE "C" NOT NULL,
    version    BIGINT NOT NULL,
    updated_by TEXT   NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (model_id, name),
    FOREIGN KEY (model_id, version) REFERENCES versions (model_id, number)
);
CREATE INDEX aliases_version ON aliases (model_id, version);

CREATE TABLE alias_history (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    model_id     BIGINT NOT NULL REFERENCES models(id),
    alias        TEXT   COLLATE "C" NOT NULL,
    from_version BIGINT,
    to_version   BIGINT,
    actor        TEXT   NOT NULL,
    at           BIGINT NOT NULL,
    request_id   TEXT   NOT NULL DEFAULT ''
);
CREATE INDEX alias_history_alias ON alias_history (model_id, alias, seq DESC);
-- AliasHistory(model, "") lists every alias's moves of one model, newest first.
CREATE INDEX alias_history_model ON alias_history (model_id, seq DESC);

CREATE TABLE runs (
    id            TEXT   COLLATE "C" PRIMARY KEY,
    experiment_id TEXT   COLLATE "C" NOT NULL DEFAULT '0',
    name          TEXT   NOT NULL DEFAULT '',
    status        TEXT   NOT NULL,
    start_time    BIGINT NOT NULL,
    end_time      BIGINT,
    params        JSONB  NOT NULL DEFAULT '{}',
    metrics       JSONB  NOT NULL DEFAULT '{}',
    tags          JSONB  NOT NULL DEFAULT '{}',
    artifact_uri  TEXT   NOT NULL DEFAULT '',
    created_by    TEXT   NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    deleted_at    BIGINT
);
CREATE INDEX runs_experiment ON runs (experiment_id, created_at DESC);
-- ListRuns across all experiments, newest first.
CREATE INDEX runs_created ON runs (created_at DESC, id);

CREATE TABLE run_metrics (
    run_id    TEXT             COLLATE "C" NOT NULL REFERENCES runs(id),
    key       TEXT             COLLATE "C" NOT NULL,
    value     DOUBLE PRECISION NOT NULL,
    timestamp BIGINT           NOT NULL,
    step      BIGINT           NOT NULL DEFAULT 0
);
CREATE INDEX run_metrics_key ON run_metrics (run_id, key, step, timestamp);

-- A lineage node is a version (model_id + number) or a run (run id). Exactly
-- one of the pair is set on each side.
CREATE TABLE lineage_edges (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    from_version_id BIGINT REFERENCES versions(id),
    from_run_id     TEXT   COLLATE "C" REFERENCES runs(id),
    to_version_id   BIGINT REFERENCES versions(id),
    to_run_id       TEXT   COLLATE "C" REFERENCES runs(id),
    type            TEXT   NOT NULL,
    created_by      TEXT   NOT NULL,
    created_at      BIGINT NOT NULL,
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
-- seq is assigned from the 'audit' counter, not by a sequence: sequences
-- leave gaps on rollback and do not follow commit order.
CREATE TABLE audit_log (
    seq            BIGINT  PRIMARY KEY,
    at             BIGINT  NOT NULL,
    actor          TEXT    COLLATE "C" NOT NULL,
    actor_verified BOOLEAN NOT NULL DEFAULT false,
    action         TEXT    COLLATE "C" NOT NULL,
    target         TEXT    COLLATE "C" NOT NULL,
    before         TEXT,
    after          TEXT,
    request_id     TEXT    NOT NULL DEFAULT '',
    prev_hash      TEXT    NOT NULL,
    hash           TEXT    NOT NULL
);
CREATE INDEX audit_log_target ON audit_log (target, seq);

-- seq is assigned from the 'event' counter, like audit_log.seq.
CREATE TABLE events (
    seq     BIGINT PRIMARY KEY,
    id      TEXT   COLLATE "C" NOT NULL UNIQUE,
    type    TEXT   NOT NULL,
    at      BIGINT NOT NULL,
    actor   TEXT   NOT NULL,
    model   TEXT   NOT NULL DEFAULT '',
    alias   TEXT   NOT NULL DEFAULT '',
    payload TEXT   NOT NULL
);

-- Single-row counters whose row lock serializes appends to the audit chain
-- and the event sequence, so both are gap-free in commit order.
CREATE TABLE counters (
    name  TEXT   COLLATE "C" PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('audit', 0), ('event', 0);

CREATE TABLE uploads (
    id          TEXT   COLLATE "C" PRIMARY KEY,
    digest      TEXT   COLLATE "C" NOT NULL,
    size        BIGINT NOT NULL,
    backend_key TEXT   NOT NULL,
    created_by  TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX uploads_digest ON uploads (digest, created_at DESC);
CREATE INDEX uploads_expiry ON uploads (expires_at);

CREATE TABLE upload_parts (
    upload_id TEXT   COLLATE "C" NOT NULL REFERENCES uploads(id) ON DELETE CASCADE,
    number    INTEGER NOT NULL CHECK (number > 0),
    size      BIGINT NOT NULL,
    etag      TEXT   NOT NULL DEFAULT '',
    digest    TEXT   NOT NULL,
    PRIMARY KEY (upload_id, number)
);

CREATE TABLE idempotency_keys (
    key          TEXT    COLLATE "C" PRIMARY KEY,
    request_hash TEXT    NOT NULL,
    status       INTEGER NOT NULL,
    body         BYTEA   NOT NULL,
    created_at   BIGINT  NOT NULL
);
