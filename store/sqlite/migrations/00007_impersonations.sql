-- Impersonation (issue 10): one row per impersonation an operator started,
-- kept after it ends (and after either user is purged) as the record of who
-- looked at whose account, when and why. The session it issued names it.

-- +goose Up
CREATE TABLE impersonations (
    id                     TEXT    PRIMARY KEY,
    user_id                TEXT    NOT NULL,
    operator_id            TEXT    NOT NULL,
    session_id             TEXT    NOT NULL,
    tenant_id              TEXT    NOT NULL DEFAULT '',
    reason                 TEXT    NOT NULL,
    read_only              INTEGER NOT NULL,
    operator_token_version INTEGER NOT NULL,
    started_at             INTEGER NOT NULL,
    expires_at             INTEGER NOT NULL,
    ended_at               INTEGER,
    ended_by               TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX impersonations_user_id ON impersonations (user_id, id);
CREATE INDEX impersonations_operator_id ON impersonations (operator_id, id);
CREATE INDEX impersonations_open ON impersonations (expires_at) WHERE ended_at IS NULL;
ALTER TABLE sessions ADD COLUMN impersonation_id TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE sessions DROP COLUMN impersonation_id;
DROP TABLE impersonations;
