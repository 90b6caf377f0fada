-- Signed audit checkpoints (cairn.AuditCheckpoint; cairn serve
-- --audit-key), SQLite dialect. internal/postgres/migrations has the same
-- table under the same file name.

-- audit_checkpoints holds signed (seq, hash) pairs of the audit chain. A
-- checkpoint is written by whichever replica holds the checkpoint lease;
-- the primary key makes a second write of the same seq a no-op.
CREATE TABLE audit_checkpoints (
    seq       INTEGER PRIMARY KEY,
    hash      TEXT    NOT NULL,
    at        INTEGER NOT NULL,
    key_id    TEXT    NOT NULL,
    signature BLOB    NOT NULL
);

-- Time travel (resolve an alias as of a time) reads the last move of one
-- alias at or before a time.
CREATE INDEX alias_history_at ON alias_history (model_id, alias, at DESC, seq DESC);
