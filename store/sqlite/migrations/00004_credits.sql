-- Conventions as in 00001: times are INTEGER unix microseconds, UTC; optional
-- text is '' rather than NULL; credits are INTEGER, never floating point.

-- +goose Up

-- One row per tenant with a ledger: the running balance (the sum of its
-- entries) and the spend of the current day and billing month. Every ledger
-- write for the tenant updates it, which is what serialises them.
CREATE TABLE credit_accounts (
    tenant_id   TEXT    NOT NULL PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    balance     INTEGER NOT NULL DEFAULT 0,
    last_seq    INTEGER NOT NULL DEFAULT 0,
    day_spent   INTEGER NOT NULL DEFAULT 0,
    day_start   INTEGER NOT NULL,
    month_spent INTEGER NOT NULL DEFAULT 0,
    month_start INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

-- A block is the credits one grant (or positive adjustment, or refund
-- without a deduct) opened; id is that entry's id.
CREATE TABLE credit_blocks (
    id         TEXT    NOT NULL PRIMARY KEY,
    tenant_id  TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    amount     INTEGER NOT NULL,
    remaining  INTEGER NOT NULL,
    expires_at INTEGER,
    created_at INTEGER NOT NULL
);
-- Every block of a tenant, for the purge's cascade (the partial indexes
-- below leave out spent blocks); open blocks of a tenant in drawing
-- order; lapsed blocks for the sweeper.
CREATE INDEX credit_blocks_tenant ON credit_blocks (tenant_id);
CREATE INDEX credit_blocks_open ON credit_blocks (tenant_id, expires_at, id) WHERE remaining > 0;
CREATE INDEX credit_blocks_lapsing ON credit_blocks (expires_at) WHERE remaining > 0 AND expires_at IS NOT NULL;

CREATE TABLE credit_entries (
    id              TEXT    NOT NULL PRIMARY KEY,
    tenant_id       TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    seq             INTEGER NOT NULL,
    kind            TEXT    NOT NULL,
    amount          INTEGER NOT NULL,
    balance_after   INTEGER NOT NULL,
    description     TEXT    NOT NULL DEFAULT '',
    reason          TEXT    NOT NULL DEFAULT '',
    actor_type      TEXT    NOT NULL DEFAULT '',
    actor_id        TEXT    NOT NULL DEFAULT '',
    idempotency_key TEXT    NOT NULL DEFAULT '',
    related_id      TEXT    NOT NULL DEFAULT '',
    block_id        TEXT    NOT NULL DEFAULT '',
    expires_at      INTEGER,
    usage_event_id  TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL
);
-- A tenant's entries in the order written (its pages, newest first), and
-- of one kind; seq is unique per tenant, like the account's last_seq that
-- hands it out.
CREATE UNIQUE INDEX credit_entries_seq ON credit_entries (tenant_id, seq);
CREATE INDEX credit_entries_kind ON credit_entries (tenant_id, kind, seq);
CREATE INDEX credit_entries_related ON credit_entries (related_id) WHERE related_id <> '';
-- An idempotency key writes at most one entry per tenant, for ever.
CREATE UNIQUE INDEX credit_entries_idempotency ON credit_entries (tenant_id, idempotency_key) WHERE idempotency_key <> '';

-- Which blocks an entry drew from (negative) or returned to (positive), in order.
CREATE TABLE credit_draws (
    entry_id TEXT    NOT NULL REFERENCES credit_entries (id) ON DELETE CASCADE,
    ord      INTEGER NOT NULL,
    block_id TEXT    NOT NULL REFERENCES credit_blocks (id) ON DELETE CASCADE,
    amount   INTEGER NOT NULL,
    PRIMARY KEY (entry_id, ord)
) WITHOUT ROWID;
CREATE INDEX credit_draws_block ON credit_draws (block_id);

-- Usage events, each recorded once per (tenant, id).
CREATE TABLE usage_events (
    tenant_id      TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id             TEXT    NOT NULL,
    user_id        TEXT    NOT NULL DEFAULT '',
    metric         TEXT    NOT NULL,
    quantity       INTEGER NOT NULL,
    credits        INTEGER NOT NULL DEFAULT 0,
    cost_micros    INTEGER NOT NULL DEFAULT 0,
    model          TEXT    NOT NULL DEFAULT '',
    occurred_at    INTEGER NOT NULL,
    recorded_at    INTEGER NOT NULL,
    transaction_id TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, id)
) WITHOUT ROWID;
CREATE INDEX usage_events_occurred ON usage_events (occurred_at);
CREATE INDEX usage_events_tenant_occurred ON usage_events (tenant_id, occurred_at);

-- +goose Down
DROP TABLE usage_events;
DROP TABLE credit_draws;
DROP TABLE credit_entries;
DROP TABLE credit_blocks;
DROP TABLE credit_accounts;
