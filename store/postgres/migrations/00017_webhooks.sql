-- Webhooks (issue 13, service/outbox.go, service/webhooks.go). Conventions
-- as in 00001.

-- +goose Up
-- The outbox: one row per announced audit entry, written in the audited
-- change's transaction. The audit head is locked while it is written, so
-- seq is the commit order.
CREATE TABLE webhook_events (
    seq        bigint      GENERATED ALWAYS AS IDENTITY,
    id         text        NOT NULL,
    type       text        NOT NULL,
    tenant_id  text        NOT NULL DEFAULT '',
    payload    text        NOT NULL,
    created_at timestamptz NOT NULL,
    CONSTRAINT webhook_events_pkey PRIMARY KEY (seq),
    CONSTRAINT webhook_events_id_key UNIQUE (id)
);
CREATE INDEX webhook_events_created ON webhook_events (created_at);

-- Receivers of events. event_types is a JSON array of types and patterns
-- ("*", "user.*"); tenant_id '' means every tenant's events. The secrets
-- sign deliveries, so they are kept as given (base64 after "whsec_").
-- after_seq: the last outbox seq the endpoint was given; attempts and
-- next_attempt_at: the retries of the event after it; lease_*: which
-- replica is sending to it, until when.
CREATE TABLE webhook_endpoints (
    id                    text        NOT NULL,
    url                   text        NOT NULL,
    event_types           text        NOT NULL,
    tenant_id             text        NOT NULL DEFAULT '',
    description           text        NOT NULL DEFAULT '',
    enabled               boolean     NOT NULL,
    disabled_reason       text        NOT NULL DEFAULT '',
    secret                text        NOT NULL,
    previous_secret       text        NOT NULL DEFAULT '',
    previous_secret_until timestamptz,
    after_seq             bigint      NOT NULL,
    attempts              integer     NOT NULL DEFAULT 0,
    next_attempt_at       timestamptz,
    lease_owner           text        NOT NULL DEFAULT '',
    lease_until           timestamptz,
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL,
    CONSTRAINT webhook_endpoints_pkey PRIMARY KEY (id)
);

-- The delivery log: one row per attempt.
CREATE TABLE webhook_deliveries (
    id          text        NOT NULL,
    endpoint_id text        NOT NULL,
    event_id    text        NOT NULL,
    event_seq   bigint      NOT NULL,
    event_type  text        NOT NULL,
    attempt     integer     NOT NULL,
    succeeded   boolean     NOT NULL,
    http_status integer     NOT NULL,
    latency_us  bigint      NOT NULL,
    response    text        NOT NULL DEFAULT '',
    error       text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL,
    CONSTRAINT webhook_deliveries_pkey PRIMARY KEY (id)
);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at);
CREATE INDEX webhook_deliveries_created ON webhook_deliveries (created_at);

-- +goose Down
DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
DROP TABLE webhook_events;
