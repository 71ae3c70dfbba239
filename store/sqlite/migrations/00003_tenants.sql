-- Conventions as in 00001: times are INTEGER unix microseconds, UTC; optional
-- text is '' rather than NULL; a NULL limit or cap means "not set" (the
-- plan's value, or no cap). users.tenant_id and api_keys.tenant_id refer to
-- tenants.id without a foreign key: the service checks the reference, and
-- rows written before tenants existed keep working (see the backfill below).

-- +goose Up

CREATE TABLE tenants (
    id                      TEXT    NOT NULL PRIMARY KEY,
    name                    TEXT    NOT NULL,
    slug                    TEXT    NOT NULL UNIQUE,
    plan                    TEXT    NOT NULL,
    status                  TEXT    NOT NULL,
    owner_user_id           TEXT    NOT NULL DEFAULT '',
    max_users               INTEGER,
    max_concurrent_tasks    INTEGER,
    max_daily_tasks         INTEGER,
    monthly_cap             INTEGER,
    daily_cap               INTEGER,
    alert_threshold_percent INTEGER NOT NULL DEFAULT 0,
    features                TEXT    NOT NULL DEFAULT '{}',
    notes                   TEXT    NOT NULL DEFAULT '',
    billing_period_start    INTEGER NOT NULL,
    suspension_reason       TEXT    NOT NULL DEFAULT '',
    suspended_at            INTEGER,
    deleted_at              INTEGER,
    status_before_delete    TEXT    NOT NULL DEFAULT '',
    created_at              INTEGER NOT NULL,
    updated_at              INTEGER NOT NULL
);
CREATE INDEX tenants_status_id ON tenants (status, id);
CREATE INDEX tenants_plan_id ON tenants (plan, id);

-- Holds: the rows a tenant's suspension (or soft delete) moved, so that
-- unsuspend moves back exactly those. Deleting the user, key or tenant
-- drops the hold with it.
CREATE TABLE tenant_held_users (
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (tenant_id, user_id)
) WITHOUT ROWID;
CREATE INDEX tenant_held_users_user ON tenant_held_users (user_id);

CREATE TABLE tenant_held_keys (
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    key_id    TEXT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    PRIMARY KEY (tenant_id, key_id)
) WITHOUT ROWID;
CREATE INDEX tenant_held_keys_key ON tenant_held_keys (key_id);

CREATE TABLE tenant_plan_changes (
    id         TEXT    NOT NULL PRIMARY KEY,
    tenant_id  TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    from_plan  TEXT    NOT NULL,
    to_plan    TEXT    NOT NULL,
    prorate    INTEGER NOT NULL,
    changed_by TEXT    NOT NULL DEFAULT '',
    changed_at INTEGER NOT NULL
);
CREATE INDEX tenant_plan_changes_tenant ON tenant_plan_changes (tenant_id, id);

-- Users and keys written before this migration may name tenants that
-- had no row: give each such id an active tenant on the free plan, its id
-- as name and slug, so every reference resolves.
INSERT INTO tenants (id, name, slug, plan, status, billing_period_start, created_at, updated_at)
SELECT tid, tid, tid, 'free', 'active', now, now, now
FROM (SELECT tenant_id AS tid FROM users WHERE tenant_id IS NOT NULL AND tenant_id <> ''
      UNION
      SELECT tenant_id FROM api_keys WHERE tenant_id IS NOT NULL AND tenant_id <> ''),
     (SELECT CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER) AS now);

-- +goose Down
DROP TABLE tenant_plan_changes;
DROP TABLE tenant_held_keys;
DROP TABLE tenant_held_users;
DROP TABLE tenants;
