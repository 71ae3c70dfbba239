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

-- +goose Down
DROP TABLE webhook_events;
