-- Webhook formats and payload templates (internal/webhook), PostgreSQL dialect.
-- internal/sqlite/migrations has the same change under the same file name.

-- format is how deliveries look: 'standard' (Standard Webhooks headers,
-- the event in its envelope) or 'mlflow' (MLflow 3's X-MLflow-* headers
-- and {entity, action, timestamp, data} payloads; event_types then holds
-- MLflow event names). name is the MLflow webhook name ('' for native
-- subscriptions without one). template is a JSON payload template ('' for
-- none), rendered per event instead of the standard body.
ALTER TABLE webhooks ADD COLUMN name TEXT NOT NULL DEFAULT '';
ALTER TABLE webhooks ADD COLUMN format TEXT NOT NULL DEFAULT 'standard';
ALTER TABLE webhooks ADD COLUMN template TEXT NOT NULL DEFAULT '';
