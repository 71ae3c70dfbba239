-- Conventions as in 00001: times are INTEGER unix microseconds, UTC; optional
-- text is '' rather than NULL, except tenant_id (NULL keeps the index to keys
-- that have one) and times, where NULL means "absent". Lists are JSON arrays.

-- +goose Up

-- Only the secret's SHA-256 is stored. Verification finds a key by it on
-- every call, so it has a unique index of its own.
CREATE TABLE api_keys (
    id             TEXT    NOT NULL PRIMARY KEY,
    name           TEXT    NOT NULL DEFAULT '',
    key_type       TEXT    NOT NULL,
    purpose        TEXT    NOT NULL DEFAULT '',
    tenant_id      TEXT,
    user_id        TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scopes         TEXT    NOT NULL DEFAULT '[]',
    rate_limit_rpm INTEGER NOT NULL DEFAULT 0,
    expires_at     INTEGER,
    allowed_ips    TEXT    NOT NULL DEFAULT '[]',
    status         TEXT    NOT NULL,
    revoked_at     INTEGER,
    revoked_reason TEXT    NOT NULL DEFAULT '',
    rotated_from   TEXT    NOT NULL DEFAULT '',
    key_prefix     TEXT    NOT NULL DEFAULT '',
    last_four      TEXT    NOT NULL DEFAULT '',
    last_used_at   INTEGER,
    last_used_ip   TEXT    NOT NULL DEFAULT '',
    created_by     TEXT    NOT NULL DEFAULT '',
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    secret_hash    BLOB    NOT NULL UNIQUE
);

-- As for users: each list filter alone is a range scan already in id order.
-- (user_id, id) also serves the ON DELETE CASCADE of a purged user.
CREATE INDEX api_keys_tenant_id ON api_keys (tenant_id, id);
CREATE INDEX api_keys_user_id ON api_keys (user_id, id);
CREATE INDEX api_keys_status_id ON api_keys (status, id);
CREATE INDEX api_keys_type_id ON api_keys (key_type, id);

-- The first answer to a POST sent with an Idempotency-Key. key_hash is a
-- SHA-256; body is NULL until the answer is stored.
CREATE TABLE idempotency (
    key_hash     BLOB    NOT NULL PRIMARY KEY,
    request_hash BLOB    NOT NULL,
    status       INTEGER NOT NULL DEFAULT 0,
    body         BLOB,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX idempotency_expires_at ON idempotency (expires_at);

-- +goose Down
DROP TABLE idempotency;
DROP TABLE api_keys;
