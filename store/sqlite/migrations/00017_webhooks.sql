-- Webhooks (issue 13, service/outbox.go, service/webhooks.go). Conventions
-- as in 00001.

-- +goose Up
-- The outbox: one row per announced audit entry, written in the audited
-- change's transaction. The audit head is locked while it is written, so
-- seq is the commit order.
CREATE TABLE webhook_events (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT    NOT NULL UNIQUE,
    type       TEXT    NOT NULL,
    tenant_id  TEXT    NOT NULL DEFAULT '',
    payload    TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX webhook_events_created ON webhook_events (created_at);

-- +goose Down
DROP TABLE webhook_events;
