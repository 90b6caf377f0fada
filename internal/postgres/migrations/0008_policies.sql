-- Governance policies (internal/registry/policies.go), PostgreSQL dialect.
-- internal/sqlite/migrations has the same tables under the same file name.

-- policies holds one row per policy name: which version is current and
-- whether the policy is deleted. Its versions stay in policy_versions
-- after a delete; writing the name again continues the numbering.
CREATE TABLE policies (
    name       TEXT   COLLATE "C" PRIMARY KEY,
    version    BIGINT NOT NULL,
    deleted_at BIGINT
);

-- policy_versions keeps every version ever written. document is the
-- policy document (cairn.PolicySpec) as JSON; scope is copied out of it.
CREATE TABLE policy_versions (
    name       TEXT   COLLATE "C" NOT NULL REFERENCES policies (name),
    version    BIGINT NOT NULL,
    scope      TEXT   NOT NULL,
    document   TEXT   NOT NULL,
    created_by TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (name, version)
);
