-- Monitoring signals and evaluation evidence (SQLite dialect;
-- internal/postgres/migrations has the same file name).

-- evaluates: the versions an evaluation version evaluates (NAME@vN, JSON
-- array), retrained_from: the flagged version a version was retrained to
-- replace. Both fixed at creation; they also become lineage edges
-- (evaluates, retrained_from) at finalize.
ALTER TABLE versions ADD COLUMN evaluates TEXT NOT NULL DEFAULT '[]';
ALTER TABLE versions ADD COLUMN retrained_from TEXT NOT NULL DEFAULT '';
-- flag: the cairn.Flag JSON once a signal crossed its threshold, NULL
-- otherwise. Mutable, written by UpdateVersion.
ALTER TABLE versions ADD COLUMN flag TEXT;

-- signals are append-only observations about a version.
CREATE TABLE signals (
    id         INTEGER PRIMARY KEY,
    version_id INTEGER NOT NULL REFERENCES versions(id),
    kind       TEXT    NOT NULL,
    value      REAL    NOT NULL,
    detail     TEXT    NOT NULL DEFAULT '',
    threshold  REAL,
    flagged    INTEGER NOT NULL DEFAULT 0,
    created_by TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX signals_version ON signals (version_id, id DESC);
