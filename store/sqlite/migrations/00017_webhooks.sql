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

-- Receivers of events. event_types is a JSON array of types and patterns
-- ("*", "user.*"); tenant_id '' means every tenant's events. The secrets
-- sign deliveries, so they are kept as given (base64 after "whsec_").
-- after_seq: the last outbox seq the endpoint was given.
CREATE TABLE webhook_endpoints (
    id                    TEXT    NOT NULL PRIMARY KEY,
    url                   TEXT    NOT NULL,
    event_types           TEXT    NOT NULL,
    tenant_id             TEXT    NOT NULL DEFAULT '',
    description           TEXT    NOT NULL DEFAULT '',
    enabled               INTEGER NOT NULL,
    disabled_reason       TEXT    NOT NULL DEFAULT '',
    secret                TEXT    NOT NULL,
    previous_secret       TEXT    NOT NULL DEFAULT '',
    previous_secret_until INTEGER,
    after_seq             INTEGER NOT NULL,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL
);

-- +goose Down
DROP TABLE webhook_endpoints;
DROP TABLE webhook_events;
