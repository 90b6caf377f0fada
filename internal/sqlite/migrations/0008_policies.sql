-- Governance policies (internal/registry/policies.go), SQLite dialect.
-- internal/postgres/migrations has the same tables under the same file
-- name.

-- policies holds one row per policy name: which version is current and
-- whether the policy is deleted. Its versions stay in policy_versions
-- after a delete; writing the name again continues the numbering.
CREATE TABLE policies (
    name       TEXT    PRIMARY KEY,
    version    INTEGER NOT NULL,
    deleted_at INTEGER
);

-- policy_versions keeps every version ever written. document is the
-- policy document (cairn.PolicySpec) as JSON; scope is copied out of it.
CREATE TABLE policy_versions (
    name       TEXT    NOT NULL REFERENCES policies (name),
    version    INTEGER NOT NULL,
    scope      TEXT    NOT NULL,
    document   TEXT    NOT NULL,
    created_by TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (name, version)
);
