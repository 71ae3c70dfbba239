-- Conventions as in 00001: times are INTEGER unix microseconds, UTC.
--
-- Per-period figures (docs/overview.md): hourly buckets and per-tenant
-- monthly totals kept by triggers in the same transaction as the row that
-- moves them, so they always describe the rows Steward holds (a purge or a
-- retention delete subtracts), and a dashboard reads a few hundred bucket
-- rows instead of scanning the tables.

-- +goose Up

-- One row per series (name), UTC hour, key (a usage metric, or '') and
-- shard. SQLite has one writer, so everything is shard 0; PostgreSQL
-- spreads a busy hour over 16 shards and sums them on read.
CREATE TABLE stat_hourly (
    name  TEXT    NOT NULL,
    key   TEXT    NOT NULL,
    hour  INTEGER NOT NULL,
    shard INTEGER NOT NULL,
    value INTEGER NOT NULL,
    PRIMARY KEY (name, hour, key, shard)
) WITHOUT ROWID;

-- Per tenant and UTC calendar month ("2026-12"): what the tenant was
-- granted, used (deducted less refunded) and reported as usage. The two
-- indexes answer "top tenants this month" by walking one month's range.
CREATE TABLE tenant_monthly (
    tenant_id         TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    month             TEXT    NOT NULL,
    credits_granted   INTEGER NOT NULL DEFAULT 0,
    credits_used      INTEGER NOT NULL DEFAULT 0,
    usage_events      INTEGER NOT NULL DEFAULT 0,
    usage_quantity    INTEGER NOT NULL DEFAULT 0,
    usage_cost_micros INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, month)
) WITHOUT ROWID;
CREATE INDEX tenant_monthly_usage ON tenant_monthly (month, usage_events DESC, tenant_id);
CREATE INDEX tenant_monthly_credits ON tenant_monthly (month, credits_used DESC, tenant_id);

-- Which users were active (a login, a refresh, a session or key
-- verification) in which UTC hour; written in batches by each replica.
-- A purged user's rows go with them.
CREATE TABLE user_activity (
    hour    INTEGER NOT NULL,
    user_id TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (hour, user_id)
) WITHOUT ROWID;
CREATE INDEX user_activity_user ON user_activity (user_id);

-- Each user's latest active hour: today's active users in any zone are the
-- users whose latest hour is since today began, one index range count
-- instead of a distinct count over today's activity.
CREATE TABLE user_last_active (
    user_id TEXT    NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    hour    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX user_last_active_hour ON user_last_active (hour);
-- How many users' latest active hour is each hour, kept by the triggers
-- below: today's active users are the sum of today's hours, about 24 rows
-- whatever the number of users.
CREATE TABLE user_last_active_hours (
    hour  INTEGER NOT NULL PRIMARY KEY,
    users INTEGER NOT NULL
);

-- +goose StatementBegin
CREATE TRIGGER user_last_active_ai AFTER INSERT ON user_last_active BEGIN
    INSERT INTO user_last_active_hours VALUES (new.hour, 1) ON CONFLICT DO UPDATE SET users = users + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER user_last_active_au AFTER UPDATE OF hour ON user_last_active BEGIN
    UPDATE user_last_active_hours SET users = users - 1 WHERE hour = old.hour;
    INSERT INTO user_last_active_hours VALUES (new.hour, 1) ON CONFLICT DO UPDATE SET users = users + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER user_last_active_ad AFTER DELETE ON user_last_active BEGIN
    UPDATE user_last_active_hours SET users = users - 1 WHERE hour = old.hour;
END;
-- +goose StatementEnd

-- Distinct active users of a closed day ("2026-12-01") in a time zone,
-- counted once.
CREATE TABLE active_days (
    tz    TEXT    NOT NULL,
    day   TEXT    NOT NULL,
    users INTEGER NOT NULL,
    PRIMARY KEY (tz, day)
) WITHOUT ROWID;

-- The series of closed days, per zone, summed once from the buckets. Any
-- change to a bucket drops the days (of every zone) its hour falls in, so
-- a remembered day always equals the buckets (the trigger on stat_hourly
-- below).
CREATE TABLE series_memo_days (
    tz        TEXT    NOT NULL,
    day       TEXT    NOT NULL,
    from_hour INTEGER NOT NULL,
    to_hour   INTEGER NOT NULL,
    PRIMARY KEY (tz, day)
) WITHOUT ROWID;
-- Days are remembered once closed, so a write to the current hour finds
-- none with to_hour past it: one empty index probe.
CREATE INDEX series_memo_days_to ON series_memo_days (to_hour, from_hour);
CREATE TABLE series_memo (
    tz    TEXT    NOT NULL,
    day   TEXT    NOT NULL,
    name  TEXT    NOT NULL,
    key   TEXT    NOT NULL,
    value INTEGER NOT NULL,
    PRIMARY KEY (tz, day, name, key),
    FOREIGN KEY (tz, day) REFERENCES series_memo_days (tz, day) ON DELETE CASCADE
) WITHOUT ROWID;

-- A bucket that comes back to 0 (every row it counted deleted) goes, so a
-- purge leaves no row behind.
-- +goose StatementBegin
CREATE TRIGGER stat_hourly_zero_au AFTER UPDATE OF value ON stat_hourly WHEN new.value = 0 BEGIN
    DELETE FROM stat_hourly WHERE name = new.name AND hour = new.hour AND key = new.key AND shard = new.shard;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER stat_hourly_memo_ai AFTER INSERT ON stat_hourly BEGIN
    DELETE FROM series_memo_days WHERE to_hour > new.hour AND from_hour <= new.hour;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER stat_hourly_memo_au AFTER UPDATE OF value ON stat_hourly BEGIN
    DELETE FROM series_memo_days WHERE to_hour > new.hour AND from_hour <= new.hour;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER stat_hourly_memo_ad AFTER DELETE ON stat_hourly BEGIN
    DELETE FROM series_memo_days WHERE to_hour > old.hour AND from_hour <= old.hour;
END;
-- +goose StatementEnd

-- Tenants and revenue by plan as the month closed (JSON), written by the
-- first maintenance run after it closes.
CREATE TABLE billing_snapshots (
    month    TEXT    NOT NULL PRIMARY KEY,
    plans    TEXT    NOT NULL,
    taken_at INTEGER NOT NULL
);

-- +goose StatementBegin
CREATE TRIGGER users_series_ai AFTER INSERT ON users BEGIN
    INSERT INTO stat_hourly VALUES ('signups', '', new.created_at - new.created_at % 3600000000, 0, 1)
        ON CONFLICT DO UPDATE SET value = value + excluded.value;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER users_series_ad AFTER DELETE ON users BEGIN
    INSERT INTO stat_hourly VALUES ('signups', '', old.created_at - old.created_at % 3600000000, 0, -1)
        ON CONFLICT DO UPDATE SET value = value + excluded.value;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER users_series_au AFTER UPDATE OF created_at ON users
WHEN old.created_at <> new.created_at BEGIN
    INSERT INTO stat_hourly VALUES ('signups', '', old.created_at - old.created_at % 3600000000, 0, -1)
        ON CONFLICT DO UPDATE SET value = value + excluded.value;
    INSERT INTO stat_hourly VALUES ('signups', '', new.created_at - new.created_at % 3600000000, 0, 1)
        ON CONFLICT DO UPDATE SET value = value + excluded.value;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER sessions_series_ai AFTER INSERT ON sessions BEGIN
    INSERT INTO stat_hourly VALUES ('sessions.started', '', new.created_at - new.created_at % 3600000000, 0, 1)
        ON CONFLICT DO UPDATE SET value = value + excluded.value;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER sessions_series_ad AFTER DELETE ON sessions BEGIN
    INSERT INTO stat_hourly VALUES ('sessions.started', '', old.created_at - old.created_at % 3600000000, 0, -1)
        ON CONFLICT DO UPDATE SET value = value + excluded.value;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER sessions_series_au AFTER UPDATE OF created_at ON sessions
WHEN old.created_at <> new.created_at BEGIN
    INSERT INTO stat_hourly VALUES ('sessions.started', '', old.created_at - old.created_at % 3600000000, 0, -1)
        ON CONFLICT DO UPDATE SET value = value + excluded.value;
    INSERT INTO stat_hourly VALUES ('sessions.started', '', new.created_at - new.created_at % 3600000000, 0, 1)
        ON CONFLICT DO UPDATE SET value = value + excluded.value;
END;
-- +goose StatementEnd

-- Ledger amounts are signed (credits out negative); the series hold
-- magnitudes, except credits.adjusted, which is the net of corrections.
-- credits_used is deducted less refunded: -(deduct + refund amounts).
-- +goose StatementBegin
CREATE TRIGGER credit_entries_series_ai AFTER INSERT ON credit_entries BEGIN
    INSERT INTO stat_hourly VALUES ('credits.' || CASE new.kind WHEN 'grant' THEN 'granted' WHEN 'deduct' THEN 'deducted'
            WHEN 'refund' THEN 'refunded' WHEN 'expire' THEN 'expired' ELSE 'adjusted' END, '',
            new.created_at - new.created_at % 3600000000, 0,
            CASE WHEN new.kind IN ('deduct', 'expire') THEN -new.amount ELSE new.amount END)
        ON CONFLICT DO UPDATE SET value = value + excluded.value;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER credit_entries_series_ad AFTER DELETE ON credit_entries BEGIN
    INSERT INTO stat_hourly VALUES ('credits.' || CASE old.kind WHEN 'grant' THEN 'granted' WHEN 'deduct' THEN 'deducted'
            WHEN 'refund' THEN 'refunded' WHEN 'expire' THEN 'expired' ELSE 'adjusted' END, '',
            old.created_at - old.created_at % 3600000000, 0,
            CASE WHEN old.kind IN ('deduct', 'expire') THEN old.amount ELSE -old.amount END)
        ON CONFLICT DO UPDATE SET value = value + excluded.value;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER credit_entries_monthly_ai AFTER INSERT ON credit_entries
WHEN new.kind IN ('grant', 'deduct', 'refund') BEGIN
    INSERT INTO tenant_monthly (tenant_id, month, credits_granted, credits_used)
        VALUES (new.tenant_id, strftime('%Y-%m', new.created_at / 1000000, 'unixepoch'),
            CASE new.kind WHEN 'grant' THEN new.amount ELSE 0 END,
            CASE new.kind WHEN 'grant' THEN 0 ELSE -new.amount END)
        ON CONFLICT DO UPDATE SET credits_granted = credits_granted + excluded.credits_granted,
            credits_used = credits_used + excluded.credits_used;
END;
-- +goose StatementEnd
-- An UPDATE, not an upsert: when the tenant's purge cascades here, its
-- monthly row may already be gone, and must stay gone.
-- +goose StatementBegin
CREATE TRIGGER credit_entries_monthly_ad AFTER DELETE ON credit_entries
WHEN old.kind IN ('grant', 'deduct', 'refund') BEGIN
    UPDATE tenant_monthly SET
            credits_granted = credits_granted - CASE old.kind WHEN 'grant' THEN old.amount ELSE 0 END,
            credits_used = credits_used + CASE old.kind WHEN 'grant' THEN 0 ELSE old.amount END
        WHERE tenant_id = old.tenant_id AND month = strftime('%Y-%m', old.created_at / 1000000, 'unixepoch');
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER usage_events_series_ai AFTER INSERT ON usage_events BEGIN
    INSERT INTO stat_hourly VALUES ('usage.events', new.metric, new.occurred_at - new.occurred_at % 3600000000, 0, 1)
        ON CONFLICT DO UPDATE SET value = value + excluded.value;
    INSERT INTO stat_hourly VALUES ('usage.quantity', new.metric, new.occurred_at - new.occurred_at % 3600000000, 0, new.quantity)
        ON CONFLICT DO UPDATE SET value = value + excluded.value;
    INSERT INTO stat_hourly VALUES ('usage.cost_micros', new.metric, new.occurred_at - new.occurred_at % 3600000000, 0, new.cost_micros)
        ON CONFLICT DO UPDATE SET value = value + excluded.value;
    INSERT INTO tenant_monthly (tenant_id, month, usage_events, usage_quantity, usage_cost_micros)
        VALUES (new.tenant_id, strftime('%Y-%m', new.occurred_at / 1000000, 'unixepoch'), 1, new.quantity, new.cost_micros)
        ON CONFLICT DO UPDATE SET usage_events = usage_events + 1,
            usage_quantity = usage_quantity + excluded.usage_quantity,
            usage_cost_micros = usage_cost_micros + excluded.usage_cost_micros;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER usage_events_series_ad AFTER DELETE ON usage_events BEGIN
    INSERT INTO stat_hourly VALUES ('usage.events', old.metric, old.occurred_at - old.occurred_at % 3600000000, 0, -1)
        ON CONFLICT DO UPDATE SET value = value + excluded.value;
    INSERT INTO stat_hourly VALUES ('usage.quantity', old.metric, old.occurred_at - old.occurred_at % 3600000000, 0, -old.quantity)
        ON CONFLICT DO UPDATE SET value = value + excluded.value;
    INSERT INTO stat_hourly VALUES ('usage.cost_micros', old.metric, old.occurred_at - old.occurred_at % 3600000000, 0, -old.cost_micros)
        ON CONFLICT DO UPDATE SET value = value + excluded.value;
    UPDATE tenant_monthly SET usage_events = usage_events - 1, usage_quantity = usage_quantity - old.quantity,
            usage_cost_micros = usage_cost_micros - old.cost_micros
        WHERE tenant_id = old.tenant_id AND month = strftime('%Y-%m', old.occurred_at / 1000000, 'unixepoch');
END;
-- +goose StatementEnd

-- Backfill from the rows already held.
INSERT INTO stat_hourly (name, key, hour, shard, value)
    SELECT 'signups', '', created_at - created_at % 3600000000, 0, COUNT(*) FROM users GROUP BY 3;
INSERT INTO stat_hourly (name, key, hour, shard, value)
    SELECT 'sessions.started', '', created_at - created_at % 3600000000, 0, COUNT(*) FROM sessions GROUP BY 3;
INSERT INTO stat_hourly (name, key, hour, shard, value)
    SELECT 'credits.' || CASE kind WHEN 'grant' THEN 'granted' WHEN 'deduct' THEN 'deducted'
            WHEN 'refund' THEN 'refunded' WHEN 'expire' THEN 'expired' ELSE 'adjusted' END,
        '', created_at - created_at % 3600000000, 0,
        SUM(CASE WHEN kind IN ('deduct', 'expire') THEN -amount ELSE amount END)
    FROM credit_entries GROUP BY 1, 3;
INSERT INTO stat_hourly (name, key, hour, shard, value)
    SELECT n.name, metric, occurred_at - occurred_at % 3600000000, 0,
        SUM(CASE n.name WHEN 'usage.events' THEN 1 WHEN 'usage.quantity' THEN quantity ELSE cost_micros END)
    FROM usage_events, (SELECT 'usage.events' AS name UNION ALL SELECT 'usage.quantity' UNION ALL SELECT 'usage.cost_micros') n
    GROUP BY 1, 2, 3;
INSERT INTO tenant_monthly (tenant_id, month, credits_granted, credits_used, usage_events, usage_quantity, usage_cost_micros)
    SELECT tenant_id, month, SUM(g), SUM(u), SUM(e), SUM(q), SUM(c) FROM (
        SELECT tenant_id, strftime('%Y-%m', created_at / 1000000, 'unixepoch') AS month,
            CASE kind WHEN 'grant' THEN amount ELSE 0 END AS g, CASE kind WHEN 'grant' THEN 0 ELSE -amount END AS u,
            0 AS e, 0 AS q, 0 AS c
        FROM credit_entries WHERE kind IN ('grant', 'deduct', 'refund')
        UNION ALL
        SELECT tenant_id, strftime('%Y-%m', occurred_at / 1000000, 'unixepoch'), 0, 0, 1, quantity, cost_micros
        FROM usage_events)
    GROUP BY tenant_id, month;

-- +goose Down
DROP TRIGGER usage_events_series_ad;
DROP TRIGGER usage_events_series_ai;
DROP TRIGGER credit_entries_monthly_ad;
DROP TRIGGER credit_entries_monthly_ai;
DROP TRIGGER credit_entries_series_ad;
DROP TRIGGER credit_entries_series_ai;
DROP TRIGGER sessions_series_au;
DROP TRIGGER sessions_series_ad;
DROP TRIGGER sessions_series_ai;
DROP TRIGGER users_series_au;
DROP TRIGGER users_series_ad;
DROP TRIGGER users_series_ai;
DROP TRIGGER stat_hourly_zero_au;
DROP TRIGGER stat_hourly_memo_ad;
DROP TRIGGER stat_hourly_memo_au;
DROP TRIGGER stat_hourly_memo_ai;
DROP TABLE series_memo;
DROP TABLE series_memo_days;
DROP TABLE billing_snapshots;
DROP TABLE active_days;
DROP TRIGGER user_last_active_ad;
DROP TRIGGER user_last_active_au;
DROP TRIGGER user_last_active_ai;
DROP TABLE user_last_active_hours;
DROP TABLE user_last_active;
DROP TABLE user_activity;
DROP TABLE tenant_monthly;
DROP TABLE stat_hourly;
