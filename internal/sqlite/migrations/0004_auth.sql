-- Identities, API tokens and role bindings (internal/registry/auth.go),
-- SQLite dialect. internal/postgres/migrations has the same tables under
-- the same file name. Times are unix microseconds.

-- users are people and service accounts. password_hash is a PBKDF2 hash
-- string ('' for none: service accounts, and users who use tokens only).
CREATE TABLE users (
    name          TEXT    PRIMARY KEY,
    kind          TEXT    NOT NULL CHECK (kind IN ('user','service')),
    password_hash TEXT    NOT NULL DEFAULT '',
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_by    TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) WITHOUT ROWID;

-- tokens keep the SHA-256 of the secret, never the secret; authentication
-- looks a token up by that hash.
CREATE TABLE tokens (
    id           TEXT    PRIMARY KEY,
    user_name    TEXT    NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    name         TEXT    NOT NULL DEFAULT '',
    hash         TEXT    NOT NULL UNIQUE,
    created_by   TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    last_used_at INTEGER,
    revoked_at   INTEGER
);
CREATE INDEX tokens_user ON tokens (user_name, created_at);

-- role_bindings grant a role on a scope ('*' or a model-name glob).
CREATE TABLE role_bindings (
    principal  TEXT    NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    role       TEXT    NOT NULL CHECK (role IN ('reader','writer','maintainer','approver','admin')),
    scope      TEXT    NOT NULL,
    created_by TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (principal, role, scope)
) WITHOUT ROWID;
