-- Per-user spending caps and the platform's spending defaults (issue 12,
-- service/usercaps.go, service/configlimits.go). Conventions as in 00001.

-- +goose Up
-- A tenant's default caps for its users; NULL: the platform's.
ALTER TABLE tenants ADD COLUMN user_monthly_cap bigint;
ALTER TABLE tenants ADD COLUMN user_daily_cap bigint;
ALTER TABLE tenants ADD COLUMN user_session_cap bigint;
-- 0 now means "the platform's alert threshold". Tenants were written with
-- 80, the built-in default, when none was given: the same value as the
-- platform's default, so nothing changes until an operator sets one.
UPDATE tenants SET alert_threshold_percent = 0 WHERE alert_threshold_percent = 80;

-- A user's own caps; NULL: the tenant's default, then the platform's.
CREATE TABLE user_spending_caps (
    user_id     text        NOT NULL,
    monthly_cap bigint,
    daily_cap   bigint,
    session_cap bigint,
    updated_at  timestamptz NOT NULL,
    CONSTRAINT user_spending_caps_pkey PRIMARY KEY (user_id),
    CONSTRAINT user_spending_caps_user_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);

-- What a user spent in the tenant's current billing period and UTC day,
-- written in the deduct's transaction under the tenant's account lock.
-- user_id is what usage events and deducts name: not necessarily a
-- Steward user, so no foreign key.
CREATE TABLE user_spend (
    tenant_id   text        NOT NULL,
    user_id     text        NOT NULL,
    day_start   timestamptz NOT NULL,
    day_spent   bigint      NOT NULL,
    month_start timestamptz NOT NULL,
    month_spent bigint      NOT NULL,
    CONSTRAINT user_spend_pkey PRIMARY KEY (tenant_id, user_id),
    CONSTRAINT user_spend_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
);

-- What a user spent in one session (usage reported with a session_id).
CREATE TABLE user_session_spend (
    tenant_id  text        NOT NULL,
    user_id    text        NOT NULL,
    session_id text        NOT NULL,
    spent      bigint      NOT NULL,
    updated_at timestamptz NOT NULL,
    CONSTRAINT user_session_spend_pkey PRIMARY KEY (tenant_id, user_id, session_id),
    CONSTRAINT user_session_spend_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
);

-- +goose Down
DROP TABLE user_session_spend;
DROP TABLE user_spend;
DROP TABLE user_spending_caps;
UPDATE tenants SET alert_threshold_percent = 80 WHERE alert_threshold_percent = 0;
ALTER TABLE tenants DROP COLUMN user_session_cap;
ALTER TABLE tenants DROP COLUMN user_daily_cap;
ALTER TABLE tenants DROP COLUMN user_monthly_cap;
