-- +goose Up
-- Conventions as in 00001: constraint names are spelled out (the store maps
-- a unique violation to the domain field by name); optional text is '';
-- credits are bigint, never floating point.

-- One row per tenant with a ledger: the running balance (the sum of its
-- entries) and the spend of the current day and billing month. Every ledger
-- write for the tenant locks it (SELECT … FOR UPDATE), which is what
-- serialises them across every Steward process sharing the database.
CREATE TABLE credit_accounts (
    tenant_id   text        NOT NULL,
    balance     bigint      NOT NULL DEFAULT 0,
    last_seq    bigint      NOT NULL DEFAULT 0,
    day_spent   bigint      NOT NULL DEFAULT 0,
    day_start   timestamptz NOT NULL,
    month_spent bigint      NOT NULL DEFAULT 0,
    month_start timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    CONSTRAINT credit_accounts_pkey PRIMARY KEY (tenant_id),
    CONSTRAINT credit_accounts_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
);

-- A block is the credits one grant (or positive adjustment, or refund
-- without a deduct) opened; id is that entry's id.
CREATE TABLE credit_blocks (
    id         text        NOT NULL,
    tenant_id  text        NOT NULL,
    amount     bigint      NOT NULL,
    remaining  bigint      NOT NULL,
    expires_at timestamptz,
    created_at timestamptz NOT NULL,
    CONSTRAINT credit_blocks_pkey PRIMARY KEY (id),
    CONSTRAINT credit_blocks_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
);
-- Every block of a tenant, for the purge's cascade (the partial indexes
-- below leave out spent blocks); open blocks of a tenant in drawing
-- order; lapsed blocks for the sweeper.
CREATE INDEX credit_blocks_tenant ON credit_blocks (tenant_id);
CREATE INDEX credit_blocks_open ON credit_blocks (tenant_id, expires_at, id) WHERE remaining > 0;
CREATE INDEX credit_blocks_lapsing ON credit_blocks (expires_at) WHERE remaining > 0 AND expires_at IS NOT NULL;

CREATE TABLE credit_entries (
    id              text        NOT NULL,
    tenant_id       text        NOT NULL,
    seq             bigint      NOT NULL,
    kind            text        NOT NULL,
    amount          bigint      NOT NULL,
    balance_after   bigint      NOT NULL,
    description     text        NOT NULL DEFAULT '',
    reason          text        NOT NULL DEFAULT '',
    actor_type      text        NOT NULL DEFAULT '',
    actor_id        text        NOT NULL DEFAULT '',
    idempotency_key text        NOT NULL DEFAULT '',
    related_id      text        NOT NULL DEFAULT '',
    block_id        text        NOT NULL DEFAULT '',
    expires_at      timestamptz,
    usage_event_id  text        NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL,
    CONSTRAINT credit_entries_pkey PRIMARY KEY (id),
    -- A tenant's entries in the order written (its pages, newest first);
    -- seq is unique per tenant, like the account's last_seq that hands it out.
    CONSTRAINT credit_entries_tenant_seq_key UNIQUE (tenant_id, seq),
    CONSTRAINT credit_entries_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
);
CREATE INDEX credit_entries_kind ON credit_entries (tenant_id, kind, seq);
CREATE INDEX credit_entries_related ON credit_entries (related_id) WHERE related_id <> '';
-- An idempotency key writes at most one entry per tenant, for ever.
CREATE UNIQUE INDEX credit_entries_idempotency_key ON credit_entries (tenant_id, idempotency_key) WHERE idempotency_key <> '';

-- Which blocks an entry drew from (negative) or returned to (positive), in order.
CREATE TABLE credit_draws (
    entry_id text   NOT NULL,
    ord      int    NOT NULL,
    block_id text   NOT NULL,
    amount   bigint NOT NULL,
    CONSTRAINT credit_draws_pkey PRIMARY KEY (entry_id, ord),
    CONSTRAINT credit_draws_entry_fkey FOREIGN KEY (entry_id) REFERENCES credit_entries (id) ON DELETE CASCADE,
    CONSTRAINT credit_draws_block_fkey FOREIGN KEY (block_id) REFERENCES credit_blocks (id) ON DELETE CASCADE
);
CREATE INDEX credit_draws_block ON credit_draws (block_id);

-- Usage events, each recorded once per (tenant, id).
CREATE TABLE usage_events (
    tenant_id      text        NOT NULL,
    id             text        NOT NULL,
    user_id        text        NOT NULL DEFAULT '',
    metric         text        NOT NULL,
    quantity       bigint      NOT NULL,
    credits        bigint      NOT NULL DEFAULT 0,
    cost_micros    bigint      NOT NULL DEFAULT 0,
    model          text        NOT NULL DEFAULT '',
    occurred_at    timestamptz NOT NULL,
    recorded_at    timestamptz NOT NULL,
    transaction_id text        NOT NULL DEFAULT '',
    CONSTRAINT usage_events_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT usage_events_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
);
CREATE INDEX usage_events_occurred ON usage_events (occurred_at);
CREATE INDEX usage_events_tenant_occurred ON usage_events (tenant_id, occurred_at);

-- +goose Down
DROP TABLE usage_events;
DROP TABLE credit_draws;
DROP TABLE credit_entries;
DROP TABLE credit_blocks;
DROP TABLE credit_accounts;
