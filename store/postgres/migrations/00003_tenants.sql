-- +goose Up
-- Conventions as in 00001: constraint names are spelled out (the store maps
-- a unique violation to the domain field by name); optional text is ''; a
-- NULL limit or cap means "not set" (the plan's value, or no cap).
-- users.tenant_id and api_keys.tenant_id refer to tenants.id without a
-- foreign key: the service checks the reference, and rows written before
-- tenants existed keep working (see the backfill below).

CREATE TABLE tenants (
    id                      text        NOT NULL,
    name                    text        NOT NULL,
    slug                    text        NOT NULL,
    plan                    text        NOT NULL,
    status                  text        NOT NULL,
    owner_user_id           text        NOT NULL DEFAULT '',
    max_users               bigint,
    max_concurrent_tasks    bigint,
    max_daily_tasks         bigint,
    monthly_cap             bigint,
    daily_cap               bigint,
    alert_threshold_percent integer     NOT NULL DEFAULT 0,
    features                jsonb       NOT NULL DEFAULT '{}',
    notes                   text        NOT NULL DEFAULT '',
    billing_period_start    timestamptz NOT NULL,
    suspension_reason       text        NOT NULL DEFAULT '',
    suspended_at            timestamptz,
    deleted_at              timestamptz,
    status_before_delete    text        NOT NULL DEFAULT '',
    created_at              timestamptz NOT NULL,
    updated_at              timestamptz NOT NULL,
    CONSTRAINT tenants_pkey PRIMARY KEY (id),
    CONSTRAINT tenants_slug_key UNIQUE (slug)
);
CREATE INDEX tenants_status_id ON tenants (status, id);
CREATE INDEX tenants_plan_id ON tenants (plan, id);

-- Holds: the rows a tenant's suspension (or soft delete) moved, so that
-- unsuspend moves back exactly those. Deleting the user, key or tenant
-- drops the hold with it.
CREATE TABLE tenant_held_users (
    tenant_id text NOT NULL,
    user_id   text NOT NULL,
    CONSTRAINT tenant_held_users_pkey PRIMARY KEY (tenant_id, user_id),
    CONSTRAINT tenant_held_users_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE,
    CONSTRAINT tenant_held_users_user_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);
CREATE INDEX tenant_held_users_user ON tenant_held_users (user_id);

CREATE TABLE tenant_held_keys (
    tenant_id text NOT NULL,
    key_id    text NOT NULL,
    CONSTRAINT tenant_held_keys_pkey PRIMARY KEY (tenant_id, key_id),
    CONSTRAINT tenant_held_keys_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE,
    CONSTRAINT tenant_held_keys_key_fkey FOREIGN KEY (key_id) REFERENCES api_keys (id) ON DELETE CASCADE
);
CREATE INDEX tenant_held_keys_key ON tenant_held_keys (key_id);

CREATE TABLE tenant_plan_changes (
    id         text        NOT NULL,
    tenant_id  text        NOT NULL,
    from_plan  text        NOT NULL,
    to_plan    text        NOT NULL,
    prorate    boolean     NOT NULL,
    changed_by text        NOT NULL DEFAULT '',
    changed_at timestamptz NOT NULL,
    CONSTRAINT tenant_plan_changes_pkey PRIMARY KEY (id),
    CONSTRAINT tenant_plan_changes_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
);
CREATE INDEX tenant_plan_changes_tenant ON tenant_plan_changes (tenant_id, id);

-- Users and keys written before this migration may name tenants that had
-- no row: give each such id an active tenant on the free plan, its id as
-- name and slug, so every reference resolves.
INSERT INTO tenants (id, name, slug, plan, status, billing_period_start, created_at, updated_at)
SELECT tid, tid, tid, 'free', 'active', now(), now(), now()
FROM (SELECT tenant_id AS tid FROM users WHERE tenant_id IS NOT NULL AND tenant_id <> ''
      UNION
      SELECT tenant_id FROM api_keys WHERE tenant_id IS NOT NULL AND tenant_id <> '') AS refs;

-- +goose Down
DROP TABLE tenant_plan_changes;
DROP TABLE tenant_held_keys;
DROP TABLE tenant_held_users;
DROP TABLE tenants;
