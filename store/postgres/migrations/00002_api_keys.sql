-- +goose Up
-- Conventions as in 00001: constraint names are spelled out (the store maps
-- a unique violation to the domain field by name); optional text is '' except
-- tenant_id, NULL when the key has no tenant.

-- Only the secret's SHA-256 is stored. Verification finds a key by it on
-- every call, through the unique index of api_keys_secret_hash_key.
CREATE TABLE api_keys (
    id             text        NOT NULL,
    name           text        NOT NULL DEFAULT '',
    key_type       text        NOT NULL,
    purpose        text        NOT NULL DEFAULT '',
    tenant_id      text,
    user_id        text        NOT NULL,
    scopes         text[]      NOT NULL DEFAULT '{}',
    rate_limit_rpm bigint      NOT NULL DEFAULT 0,
    expires_at     timestamptz,
    allowed_ips    text[]      NOT NULL DEFAULT '{}',
    status         text        NOT NULL,
    revoked_at     timestamptz,
    revoked_reason text        NOT NULL DEFAULT '',
    rotated_from   text        NOT NULL DEFAULT '',
    key_prefix     text        NOT NULL DEFAULT '',
    last_four      text        NOT NULL DEFAULT '',
    last_used_at   timestamptz,
    last_used_ip   text        NOT NULL DEFAULT '',
    created_by     text        NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    secret_hash    bytea       NOT NULL,
    CONSTRAINT api_keys_pkey PRIMARY KEY (id),
    CONSTRAINT api_keys_secret_hash_key UNIQUE (secret_hash),
    CONSTRAINT api_keys_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);

-- Keyset lists walk (filter, id) backwards; (user_id, id) also serves the
-- cascade when a user is purged.
CREATE INDEX api_keys_tenant_id_id ON api_keys (tenant_id, id);
CREATE INDEX api_keys_user_id_id ON api_keys (user_id, id);
CREATE INDEX api_keys_status_id ON api_keys (status, id);
CREATE INDEX api_keys_key_type_id ON api_keys (key_type, id);

-- The first answer to a POST sent with an Idempotency-Key. key_hash is a
-- SHA-256; body is NULL until the answer is stored.
CREATE TABLE idempotency (
    key_hash     bytea       NOT NULL,
    request_hash bytea       NOT NULL,
    status       integer     NOT NULL DEFAULT 0,
    body         bytea,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    CONSTRAINT idempotency_pkey PRIMARY KEY (key_hash)
);
CREATE INDEX idempotency_expires_at ON idempotency (expires_at);

-- +goose Down
DROP TABLE idempotency;
DROP TABLE api_keys;
