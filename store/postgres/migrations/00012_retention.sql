-- Data retention (issue 12): how long each data set is kept, and when the
-- retention run last finished (the daily sweep's clock).

-- +goose Up
-- A data set without a row keeps its default (service/retention.go); days 0
-- is "never": kept forever.
CREATE TABLE retention_settings (
    data_set text    NOT NULL,
    days     integer NOT NULL,
    CONSTRAINT retention_settings_pkey PRIMARY KEY (data_set),
    CONSTRAINT retention_settings_days_check CHECK (days >= 0)
);

-- One row: the last run's end.
CREATE TABLE retention_state (
    id          integer     NOT NULL,
    last_run_at timestamptz NOT NULL,
    CONSTRAINT retention_state_pkey PRIMARY KEY (id),
    CONSTRAINT retention_state_id_check CHECK (id = 1)
);

-- The purge of ended sessions reads them by when they ended (expires_at has
-- its index since 00001).
CREATE INDEX sessions_revoked_at ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX impersonations_ended_at ON impersonations (ended_at) WHERE ended_at IS NOT NULL;

-- +goose Down
DROP INDEX impersonations_ended_at;
DROP INDEX sessions_revoked_at;
DROP TABLE retention_state;
DROP TABLE retention_settings;
