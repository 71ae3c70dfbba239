-- Key analytics (issue 11): verifications per key, UTC minute and outcome
-- code, flushed from memory in batches (service/keyusage.go). Conventions as
-- in 00001: times are INTEGER unix microseconds, UTC; tenant_id is '' for a
-- key without a tenant.

-- +goose Up
-- A key's rows go with the key (a purge, or its user's or tenant's).
CREATE TABLE key_usage (
    key_id    TEXT    NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    tenant_id TEXT    NOT NULL DEFAULT '',
    minute    INTEGER NOT NULL,
    code      TEXT    NOT NULL,
    count     INTEGER NOT NULL,
    PRIMARY KEY (key_id, minute, code)
);
-- A tenant's report, and the report over every key and the retention prune.
CREATE INDEX key_usage_tenant_minute ON key_usage (tenant_id, minute);
CREATE INDEX key_usage_minute ON key_usage (minute);

-- NOT_FOUND names no key: counted per minute only.
CREATE TABLE key_usage_not_found (
    minute INTEGER NOT NULL PRIMARY KEY,
    count  INTEGER NOT NULL
);

-- +goose Down
DROP TABLE key_usage_not_found;
DROP TABLE key_usage;
