-- headers: a subscription's custom request headers (JSON object, canonical
-- name → value), sent with every delivery. The values are secrets like
-- the signing secret: the API shows only their names.
ALTER TABLE webhooks ADD COLUMN headers JSONB NOT NULL DEFAULT '{}';
