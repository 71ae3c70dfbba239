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
-- after_seq: the last outbox seq the endpoint was given.
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
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL,
    CONSTRAINT webhook_endpoints_pkey PRIMARY KEY (id)
);

-- +goose Down
DROP TABLE webhook_endpoints;
DROP TABLE webhook_events;
