-- Stat counters (issue 11): GET /admin/stats, /metrics and steward doctor
-- read what the tables hold from here instead of counting rows. Triggers keep
-- each counter in the same transaction as the row change that moves it, so
-- no code path can forget one. SQLite has one writer, so one shard (0) per
-- counter is enough; the table keeps the shard column so both stores share
-- one shape. Counters are never deleted, only moved (a count may rest at 0).
--
-- Time-based states: a session or key whose expiry (or scheduled revocation)
-- has passed is still counted in its stored state until the sweeper marks
-- it lapsed (sessions.lapsed, api_keys.lapsed); readers subtract the rows
-- whose time has passed but are not marked yet, found through the partial
-- indexes below. No API reads the lapsed columns.

-- +goose Up
CREATE TABLE stat_counters (
    name  TEXT    NOT NULL,
    key   TEXT    NOT NULL,
    shard INTEGER NOT NULL,
    value INTEGER NOT NULL,
    PRIMARY KEY (name, key, shard)
) WITHOUT ROWID;

-- 1 once the sweeper saw expires_at pass on an open session.
ALTER TABLE sessions ADD COLUMN lapsed INTEGER NOT NULL DEFAULT 0;
-- 'revoked' or 'expired' once the sweeper saw a scheduled revocation or the
-- expiry of a key pass ('' until then).
ALTER TABLE api_keys ADD COLUMN lapsed TEXT NOT NULL DEFAULT '';

CREATE INDEX sessions_lapsing ON sessions (expires_at) WHERE revoked_at IS NULL AND lapsed = 0;
CREATE INDEX api_keys_revoking ON api_keys (revoked_at)
    WHERE status <> 'revoked' AND lapsed <> 'revoked' AND revoked_at IS NOT NULL;
CREATE INDEX api_keys_expiring ON api_keys (expires_at)
    WHERE status <> 'revoked' AND lapsed = '' AND expires_at IS NOT NULL;

-- users: by status and by role.
-- +goose StatementBegin
CREATE TRIGGER users_stat_ai AFTER INSERT ON users BEGIN
    INSERT INTO stat_counters (name, key, shard, value) VALUES ('users.status', new.status, 0, 1), ('users.role', new.role, 0, 1)
        ON CONFLICT (name, key, shard) DO UPDATE SET value = value + excluded.value;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER users_stat_status_au AFTER UPDATE OF status ON users WHEN old.status IS NOT new.status BEGIN
    INSERT INTO stat_counters (name, key, shard, value) VALUES ('users.status', old.status, 0, -1), ('users.status', new.status, 0, 1)
        ON CONFLICT (name, key, shard) DO UPDATE SET value = value + excluded.value;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER users_stat_role_au AFTER UPDATE OF role ON users WHEN old.role IS NOT new.role BEGIN
    INSERT INTO stat_counters (name, key, shard, value) VALUES ('users.role', old.role, 0, -1), ('users.role', new.role, 0, 1)
        ON CONFLICT (name, key, shard) DO UPDATE SET value = value + excluded.value;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER users_stat_ad AFTER DELETE ON users BEGIN
    INSERT INTO stat_counters (name, key, shard, value) VALUES ('users.status', old.status, 0, -1), ('users.role', old.role, 0, -1)
        ON CONFLICT (name, key, shard) DO UPDATE SET value = value + excluded.value;
END;
-- +goose StatementEnd

-- tenants: by status and by plan.
-- +goose StatementBegin
CREATE TRIGGER tenants_stat_ai AFTER INSERT ON tenants BEGIN
    INSERT INTO stat_counters (name, key, shard, value) VALUES ('tenants.status', new.status, 0, 1), ('tenants.plan', new.plan, 0, 1)
        ON CONFLICT (name, key, shard) DO UPDATE SET value = value + excluded.value;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER tenants_stat_status_au AFTER UPDATE OF status ON tenants WHEN old.status IS NOT new.status BEGIN
    INSERT INTO stat_counters (name, key, shard, value) VALUES ('tenants.status', old.status, 0, -1), ('tenants.status', new.status, 0, 1)
        ON CONFLICT (name, key, shard) DO UPDATE SET value = value + excluded.value;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER tenants_stat_plan_au AFTER UPDATE OF plan ON tenants WHEN old.plan IS NOT new.plan BEGIN
    INSERT INTO stat_counters (name, key, shard, value) VALUES ('tenants.plan', old.plan, 0, -1), ('tenants.plan', new.plan, 0, 1)
        ON CONFLICT (name, key, shard) DO UPDATE SET value = value + excluded.value;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER tenants_stat_ad AFTER DELETE ON tenants BEGIN
    INSERT INTO stat_counters (name, key, shard, value) VALUES ('tenants.status', old.status, 0, -1), ('tenants.plan', old.plan, 0, -1)
        ON CONFLICT (name, key, shard) DO UPDATE SET value = value + excluded.value;
END;
-- +goose StatementEnd

-- api_keys: by counted state (stored revoked wins, then the sweeper's
-- lapse, then the stored status) and by type.
-- +goose StatementBegin
CREATE TRIGGER api_keys_stat_ai AFTER INSERT ON api_keys BEGIN
    INSERT INTO stat_counters (name, key, shard, value) VALUES
        ('api_keys.status', CASE WHEN new.status = 'revoked' THEN 'revoked' WHEN new.lapsed <> '' THEN new.lapsed ELSE new.status END, 0, 1),
        ('api_keys.type', new.key_type, 0, 1)
        ON CONFLICT (name, key, shard) DO UPDATE SET value = value + excluded.value;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER api_keys_stat_status_au AFTER UPDATE OF status, lapsed ON api_keys
WHEN (CASE WHEN old.status = 'revoked' THEN 'revoked' WHEN old.lapsed <> '' THEN old.lapsed ELSE old.status END) IS NOT
     (CASE WHEN new.status = 'revoked' THEN 'revoked' WHEN new.lapsed <> '' THEN new.lapsed ELSE new.status END) BEGIN
    INSERT INTO stat_counters (name, key, shard, value) VALUES
        ('api_keys.status', CASE WHEN old.status = 'revoked' THEN 'revoked' WHEN old.lapsed <> '' THEN old.lapsed ELSE old.status END, 0, -1),
        ('api_keys.status', CASE WHEN new.status = 'revoked' THEN 'revoked' WHEN new.lapsed <> '' THEN new.lapsed ELSE new.status END, 0, 1)
        ON CONFLICT (name, key, shard) DO UPDATE SET value = value + excluded.value;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER api_keys_stat_type_au AFTER UPDATE OF key_type ON api_keys WHEN old.key_type IS NOT new.key_type BEGIN
    INSERT INTO stat_counters (name, key, shard, value) VALUES ('api_keys.type', old.key_type, 0, -1), ('api_keys.type', new.key_type, 0, 1)
        ON CONFLICT (name, key, shard) DO UPDATE SET value = value + excluded.value;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER api_keys_stat_ad AFTER DELETE ON api_keys BEGIN
    INSERT INTO stat_counters (name, key, shard, value) VALUES
        ('api_keys.status', CASE WHEN old.status = 'revoked' THEN 'revoked' WHEN old.lapsed <> '' THEN old.lapsed ELSE old.status END, 0, -1),
        ('api_keys.type', old.key_type, 0, -1)
        ON CONFLICT (name, key, shard) DO UPDATE SET value = value + excluded.value;
END;
-- +goose StatementEnd

-- sessions: open (not revoked, not marked lapsed).
-- +goose StatementBegin
CREATE TRIGGER sessions_stat_ai AFTER INSERT ON sessions WHEN new.revoked_at IS NULL AND new.lapsed = 0 BEGIN
    INSERT INTO stat_counters (name, key, shard, value) VALUES ('sessions.open', '', 0, 1)
        ON CONFLICT (name, key, shard) DO UPDATE SET value = value + excluded.value;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER sessions_stat_au AFTER UPDATE OF revoked_at, lapsed ON sessions
WHEN (old.revoked_at IS NULL AND old.lapsed = 0) <> (new.revoked_at IS NULL AND new.lapsed = 0) BEGIN
    INSERT INTO stat_counters (name, key, shard, value)
        VALUES ('sessions.open', '', 0, CASE WHEN new.revoked_at IS NULL AND new.lapsed = 0 THEN 1 ELSE -1 END)
        ON CONFLICT (name, key, shard) DO UPDATE SET value = value + excluded.value;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER sessions_stat_ad AFTER DELETE ON sessions WHEN old.revoked_at IS NULL AND old.lapsed = 0 BEGIN
    INSERT INTO stat_counters (name, key, shard, value) VALUES ('sessions.open', '', 0, -1)
        ON CONFLICT (name, key, shard) DO UPDATE SET value = value + excluded.value;
END;
-- +goose StatementEnd

-- impersonations: open (not ended).
-- +goose StatementBegin
CREATE TRIGGER impersonations_stat_ai AFTER INSERT ON impersonations WHEN new.ended_at IS NULL BEGIN
    INSERT INTO stat_counters (name, key, shard, value) VALUES ('impersonations.open', '', 0, 1)
        ON CONFLICT (name, key, shard) DO UPDATE SET value = value + excluded.value;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER impersonations_stat_au AFTER UPDATE OF ended_at ON impersonations
WHEN (old.ended_at IS NULL) <> (new.ended_at IS NULL) BEGIN
    INSERT INTO stat_counters (name, key, shard, value)
        VALUES ('impersonations.open', '', 0, CASE WHEN new.ended_at IS NULL THEN 1 ELSE -1 END)
        ON CONFLICT (name, key, shard) DO UPDATE SET value = value + excluded.value;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER impersonations_stat_ad AFTER DELETE ON impersonations WHEN old.ended_at IS NULL BEGIN
    INSERT INTO stat_counters (name, key, shard, value) VALUES ('impersonations.open', '', 0, -1)
        ON CONFLICT (name, key, shard) DO UPDATE SET value = value + excluded.value;
END;
-- +goose StatementEnd

-- credit_accounts: the sum of every balance.
-- +goose StatementBegin
CREATE TRIGGER credit_accounts_stat_ai AFTER INSERT ON credit_accounts WHEN new.balance <> 0 BEGIN
    INSERT INTO stat_counters (name, key, shard, value) VALUES ('credits.outstanding', '', 0, new.balance)
        ON CONFLICT (name, key, shard) DO UPDATE SET value = value + excluded.value;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER credit_accounts_stat_au AFTER UPDATE OF balance ON credit_accounts WHEN old.balance <> new.balance BEGIN
    INSERT INTO stat_counters (name, key, shard, value) VALUES ('credits.outstanding', '', 0, new.balance - old.balance)
        ON CONFLICT (name, key, shard) DO UPDATE SET value = value + excluded.value;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER credit_accounts_stat_ad AFTER DELETE ON credit_accounts WHEN old.balance <> 0 BEGIN
    INSERT INTO stat_counters (name, key, shard, value) VALUES ('credits.outstanding', '', 0, -old.balance)
        ON CONFLICT (name, key, shard) DO UPDATE SET value = value + excluded.value;
END;
-- +goose StatementEnd

-- Backfill from the rows already there (nothing is marked lapsed yet).
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
DROP TRIGGER credit_accounts_stat_ad;
DROP TRIGGER credit_accounts_stat_au;
DROP TRIGGER credit_accounts_stat_ai;
DROP TRIGGER impersonations_stat_ad;
DROP TRIGGER impersonations_stat_au;
DROP TRIGGER impersonations_stat_ai;
DROP TRIGGER sessions_stat_ad;
DROP TRIGGER sessions_stat_au;
DROP TRIGGER sessions_stat_ai;
DROP TRIGGER api_keys_stat_ad;
DROP TRIGGER api_keys_stat_type_au;
DROP TRIGGER api_keys_stat_status_au;
DROP TRIGGER api_keys_stat_ai;
DROP TRIGGER tenants_stat_ad;
DROP TRIGGER tenants_stat_plan_au;
DROP TRIGGER tenants_stat_status_au;
DROP TRIGGER tenants_stat_ai;
DROP TRIGGER users_stat_ad;
DROP TRIGGER users_stat_role_au;
DROP TRIGGER users_stat_status_au;
DROP TRIGGER users_stat_ai;
DROP INDEX api_keys_expiring;
DROP INDEX api_keys_revoking;
DROP INDEX sessions_lapsing;
ALTER TABLE api_keys DROP COLUMN lapsed;
ALTER TABLE sessions DROP COLUMN lapsed;
DROP TABLE stat_counters;
