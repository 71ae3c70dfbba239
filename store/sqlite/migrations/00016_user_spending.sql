-- Per-user spending caps and the platform's spending defaults (issue 12,
-- service/usercaps.go, service/configlimits.go). Conventions as in 00001.

-- +goose Up
-- A tenant's default caps for its users; NULL: the platform's.
ALTER TABLE tenants ADD COLUMN user_monthly_cap INTEGER;
ALTER TABLE tenants ADD COLUMN user_daily_cap INTEGER;
ALTER TABLE tenants ADD COLUMN user_session_cap INTEGER;
-- 0 now means "the platform's alert threshold". Tenants were written with
-- 80, the built-in default, when none was given: the same value as the
-- platform's default, so nothing changes until an operator sets one.
UPDATE tenants SET alert_threshold_percent = 0 WHERE alert_threshold_percent = 80;

-- A user's own caps; NULL: the tenant's default, then the platform's.
CREATE TABLE user_spending_caps (
    user_id     TEXT    NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    monthly_cap INTEGER,
    daily_cap   INTEGER,
    session_cap INTEGER,
    updated_at  INTEGER NOT NULL
);

-- What a user spent in the tenant's current billing period and UTC day,
-- written in the deduct's transaction under the tenant's account lock.
-- user_id is what usage events and deducts name: not necessarily a
-- Steward user, so no foreign key.
CREATE TABLE user_spend (
    tenant_id   TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id     TEXT    NOT NULL,
    day_start   INTEGER NOT NULL,
    day_spent   INTEGER NOT NULL,
    month_start INTEGER NOT NULL,
    month_spent INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);

-- What a user spent in one session (usage reported with a session_id).
CREATE TABLE user_session_spend (
    tenant_id  TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id    TEXT    NOT NULL,
    session_id TEXT    NOT NULL,
    spent      INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, user_id, session_id)
);

-- +goose Down
DROP TABLE user_session_spend;
DROP TABLE user_spend;
DROP TABLE user_spending_caps;
UPDATE tenants SET alert_threshold_percent = 80 WHERE alert_threshold_percent = 0;
ALTER TABLE tenants DROP COLUMN user_session_cap;
ALTER TABLE tenants DROP COLUMN user_daily_cap;
ALTER TABLE tenants DROP COLUMN user_monthly_cap;
