-- +goose Up
-- Conventions as in 00001. Per-period figures (docs/overview.md): hourly
-- buckets and per-tenant monthly totals kept by triggers in the same
-- transaction as the row that moves them, so they always describe the rows
-- Steward holds (a purge or a retention delete subtracts), and a dashboard
-- reads bucket rows instead of scanning the tables.

-- One row per series (name), UTC hour, key (a usage metric, or '') and
-- shard. A transaction writes to its connection's shard (backend pid mod
-- 16), so concurrent writers of one busy hour upsert different rows instead
-- of queueing on one; a read sums the shards. Sharding by connection rather
-- than by row keeps all of one transaction's upserts in one shard: two
-- batches whose rows hashed to the same shards in opposite orders would
-- otherwise deadlock.
CREATE TABLE stat_hourly (
    name  text        NOT NULL,
    key   text        NOT NULL,
    hour  timestamptz NOT NULL,
    shard smallint    NOT NULL,
    value bigint      NOT NULL,
    CONSTRAINT stat_hourly_pkey PRIMARY KEY (name, hour, key, shard)
);
-- Maintenance folds the shards of past hours into shard 0 (CompactSeries),
-- so a month of buckets is one row per series and hour again; this finds
-- the few rows left to fold.
CREATE INDEX stat_hourly_sharded ON stat_hourly (hour) WHERE shard <> 0;

-- Per tenant and UTC calendar month ("2026-12"). A tenant's writes are
-- serialised by its ledger account already, so these rows are not sharded.
-- The two indexes answer "top tenants this month" by walking one month.
CREATE TABLE tenant_monthly (
    tenant_id         text   NOT NULL,
    month             text   NOT NULL,
    credits_granted   bigint NOT NULL DEFAULT 0,
    credits_used      bigint NOT NULL DEFAULT 0,
    usage_events      bigint NOT NULL DEFAULT 0,
    usage_quantity    bigint NOT NULL DEFAULT 0,
    usage_cost_micros bigint NOT NULL DEFAULT 0,
    CONSTRAINT tenant_monthly_pkey PRIMARY KEY (tenant_id, month),
    CONSTRAINT tenant_monthly_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
);
CREATE INDEX tenant_monthly_usage ON tenant_monthly (month, usage_events DESC, tenant_id);
CREATE INDEX tenant_monthly_credits ON tenant_monthly (month, credits_used DESC, tenant_id);

-- Which users were active in which UTC hour; written in batches by each
-- replica. A purged user's rows go with them.
CREATE TABLE user_activity (
    hour    timestamptz NOT NULL,
    user_id text        NOT NULL,
    CONSTRAINT user_activity_pkey PRIMARY KEY (hour, user_id),
    CONSTRAINT user_activity_user_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);
CREATE INDEX user_activity_user ON user_activity (user_id);

-- Each user's latest active hour: today's active users in any zone are the
-- users whose latest hour is since today began, one index range count
-- instead of a distinct count over today's activity.
CREATE TABLE user_last_active (
    user_id text        NOT NULL,
    hour    timestamptz NOT NULL,
    CONSTRAINT user_last_active_pkey PRIMARY KEY (user_id),
    CONSTRAINT user_last_active_user_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);
CREATE INDEX user_last_active_hour ON user_last_active (hour);
-- How many users' latest active hour is each hour, kept by the trigger
-- below: today's active users are the sum of today's hours, about 24 rows
-- whatever the number of users.
CREATE TABLE user_last_active_hours (
    hour  timestamptz NOT NULL,
    users bigint      NOT NULL,
    CONSTRAINT user_last_active_hours_pkey PRIMARY KEY (hour)
);

-- +goose StatementBegin
CREATE FUNCTION user_last_active_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        UPDATE user_last_active_hours SET users = users - 1 WHERE hour = OLD.hour;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO user_last_active_hours (hour, users) VALUES (NEW.hour, 1)
        ON CONFLICT (hour) DO UPDATE SET users = user_last_active_hours.users + 1;
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd
CREATE TRIGGER user_last_active_count AFTER INSERT OR DELETE ON user_last_active FOR EACH ROW
    EXECUTE FUNCTION user_last_active_count();
CREATE TRIGGER user_last_active_count_u AFTER UPDATE OF hour ON user_last_active FOR EACH ROW
    WHEN (OLD.hour IS DISTINCT FROM NEW.hour) EXECUTE FUNCTION user_last_active_count();

-- Distinct active users of a closed day in a time zone, counted once.
CREATE TABLE active_days (
    tz    text   NOT NULL,
    day   text   NOT NULL,
    users bigint NOT NULL,
    CONSTRAINT active_days_pkey PRIMARY KEY (tz, day)
);

-- The series of closed days, per zone, summed once from the buckets. Any
-- change to a bucket drops the days (of every zone) its hour falls in, so
-- a remembered day always equals the buckets (stat_hourly_memo below).
-- Remembering takes a lock that the drop conflicts with (LockSeriesMemo),
-- so no change can slip between its read of the buckets and its commit.
CREATE TABLE series_memo_days (
    tz        text        NOT NULL,
    day       text        NOT NULL,
    from_hour timestamptz NOT NULL,
    to_hour   timestamptz NOT NULL,
    CONSTRAINT series_memo_days_pkey PRIMARY KEY (tz, day)
);
-- Days are remembered once closed, so a write to the current hour finds
-- none with to_hour past it: one empty index probe.
CREATE INDEX series_memo_days_to ON series_memo_days (to_hour, from_hour);
CREATE TABLE series_memo (
    tz    text   NOT NULL,
    day   text   NOT NULL,
    name  text   NOT NULL,
    key   text   NOT NULL,
    value bigint NOT NULL,
    CONSTRAINT series_memo_pkey PRIMARY KEY (tz, day, name, key),
    CONSTRAINT series_memo_day_fkey FOREIGN KEY (tz, day) REFERENCES series_memo_days (tz, day) ON DELETE CASCADE
);

-- +goose StatementBegin
CREATE FUNCTION stat_hourly_memo() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    h timestamptz;
BEGIN
    IF TG_OP = 'DELETE' THEN
        h := OLD.hour;
    ELSE
        h := NEW.hour;
    END IF;
    DELETE FROM series_memo_days WHERE to_hour > h AND from_hour <= h;
    RETURN NULL;
END $$;
-- +goose StatementEnd
CREATE TRIGGER stat_hourly_memo AFTER INSERT OR DELETE OR UPDATE OF value ON stat_hourly FOR EACH ROW
    EXECUTE FUNCTION stat_hourly_memo();

-- A bucket that comes back to 0 (every row it counted deleted) goes, so a
-- purge leaves no row behind.
-- +goose StatementBegin
CREATE FUNCTION stat_hourly_zero() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM stat_hourly WHERE name = NEW.name AND hour = NEW.hour AND key = NEW.key AND shard = NEW.shard
        AND value = 0;
    RETURN NULL;
END $$;
-- +goose StatementEnd
CREATE TRIGGER stat_hourly_zero AFTER UPDATE OF value ON stat_hourly FOR EACH ROW WHEN (NEW.value = 0)
    EXECUTE FUNCTION stat_hourly_zero();

-- Tenants and revenue by plan as the month closed.
CREATE TABLE billing_snapshots (
    month    text        NOT NULL,
    plans    jsonb       NOT NULL,
    taken_at timestamptz NOT NULL,
    CONSTRAINT billing_snapshots_pkey PRIMARY KEY (month)
);

-- +goose StatementBegin
CREATE FUNCTION stat_add(p_name text, p_key text, p_at timestamptz, p_delta bigint) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO stat_hourly (name, key, hour, shard, value)
    VALUES (p_name, p_key, date_trunc('hour', p_at, 'UTC'), pg_backend_pid() & 15, p_delta)
    ON CONFLICT (name, hour, key, shard) DO UPDATE SET value = stat_hourly.value + EXCLUDED.value
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION users_stat() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM stat_add('signups', '', OLD.created_at, -1);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM stat_add('signups', '', NEW.created_at, 1);
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd
CREATE TRIGGER users_stat AFTER INSERT OR DELETE ON users FOR EACH ROW EXECUTE FUNCTION users_stat();
CREATE TRIGGER users_stat_u AFTER UPDATE OF created_at ON users FOR EACH ROW
    WHEN (OLD.created_at IS DISTINCT FROM NEW.created_at) EXECUTE FUNCTION users_stat();

-- +goose StatementBegin
CREATE FUNCTION sessions_stat() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM stat_add('sessions.started', '', OLD.created_at, -1);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM stat_add('sessions.started', '', NEW.created_at, 1);
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd
CREATE TRIGGER sessions_stat AFTER INSERT OR DELETE ON sessions FOR EACH ROW EXECUTE FUNCTION sessions_stat();
CREATE TRIGGER sessions_stat_u AFTER UPDATE OF created_at ON sessions FOR EACH ROW
    WHEN (OLD.created_at IS DISTINCT FROM NEW.created_at) EXECUTE FUNCTION sessions_stat();

-- Ledger amounts are signed (credits out negative); the series hold
-- magnitudes, except credits.adjusted, the net of corrections.
-- credits_used is deducted less refunded: -(deduct + refund amounts).
-- +goose StatementBegin
CREATE FUNCTION credit_series(kind text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT 'credits.' || CASE kind WHEN 'grant' THEN 'granted' WHEN 'deduct' THEN 'deducted'
        WHEN 'refund' THEN 'refunded' WHEN 'expire' THEN 'expired' ELSE 'adjusted' END
$$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE FUNCTION credit_entries_stat() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    e   credit_entries;
    dir bigint;
BEGIN
    IF TG_OP = 'INSERT' THEN
        e := NEW; dir := 1;
    ELSE
        e := OLD; dir := -1;
    END IF;
    PERFORM stat_add(credit_series(e.kind), '', e.created_at,
        dir * CASE WHEN e.kind IN ('deduct', 'expire') THEN -e.amount ELSE e.amount END);
    IF e.kind NOT IN ('grant', 'deduct', 'refund') THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO tenant_monthly (tenant_id, month, credits_granted, credits_used)
        VALUES (e.tenant_id, to_char(e.created_at AT TIME ZONE 'UTC', 'YYYY-MM'),
            CASE e.kind WHEN 'grant' THEN e.amount ELSE 0 END, CASE e.kind WHEN 'grant' THEN 0 ELSE -e.amount END)
        ON CONFLICT (tenant_id, month) DO UPDATE SET
            credits_granted = tenant_monthly.credits_granted + EXCLUDED.credits_granted,
            credits_used = tenant_monthly.credits_used + EXCLUDED.credits_used;
    ELSE
        -- An UPDATE, not an upsert: when the tenant's purge cascades here,
        -- its monthly row may already be gone, and must stay gone.
        UPDATE tenant_monthly SET
            credits_granted = credits_granted - CASE e.kind WHEN 'grant' THEN e.amount ELSE 0 END,
            credits_used = credits_used + CASE e.kind WHEN 'grant' THEN 0 ELSE e.amount END
        WHERE tenant_id = e.tenant_id AND month = to_char(e.created_at AT TIME ZONE 'UTC', 'YYYY-MM');
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd
CREATE TRIGGER credit_entries_stat AFTER INSERT OR DELETE ON credit_entries FOR EACH ROW
    EXECUTE FUNCTION credit_entries_stat();

-- +goose StatementBegin
CREATE FUNCTION usage_events_stat() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    e   usage_events;
    dir bigint;
BEGIN
    IF TG_OP = 'INSERT' THEN
        e := NEW; dir := 1;
    ELSE
        e := OLD; dir := -1;
    END IF;
    PERFORM stat_add('usage.events', e.metric, e.occurred_at, dir);
    PERFORM stat_add('usage.quantity', e.metric, e.occurred_at, dir * e.quantity);
    PERFORM stat_add('usage.cost_micros', e.metric, e.occurred_at, dir * e.cost_micros);
    IF TG_OP = 'INSERT' THEN
        INSERT INTO tenant_monthly (tenant_id, month, usage_events, usage_quantity, usage_cost_micros)
        VALUES (e.tenant_id, to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM'), 1, e.quantity, e.cost_micros)
        ON CONFLICT (tenant_id, month) DO UPDATE SET
            usage_events = tenant_monthly.usage_events + 1,
            usage_quantity = tenant_monthly.usage_quantity + EXCLUDED.usage_quantity,
            usage_cost_micros = tenant_monthly.usage_cost_micros + EXCLUDED.usage_cost_micros;
    ELSE
        UPDATE tenant_monthly SET usage_events = usage_events - 1, usage_quantity = usage_quantity - e.quantity,
            usage_cost_micros = usage_cost_micros - e.cost_micros
        WHERE tenant_id = e.tenant_id AND month = to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM');
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd
CREATE TRIGGER usage_events_stat AFTER INSERT OR DELETE ON usage_events FOR EACH ROW
    EXECUTE FUNCTION usage_events_stat();

-- Backfill from the rows already held (all in shard 0).
INSERT INTO stat_hourly (name, key, hour, shard, value)
    SELECT 'signups', '', date_trunc('hour', created_at, 'UTC'), 0, COUNT(*) FROM users GROUP BY 3;
INSERT INTO stat_hourly (name, key, hour, shard, value)
    SELECT 'sessions.started', '', date_trunc('hour', created_at, 'UTC'), 0, COUNT(*) FROM sessions GROUP BY 3;
INSERT INTO stat_hourly (name, key, hour, shard, value)
    SELECT credit_series(kind), '', date_trunc('hour', created_at, 'UTC'), 0,
        SUM(CASE WHEN kind IN ('deduct', 'expire') THEN -amount ELSE amount END)
    FROM credit_entries GROUP BY 1, 3;
INSERT INTO stat_hourly (name, key, hour, shard, value)
    SELECT n.name, metric, date_trunc('hour', occurred_at, 'UTC'), 0,
        SUM(CASE n.name WHEN 'usage.events' THEN 1 WHEN 'usage.quantity' THEN quantity ELSE cost_micros END)
    FROM usage_events, (VALUES ('usage.events'), ('usage.quantity'), ('usage.cost_micros')) AS n (name)
    GROUP BY 1, 2, 3;
INSERT INTO tenant_monthly (tenant_id, month, credits_granted, credits_used, usage_events, usage_quantity, usage_cost_micros)
    SELECT tenant_id, month, SUM(g), SUM(u), SUM(e), SUM(q), SUM(c) FROM (
        SELECT tenant_id, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM') AS month,
            CASE kind WHEN 'grant' THEN amount ELSE 0 END AS g, CASE kind WHEN 'grant' THEN 0 ELSE -amount END AS u,
            0 AS e, 0 AS q, 0 AS c
        FROM credit_entries WHERE kind IN ('grant', 'deduct', 'refund')
        UNION ALL
        SELECT tenant_id, to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM'), 0, 0, 1, quantity, cost_micros
        FROM usage_events) AS x
    GROUP BY tenant_id, month;

-- +goose Down
DROP TRIGGER stat_hourly_zero ON stat_hourly;
DROP FUNCTION stat_hourly_zero();
DROP TRIGGER stat_hourly_memo ON stat_hourly;
DROP FUNCTION stat_hourly_memo();
DROP TABLE series_memo;
DROP TABLE series_memo_days;
DROP TRIGGER usage_events_stat ON usage_events;
DROP TRIGGER credit_entries_stat ON credit_entries;
DROP TRIGGER sessions_stat_u ON sessions;
DROP TRIGGER sessions_stat ON sessions;
DROP TRIGGER users_stat_u ON users;
DROP TRIGGER users_stat ON users;
DROP FUNCTION usage_events_stat();
DROP FUNCTION credit_entries_stat();
DROP FUNCTION credit_series(text);
DROP FUNCTION sessions_stat();
DROP FUNCTION users_stat();
DROP FUNCTION stat_add(text, text, timestamptz, bigint);
DROP TABLE billing_snapshots;
DROP TABLE active_days;
DROP TRIGGER user_last_active_count_u ON user_last_active;
DROP TRIGGER user_last_active_count ON user_last_active;
DROP FUNCTION user_last_active_count();
DROP TABLE user_last_active_hours;
DROP TABLE user_last_active;
DROP TABLE user_activity;
DROP TABLE tenant_monthly;
DROP TABLE stat_hourly;
