-- Data retention, the rest (issue 12): the audit log's anchor, and the
-- index the purge of the dashboard's remembered days reads. Conventions as
-- in 00001: times are INTEGER unix microseconds, UTC.

-- +goose Up
-- One row once retention purged the oldest audit entries: the last purged
-- entry's seq and hash, where verification starts (docs/audit-log.md). No
-- row: the chain starts at seq 1.
CREATE TABLE audit_anchor (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT    NOT NULL,
    at   INTEGER NOT NULL
);

-- The user_activity purge deletes remembered days by day (any zone).
CREATE INDEX active_days_day ON active_days (day);

-- +goose Down
DROP INDEX active_days_day;
DROP TABLE audit_anchor;
