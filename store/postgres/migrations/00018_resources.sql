-- Resources: the product's own machines (Miosa's computers), issue 13 and
-- docs/resources.md. Conventions as in 00001; user_id is NULL when none so
-- that its foreign key can hold.

-- +goose Up
CREATE TABLE resources (
    id                   text        NOT NULL,
    kind                 text        NOT NULL,
    tenant_id            text        NOT NULL,
    user_id              text,
    name                 text        NOT NULL DEFAULT '',
    status               text        NOT NULL,
    metadata             text        NOT NULL DEFAULT '{}',
    last_seen_at         timestamptz NOT NULL,
    desired_status       text        NOT NULL,
    desired_at           timestamptz NOT NULL,
    desired_by           text        NOT NULL DEFAULT '',
    -- true: the tenant's suspension or deletion set desired_status;
    -- releasing the tenant moves back exactly these rows.
    held_by_tenant       boolean     NOT NULL DEFAULT false,
    restart_id           text        NOT NULL DEFAULT '',
    restart_requested_at timestamptz,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    CONSTRAINT resources_pkey PRIMARY KEY (id),
    -- Purging the tenant erases its resources; erasing a user unlinks them.
    CONSTRAINT resources_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE,
    CONSTRAINT resources_user_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE SET NULL
);
CREATE INDEX resources_tenant_id ON resources (tenant_id, id);
CREATE INDEX resources_status_id ON resources (status, id);
CREATE INDEX resources_kind_id ON resources (kind, id);
CREATE INDEX resources_last_seen ON resources (last_seen_at, id);
CREATE INDEX resources_user ON resources (user_id);

-- +goose Down
DROP TABLE resources;
