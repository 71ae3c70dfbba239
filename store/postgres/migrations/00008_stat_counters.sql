-- Stat counters (issue 11): GET /admin/stats, /metrics and steward doctor
-- read what the tables hold from here instead of counting rows. Triggers keep
-- each counter in the same transaction as the row change that moves it, so
-- no code path can forget one. A counter is 16 shard rows, the shard a hash
-- of the changed row's id (a credit balance: of its tenant id), so
-- concurrent writers rarely queue on the same row; readers sum the shards.
-- Counters are never deleted, only moved (a count may rest at 0).
--
-- Time-based states: a session or key whose expiry (or scheduled revocation)
-- has passed is still counted in its stored state until the sweeper marks
-- it lapsed (sessions.lapsed, api_keys.lapsed); readers subtract the rows
-- whose time has passed but are not marked yet, found through the partial
-- indexes below. No API reads the lapsed columns.

-- +goose Up
CREATE TABLE stat_counters (
    name  text   NOT NULL,
    key   text   NOT NULL,
    shard int    NOT NULL,
    value bigint NOT NULL,
    CONSTRAINT stat_counters_pkey PRIMARY KEY (name, key, shard)
);

ALTER TABLE sessions ADD COLUMN lapsed boolean NOT NULL DEFAULT false;
ALTER TABLE api_keys ADD COLUMN lapsed text NOT NULL DEFAULT '';

CREATE INDEX sessions_lapsing ON sessions (expires_at) WHERE revoked_at IS NULL AND NOT lapsed;
CREATE INDEX api_keys_revoking ON api_keys (revoked_at)
    WHERE status <> 'revoked' AND lapsed <> 'revoked' AND revoked_at IS NOT NULL;
CREATE INDEX api_keys_expiring ON api_keys (expires_at)
    WHERE status <> 'revoked' AND lapsed = '' AND expires_at IS NOT NULL;

-- The key state a counter holds: stored revoked wins, then the sweeper's
-- lapse, then the stored status.
-- +goose StatementBegin
CREATE FUNCTION stat_key_state(status text, lapsed text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN status = 'revoked' THEN 'revoked' WHEN lapsed <> '' THEN lapsed ELSE status END
$$;
-- +goose StatementEnd

-- Statement-level triggers: each statement's changes are summed per
-- counter shard from its transition tables and applied in one upsert, in
-- key order. A set-based statement (a tenant's cascade, a purge) so moves
-- each counter row once, not once per row: PostgreSQL keeps every version
-- of a row updated within one transaction, so per-row upserts of the same
-- counter would slow down with the statement's size. The key order keeps
-- two writers from taking the same counter rows in opposite orders.
-- +goose StatementBegin
CREATE FUNCTION stat_users_ins() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO stat_counters (name, key, shard, value)
    SELECT n, k, sh, sum(d) FROM (
        SELECT 'users.status', status, hashtext(id) & 15, 1 FROM new_rows
        UNION ALL SELECT 'users.role', role, hashtext(id) & 15, 1 FROM new_rows
    ) AS x (n, k, sh, d)
    GROUP BY n, k, sh HAVING sum(d) <> 0 ORDER BY n, k, sh
    ON CONFLICT (name, key, shard) DO UPDATE SET value = stat_counters.value + excluded.value;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE FUNCTION stat_users_upd() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO stat_counters (name, key, shard, value)
    SELECT n, k, sh, sum(d) FROM (
        SELECT 'users.status', status, hashtext(id) & 15, 1 FROM new_rows
        UNION ALL SELECT 'users.role', role, hashtext(id) & 15, 1 FROM new_rows
        UNION ALL SELECT 'users.status', status, hashtext(id) & 15, -1 FROM old_rows
        UNION ALL SELECT 'users.role', role, hashtext(id) & 15, -1 FROM old_rows
    ) AS x (n, k, sh, d)
    GROUP BY n, k, sh HAVING sum(d) <> 0 ORDER BY n, k, sh
    ON CONFLICT (name, key, shard) DO UPDATE SET value = stat_counters.value + excluded.value;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE FUNCTION stat_users_del() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO stat_counters (name, key, shard, value)
    SELECT n, k, sh, sum(d) FROM (
        SELECT 'users.status', status, hashtext(id) & 15, -1 FROM old_rows
        UNION ALL SELECT 'users.role', role, hashtext(id) & 15, -1 FROM old_rows
    ) AS x (n, k, sh, d)
    GROUP BY n, k, sh HAVING sum(d) <> 0 ORDER BY n, k, sh
    ON CONFLICT (name, key, shard) DO UPDATE SET value = stat_counters.value + excluded.value;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER users_stat_ins AFTER INSERT ON users REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stat_users_ins();
CREATE TRIGGER users_stat_upd AFTER UPDATE ON users REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stat_users_upd();
CREATE TRIGGER users_stat_del AFTER DELETE ON users REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stat_users_del();

-- +goose StatementBegin
CREATE FUNCTION stat_tenants_ins() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO stat_counters (name, key, shard, value)
    SELECT n, k, sh, sum(d) FROM (
        SELECT 'tenants.status', status, hashtext(id) & 15, 1 FROM new_rows
        UNION ALL SELECT 'tenants.plan', plan, hashtext(id) & 15, 1 FROM new_rows
    ) AS x (n, k, sh, d)
    GROUP BY n, k, sh HAVING sum(d) <> 0 ORDER BY n, k, sh
    ON CONFLICT (name, key, shard) DO UPDATE SET value = stat_counters.value + excluded.value;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE FUNCTION stat_tenants_upd() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO stat_counters (name, key, shard, value)
    SELECT n, k, sh, sum(d) FROM (
        SELECT 'tenants.status', status, hashtext(id) & 15, 1 FROM new_rows
        UNION ALL SELECT 'tenants.plan', plan, hashtext(id) & 15, 1 FROM new_rows
        UNION ALL SELECT 'tenants.status', status, hashtext(id) & 15, -1 FROM old_rows
        UNION ALL SELECT 'tenants.plan', plan, hashtext(id) & 15, -1 FROM old_rows
    ) AS x (n, k, sh, d)
    GROUP BY n, k, sh HAVING sum(d) <> 0 ORDER BY n, k, sh
    ON CONFLICT (name, key, shard) DO UPDATE SET value = stat_counters.value + excluded.value;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE FUNCTION stat_tenants_del() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO stat_counters (name, key, shard, value)
    SELECT n, k, sh, sum(d) FROM (
        SELECT 'tenants.status', status, hashtext(id) & 15, -1 FROM old_rows
        UNION ALL SELECT 'tenants.plan', plan, hashtext(id) & 15, -1 FROM old_rows
    ) AS x (n, k, sh, d)
    GROUP BY n, k, sh HAVING sum(d) <> 0 ORDER BY n, k, sh
    ON CONFLICT (name, key, shard) DO UPDATE SET value = stat_counters.value + excluded.value;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER tenants_stat_ins AFTER INSERT ON tenants REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stat_tenants_ins();
CREATE TRIGGER tenants_stat_upd AFTER UPDATE ON tenants REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stat_tenants_upd();
CREATE TRIGGER tenants_stat_del AFTER DELETE ON tenants REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stat_tenants_del();

-- +goose StatementBegin
CREATE FUNCTION stat_api_keys_ins() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO stat_counters (name, key, shard, value)
    SELECT n, k, sh, sum(d) FROM (
        SELECT 'api_keys.status', stat_key_state(status, lapsed), hashtext(id) & 15, 1 FROM new_rows
        UNION ALL SELECT 'api_keys.type', key_type, hashtext(id) & 15, 1 FROM new_rows
    ) AS x (n, k, sh, d)
    GROUP BY n, k, sh HAVING sum(d) <> 0 ORDER BY n, k, sh
    ON CONFLICT (name, key, shard) DO UPDATE SET value = stat_counters.value + excluded.value;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE FUNCTION stat_api_keys_upd() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO stat_counters (name, key, shard, value)
    SELECT n, k, sh, sum(d) FROM (
        SELECT 'api_keys.status', stat_key_state(status, lapsed), hashtext(id) & 15, 1 FROM new_rows
        UNION ALL SELECT 'api_keys.type', key_type, hashtext(id) & 15, 1 FROM new_rows
        UNION ALL SELECT 'api_keys.status', stat_key_state(status, lapsed), hashtext(id) & 15, -1 FROM old_rows
        UNION ALL SELECT 'api_keys.type', key_type, hashtext(id) & 15, -1 FROM old_rows
    ) AS x (n, k, sh, d)
    GROUP BY n, k, sh HAVING sum(d) <> 0 ORDER BY n, k, sh
    ON CONFLICT (name, key, shard) DO UPDATE SET value = stat_counters.value + excluded.value;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE FUNCTION stat_api_keys_del() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO stat_counters (name, key, shard, value)
    SELECT n, k, sh, sum(d) FROM (
        SELECT 'api_keys.status', stat_key_state(status, lapsed), hashtext(id) & 15, -1 FROM old_rows
        UNION ALL SELECT 'api_keys.type', key_type, hashtext(id) & 15, -1 FROM old_rows
    ) AS x (n, k, sh, d)
    GROUP BY n, k, sh HAVING sum(d) <> 0 ORDER BY n, k, sh
    ON CONFLICT (name, key, shard) DO UPDATE SET value = stat_counters.value + excluded.value;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER api_keys_stat_ins AFTER INSERT ON api_keys REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stat_api_keys_ins();
CREATE TRIGGER api_keys_stat_upd AFTER UPDATE ON api_keys REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stat_api_keys_upd();
CREATE TRIGGER api_keys_stat_del AFTER DELETE ON api_keys REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stat_api_keys_del();

-- +goose StatementBegin
CREATE FUNCTION stat_sessions_ins() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO stat_counters (name, key, shard, value)
    SELECT n, k, sh, sum(d) FROM (
        SELECT 'sessions.open', '', hashtext(id) & 15, 1 FROM new_rows WHERE revoked_at IS NULL AND NOT lapsed
    ) AS x (n, k, sh, d)
    GROUP BY n, k, sh HAVING sum(d) <> 0 ORDER BY n, k, sh
    ON CONFLICT (name, key, shard) DO UPDATE SET value = stat_counters.value + excluded.value;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE FUNCTION stat_sessions_upd() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO stat_counters (name, key, shard, value)
    SELECT n, k, sh, sum(d) FROM (
        SELECT 'sessions.open', '', hashtext(id) & 15, 1 FROM new_rows WHERE revoked_at IS NULL AND NOT lapsed
        UNION ALL SELECT 'sessions.open', '', hashtext(id) & 15, -1 FROM old_rows WHERE revoked_at IS NULL AND NOT lapsed
    ) AS x (n, k, sh, d)
    GROUP BY n, k, sh HAVING sum(d) <> 0 ORDER BY n, k, sh
    ON CONFLICT (name, key, shard) DO UPDATE SET value = stat_counters.value + excluded.value;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE FUNCTION stat_sessions_del() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO stat_counters (name, key, shard, value)
    SELECT n, k, sh, sum(d) FROM (
        SELECT 'sessions.open', '', hashtext(id) & 15, -1 FROM old_rows WHERE revoked_at IS NULL AND NOT lapsed
    ) AS x (n, k, sh, d)
    GROUP BY n, k, sh HAVING sum(d) <> 0 ORDER BY n, k, sh
    ON CONFLICT (name, key, shard) DO UPDATE SET value = stat_counters.value + excluded.value;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER sessions_stat_ins AFTER INSERT ON sessions REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stat_sessions_ins();
CREATE TRIGGER sessions_stat_upd AFTER UPDATE ON sessions REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stat_sessions_upd();
CREATE TRIGGER sessions_stat_del AFTER DELETE ON sessions REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stat_sessions_del();

-- +goose StatementBegin
CREATE FUNCTION stat_impersonations_ins() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO stat_counters (name, key, shard, value)
    SELECT n, k, sh, sum(d) FROM (
        SELECT 'impersonations.open', '', hashtext(id) & 15, 1 FROM new_rows WHERE ended_at IS NULL
    ) AS x (n, k, sh, d)
    GROUP BY n, k, sh HAVING sum(d) <> 0 ORDER BY n, k, sh
    ON CONFLICT (name, key, shard) DO UPDATE SET value = stat_counters.value + excluded.value;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE FUNCTION stat_impersonations_upd() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO stat_counters (name, key, shard, value)
    SELECT n, k, sh, sum(d) FROM (
        SELECT 'impersonations.open', '', hashtext(id) & 15, 1 FROM new_rows WHERE ended_at IS NULL
        UNION ALL SELECT 'impersonations.open', '', hashtext(id) & 15, -1 FROM old_rows WHERE ended_at IS NULL
    ) AS x (n, k, sh, d)
    GROUP BY n, k, sh HAVING sum(d) <> 0 ORDER BY n, k, sh
    ON CONFLICT (name, key, shard) DO UPDATE SET value = stat_counters.value + excluded.value;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE FUNCTION stat_impersonations_del() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO stat_counters (name, key, shard, value)
    SELECT n, k, sh, sum(d) FROM (
        SELECT 'impersonations.open', '', hashtext(id) & 15, -1 FROM old_rows WHERE ended_at IS NULL
    ) AS x (n, k, sh, d)
    GROUP BY n, k, sh HAVING sum(d) <> 0 ORDER BY n, k, sh
    ON CONFLICT (name, key, shard) DO UPDATE SET value = stat_counters.value + excluded.value;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER impersonations_stat_ins AFTER INSERT ON impersonations REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stat_impersonations_ins();
CREATE TRIGGER impersonations_stat_upd AFTER UPDATE ON impersonations REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stat_impersonations_upd();
CREATE TRIGGER impersonations_stat_del AFTER DELETE ON impersonations REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stat_impersonations_del();

-- +goose StatementBegin
CREATE FUNCTION stat_credit_accounts_ins() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO stat_counters (name, key, shard, value)
    SELECT n, k, sh, sum(d) FROM (
        SELECT 'credits.outstanding', '', hashtext(tenant_id) & 15, 1 * balance FROM new_rows
    ) AS x (n, k, sh, d)
    GROUP BY n, k, sh HAVING sum(d) <> 0 ORDER BY n, k, sh
    ON CONFLICT (name, key, shard) DO UPDATE SET value = stat_counters.value + excluded.value;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE FUNCTION stat_credit_accounts_upd() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO stat_counters (name, key, shard, value)
    SELECT n, k, sh, sum(d) FROM (
        SELECT 'credits.outstanding', '', hashtext(tenant_id) & 15, 1 * balance FROM new_rows
        UNION ALL SELECT 'credits.outstanding', '', hashtext(tenant_id) & 15, -1 * balance FROM old_rows
    ) AS x (n, k, sh, d)
    GROUP BY n, k, sh HAVING sum(d) <> 0 ORDER BY n, k, sh
    ON CONFLICT (name, key, shard) DO UPDATE SET value = stat_counters.value + excluded.value;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE FUNCTION stat_credit_accounts_del() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO stat_counters (name, key, shard, value)
    SELECT n, k, sh, sum(d) FROM (
        SELECT 'credits.outstanding', '', hashtext(tenant_id) & 15, -1 * balance FROM old_rows
    ) AS x (n, k, sh, d)
    GROUP BY n, k, sh HAVING sum(d) <> 0 ORDER BY n, k, sh
    ON CONFLICT (name, key, shard) DO UPDATE SET value = stat_counters.value + excluded.value;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER credit_accounts_stat_ins AFTER INSERT ON credit_accounts REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stat_credit_accounts_ins();
CREATE TRIGGER credit_accounts_stat_upd AFTER UPDATE ON credit_accounts REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stat_credit_accounts_upd();
CREATE TRIGGER credit_accounts_stat_del AFTER DELETE ON credit_accounts REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stat_credit_accounts_del();

-- Backfill from the rows already there (nothing is marked lapsed yet), in shard 0.
INSERT INTO stat_counters (name, key, shard, value)
SELECT 'users.status', status, 0, count(*) FROM users GROUP BY status
UNION ALL SELECT 'users.role', role, 0, count(*) FROM users GROUP BY role
UNION ALL SELECT 'tenants.status', status, 0, count(*) FROM tenants GROUP BY status
UNION ALL SELECT 'tenants.plan', plan, 0, count(*) FROM tenants GROUP BY plan
UNION ALL SELECT 'api_keys.status', status, 0, count(*) FROM api_keys GROUP BY status
UNION ALL SELECT 'api_keys.type', key_type, 0, count(*) FROM api_keys GROUP BY key_type
UNION ALL SELECT 'sessions.open', '', 0, count(*) FROM sessions WHERE revoked_at IS NULL
UNION ALL SELECT 'impersonations.open', '', 0, count(*) FROM impersonations WHERE ended_at IS NULL
UNION ALL SELECT 'credits.outstanding', '', 0, coalesce(sum(balance), 0) FROM credit_accounts;

-- +goose Down
DROP TRIGGER credit_accounts_stat_del ON credit_accounts;
DROP TRIGGER credit_accounts_stat_upd ON credit_accounts;
DROP TRIGGER credit_accounts_stat_ins ON credit_accounts;
DROP FUNCTION stat_credit_accounts_del();
DROP FUNCTION stat_credit_accounts_upd();
DROP FUNCTION stat_credit_accounts_ins();
DROP TRIGGER impersonations_stat_del ON impersonations;
DROP TRIGGER impersonations_stat_upd ON impersonations;
DROP TRIGGER impersonations_stat_ins ON impersonations;
DROP FUNCTION stat_impersonations_del();
DROP FUNCTION stat_impersonations_upd();
DROP FUNCTION stat_impersonations_ins();
DROP TRIGGER sessions_stat_del ON sessions;
DROP TRIGGER sessions_stat_upd ON sessions;
DROP TRIGGER sessions_stat_ins ON sessions;
DROP FUNCTION stat_sessions_del();
DROP FUNCTION stat_sessions_upd();
DROP FUNCTION stat_sessions_ins();
DROP TRIGGER api_keys_stat_del ON api_keys;
DROP TRIGGER api_keys_stat_upd ON api_keys;
DROP TRIGGER api_keys_stat_ins ON api_keys;
DROP FUNCTION stat_api_keys_del();
DROP FUNCTION stat_api_keys_upd();
DROP FUNCTION stat_api_keys_ins();
DROP TRIGGER tenants_stat_del ON tenants;
DROP TRIGGER tenants_stat_upd ON tenants;
DROP TRIGGER tenants_stat_ins ON tenants;
DROP FUNCTION stat_tenants_del();
DROP FUNCTION stat_tenants_upd();
DROP FUNCTION stat_tenants_ins();
DROP TRIGGER users_stat_del ON users;
DROP TRIGGER users_stat_upd ON users;
DROP TRIGGER users_stat_ins ON users;
DROP FUNCTION stat_users_del();
DROP FUNCTION stat_users_upd();
DROP FUNCTION stat_users_ins();
DROP FUNCTION stat_key_state(text, text);
DROP INDEX api_keys_expiring;
DROP INDEX api_keys_revoking;
DROP INDEX sessions_lapsing;
ALTER TABLE api_keys DROP COLUMN lapsed;
ALTER TABLE sessions DROP COLUMN lapsed;
DROP TABLE stat_counters;
