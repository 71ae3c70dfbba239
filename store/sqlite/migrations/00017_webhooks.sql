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
-- after_seq: the last outbox seq the endpoint was given; attempts and
-- next_attempt_at: the retries of the event after it; lease_*: which
-- replica is sending to it, until when.
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
    attempts              INTEGER NOT NULL DEFAULT 0,
    next_attempt_at       INTEGER,
    lease_owner           TEXT    NOT NULL DEFAULT '',
    lease_until           INTEGER,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL
);

-- The delivery log: one row per attempt.
CREATE TABLE webhook_deliveries (
    id          TEXT    NOT NULL PRIMARY KEY,
    endpoint_id TEXT    NOT NULL,
    event_id    TEXT    NOT NULL,
    event_seq   INTEGER NOT NULL,
    event_type  TEXT    NOT NULL,
    attempt     INTEGER NOT NULL,
    succeeded   INTEGER NOT NULL,
    http_status INTEGER NOT NULL,
    latency_us  INTEGER NOT NULL,
    response    TEXT    NOT NULL DEFAULT '',
    error       TEXT    NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL
);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at);
CREATE INDEX webhook_deliveries_created ON webhook_deliveries (created_at);

-- +goose Down
DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
DROP TABLE webhook_events;
