-- Approval requests (internal/registry/approvals.go) and each version's
-- derived approval status. The other dialect has the same file name.

-- approval_requests are moves of protected aliases (or MLflow stage
-- transitions to protected stages) waiting for approvals. approvals is a
-- JSON array of decisions, rejection one decision or NULL, policies a
-- JSON array of NAME@vN.
CREATE TABLE approval_requests (
    id               TEXT PRIMARY KEY,
    model_id         INTEGER NOT NULL REFERENCES models(id),
    version          INTEGER NOT NULL,
    alias            TEXT NOT NULL DEFAULT '',
    stage            TEXT NOT NULL DEFAULT '',
    archive_existing INTEGER NOT NULL,
    from_version     INTEGER NOT NULL,
    status           TEXT NOT NULL,
    status_message   TEXT NOT NULL,
    requested_by     TEXT NOT NULL,
    required         INTEGER NOT NULL,
    policies         TEXT NOT NULL,
    evidence_hash    TEXT NOT NULL,
    approvals        TEXT NOT NULL,
    rejection        TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL
);
-- A version's requests (its derived status, the open one for a move).
CREATE INDEX approval_requests_by_version ON approval_requests (model_id, version, created_at);
-- The queue, newest first, and the expiry sweep.
CREATE INDEX approval_requests_by_status ON approval_requests (status, expires_at);
CREATE INDEX approval_requests_by_time ON approval_requests (created_at, id);

-- approval_status is derived from the version's requests and written by
-- the registry in the same transaction as the request's change.
ALTER TABLE versions ADD COLUMN approval_status TEXT NOT NULL DEFAULT 'none';
