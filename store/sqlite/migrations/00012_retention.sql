-- Data retention (issue 12): how long each data set is kept, and when the
-- retention run last finished (the daily sweep's clock). Conventions as in
-- 00001: times are INTEGER unix microseconds, UTC.

-- +goose Up
-- A data set without a row keeps its default (service/retention.go); days 0
-- is "never": kept forever.
CREATE TABLE retention_settings (
    data_set TEXT    PRIMARY KEY,
    days     INTEGER NOT NULL CHECK (days >= 0)
);

-- One row: the last run's end.
CREATE TABLE retention_state (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    last_run_at INTEGER NOT NULL
);

-- The purge of ended sessions reads them by when they ended.
CREATE INDEX sessions_revoked_at ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX sessions_expires_at ON sessions (expires_at);
CREATE INDEX impersonations_ended_at ON impersonations (ended_at) WHERE ended_at IS NOT NULL;

-- +goose Down
DROP INDEX impersonations_ended_at;
DROP INDEX sessions_expires_at;
DROP INDEX sessions_revoked_at;
DROP TABLE retention_state;
DROP TABLE retention_settings;
