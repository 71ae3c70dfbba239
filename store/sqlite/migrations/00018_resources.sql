-- Resources: the product's own machines (Miosa's computers), issue 13 and
-- docs/resources.md. Conventions as in 00001: times are INTEGER unix
-- microseconds, UTC; optional text is '' rather than NULL, except user_id,
-- which is NULL when none so that its foreign key can hold.

-- +goose Up
CREATE TABLE resources (
    id                   TEXT    NOT NULL PRIMARY KEY,
    kind                 TEXT    NOT NULL,
    -- Purging the tenant erases its resources; erasing a user unlinks them.
    tenant_id            TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id              TEXT    REFERENCES users (id) ON DELETE SET NULL,
    name                 TEXT    NOT NULL DEFAULT '',
    status               TEXT    NOT NULL,
    metadata             TEXT    NOT NULL DEFAULT '{}',
    last_seen_at         INTEGER NOT NULL,
    desired_status       TEXT    NOT NULL,
    desired_at           INTEGER NOT NULL,
    desired_by           TEXT    NOT NULL DEFAULT '',
    -- 1: the tenant's suspension or deletion set desired_status; releasing
    -- the tenant moves back exactly these rows.
    held_by_tenant       INTEGER NOT NULL DEFAULT 0,
    restart_id           TEXT    NOT NULL DEFAULT '',
    restart_requested_at INTEGER,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);
CREATE INDEX resources_tenant_id ON resources (tenant_id, id);
CREATE INDEX resources_status_id ON resources (status, id);
CREATE INDEX resources_kind_id ON resources (kind, id);
CREATE INDEX resources_last_seen ON resources (last_seen_at, id);
CREATE INDEX resources_user ON resources (user_id);

-- +goose Down
DROP TABLE resources;
