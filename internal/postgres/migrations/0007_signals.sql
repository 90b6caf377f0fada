-- Monitoring signals and evaluation evidence (PostgreSQL dialect;
-- internal/sqlite/migrations has the same file name).

-- evaluates: the versions an evaluation version evaluates (NAME@vN, JSON
-- array), retrained_from: the flagged version a version was retrained to
-- replace. Both fixed at creation; they also become lineage edges
-- (evaluates, retrained_from) at finalize.
ALTER TABLE versions ADD COLUMN evaluates JSONB NOT NULL DEFAULT '[]';
ALTER TABLE versions ADD COLUMN retrained_from TEXT NOT NULL DEFAULT '';
-- flag: the cairn.Flag JSON once a signal crossed its threshold, NULL
-- otherwise. Mutable, written by UpdateVersion.
ALTER TABLE versions ADD COLUMN flag JSONB;

-- signals are append-only observations about a version.
CREATE TABLE signals (
    id         BIGINT           GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    version_id BIGINT           NOT NULL REFERENCES versions(id),
    kind       TEXT COLLATE "C" NOT NULL,
    value      DOUBLE PRECISION NOT NULL,
    detail     TEXT             NOT NULL DEFAULT '',
    threshold  DOUBLE PRECISION,
    flagged    BOOLEAN          NOT NULL DEFAULT false,
    created_by TEXT             NOT NULL,
    created_at BIGINT           NOT NULL
);
CREATE INDEX signals_version ON signals (version_id, id DESC);
