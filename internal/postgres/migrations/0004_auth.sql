-- Identities, API tokens and role bindings (internal/registry/auth.go),
-- PostgreSQL dialect. internal/sqlite/migrations has the same tables under
-- the same file name. Times are unix microseconds (BIGINT).

-- users are people and service accounts. password_hash is a PBKDF2 hash
-- string ('' for none: service accounts, and users who use tokens only).
CREATE TABLE users (
    name          TEXT    COLLATE "C" PRIMARY KEY,
    kind          TEXT    NOT NULL CHECK (kind IN ('user','service')),
    password_hash TEXT    NOT NULL DEFAULT '',
    disabled      BOOLEAN NOT NULL DEFAULT false,
    created_by    TEXT    COLLATE "C" NOT NULL,
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL
);

-- tokens keep the SHA-256 of the secret, never the secret; authentication
-- looks a token up by that hash.
CREATE TABLE tokens (
    id           TEXT    COLLATE "C" PRIMARY KEY,
    user_name    TEXT    COLLATE "C" NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    name         TEXT    NOT NULL DEFAULT '',
    hash         TEXT    COLLATE "C" NOT NULL UNIQUE,
    created_by   TEXT    COLLATE "C" NOT NULL,
    created_at   BIGINT  NOT NULL,
    expires_at   BIGINT,
    last_used_at BIGINT,
    revoked_at   BIGINT
);
CREATE INDEX tokens_user ON tokens (user_name, created_at);

-- role_bindings grant a role on a scope ('*' or a model-name glob).
CREATE TABLE role_bindings (
    principal  TEXT    COLLATE "C" NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    role       TEXT    NOT NULL CHECK (role IN ('reader','writer','maintainer','approver','admin')),
    scope      TEXT    COLLATE "C" NOT NULL,
    created_by TEXT    COLLATE "C" NOT NULL,
    created_at BIGINT  NOT NULL,
    PRIMARY KEY (principal, role, scope)
);
