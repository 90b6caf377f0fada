-- Webhook subscriptions and their delivery (internal/webhook), PostgreSQL
-- dialect. internal/sqlite/migrations has the same tables under the same
-- file name.

-- webhooks are the subscriptions; the registry writes them, audited and
-- evented. event_types is a JSON array of globs.
CREATE TABLE webhooks (
    id          TEXT    COLLATE "C" PRIMARY KEY,
    url         TEXT    NOT NULL,
    secret      TEXT    NOT NULL,
    event_types TEXT    NOT NULL,
    model       TEXT    NOT NULL DEFAULT '',
    alias       TEXT    NOT NULL DEFAULT '',
    description TEXT    NOT NULL DEFAULT '',
    active      BOOLEAN NOT NULL,
    created_by  TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL
);

-- webhook_state is where each subscription's delivery stands: every event
-- up to cursor is done with. Only the dispatcher that holds the lease
-- "webhook:<id>" writes it, so deliveries stay in order.
CREATE TABLE webhook_state (
    webhook_id    TEXT    COLLATE "C" PRIMARY KEY REFERENCES webhooks (id) ON DELETE CASCADE,
    cursor        BIGINT  NOT NULL,
    head_seq      BIGINT  NOT NULL DEFAULT 0,
    attempts      BIGINT  NOT NULL DEFAULT 0,
    first_attempt BIGINT  NOT NULL DEFAULT 0,
    next_attempt  BIGINT  NOT NULL DEFAULT 0
);

-- webhook_deliveries records every attempt, newest last.
CREATE TABLE webhook_deliveries (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id  TEXT    COLLATE "C" NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_seq   BIGINT  NOT NULL,
    event_id    TEXT    NOT NULL,
    event_type  TEXT    NOT NULL,
    attempt     BIGINT  NOT NULL,
    redelivery  BOOLEAN NOT NULL,
    at          BIGINT  NOT NULL,
    outcome     TEXT    NOT NULL,
    status_code BIGINT  NOT NULL,
    latency_ms  BIGINT  NOT NULL,
    response    TEXT    NOT NULL,
    error       TEXT    NOT NULL
);
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, id);

-- webhook_dead_letters are the events a subscription gave up on.
CREATE TABLE webhook_dead_letters (
    webhook_id TEXT    COLLATE "C" NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_seq  BIGINT  NOT NULL,
    event_id   TEXT    NOT NULL,
    event_type TEXT    NOT NULL,
    status     TEXT    NOT NULL,
    attempts   BIGINT  NOT NULL,
    last_error TEXT    NOT NULL,
    dead_at    BIGINT  NOT NULL,
    updated_at BIGINT  NOT NULL,
    PRIMARY KEY (webhook_id, event_seq)
);
