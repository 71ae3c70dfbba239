-- Key analytics (issue 11): verifications per key, UTC minute and outcome
-- code, flushed from memory in batches (service/keyusage.go). tenant_id is ''
-- for a key without a tenant.

-- +goose Up
-- A key's rows go with the key (a purge, or its user's or tenant's).
CREATE TABLE key_usage (
    key_id    text        NOT NULL,
    tenant_id text        NOT NULL DEFAULT '',
    minute    timestamptz NOT NULL,
    code      text        NOT NULL,
    count     bigint      NOT NULL,
    CONSTRAINT key_usage_pkey PRIMARY KEY (key_id, minute, code),
    CONSTRAINT key_usage_key_id_fkey FOREIGN KEY (key_id) REFERENCES api_keys (id) ON DELETE CASCADE
);
-- A tenant's report, and the report over every key and the retention prune.
CREATE INDEX key_usage_tenant_minute ON key_usage (tenant_id, minute);
CREATE INDEX key_usage_minute ON key_usage (minute);

-- NOT_FOUND names no key: counted per minute only.
CREATE TABLE key_usage_not_found (
    minute timestamptz NOT NULL,
    count  bigint      NOT NULL,
    CONSTRAINT key_usage_not_found_pkey PRIMARY KEY (minute)
);

-- +goose Down
DROP TABLE key_usage_not_found;
DROP TABLE key_usage;
