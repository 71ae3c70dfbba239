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

-- +goose StatementBegin
CREATE FUNCTION stat_add(n text, k text, s int, d bigint) RETURNS void LANGUAGE sql AS $$
    INSERT INTO stat_counters (name, key, shard, value) VALUES (n, k, s, d)
    ON CONFLICT (name, key, shard) DO UPDATE SET value = stat_counters.value + excluded.value
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION stat_key_state(status text, lapsed text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN status = 'revoked' THEN 'revoked' WHEN lapsed <> '' THEN lapsed ELSE status END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION stat_users() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM stat_add('users.status', NEW.status, hashtext(NEW.id) & 15, 1);
        PERFORM stat_add('users.role', NEW.role, hashtext(NEW.id) & 15, 1);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM stat_add('users.status', OLD.status, hashtext(OLD.id) & 15, -1);
        PERFORM stat_add('users.role', OLD.role, hashtext(OLD.id) & 15, -1);
    ELSE
        IF OLD.status IS DISTINCT FROM NEW.status THEN
            PERFORM stat_add('users.status', OLD.status, hashtext(OLD.id) & 15, -1);
            PERFORM stat_add('users.status', NEW.status, hashtext(NEW.id) & 15, 1);
        END IF;
        IF OLD.role IS DISTINCT FROM NEW.role THEN
            PERFORM stat_add('users.role', OLD.role, hashtext(OLD.id) & 15, -1);
            PERFORM stat_add('users.role', NEW.role, hashtext(NEW.id) & 15, 1);
        END IF;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER users_stat AFTER INSERT OR DELETE ON users FOR EACH ROW EXECUTE FUNCTION stat_users();
CREATE TRIGGER users_stat_u AFTER UPDATE OF status, role ON users FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.role IS DISTINCT FROM NEW.role) EXECUTE FUNCTION stat_users();

-- +goose StatementBegin
CREATE FUNCTION stat_tenants() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM stat_add('tenants.status', NEW.status, hashtext(NEW.id) & 15, 1);
        PERFORM stat_add('tenants.plan', NEW.plan, hashtext(NEW.id) & 15, 1);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM stat_add('tenants.status', OLD.status, hashtext(OLD.id) & 15, -1);
        PERFORM stat_add('tenants.plan', OLD.plan, hashtext(OLD.id) & 15, -1);
    ELSE
        IF OLD.status IS DISTINCT FROM NEW.status THEN
            PERFORM stat_add('tenants.status', OLD.status, hashtext(OLD.id) & 15, -1);
            PERFORM stat_add('tenants.status', NEW.status, hashtext(NEW.id) & 15, 1);
        END IF;
        IF OLD.plan IS DISTINCT FROM NEW.plan THEN
            PERFORM stat_add('tenants.plan', OLD.plan, hashtext(OLD.id) & 15, -1);
            PERFORM stat_add('tenants.plan', NEW.plan, hashtext(NEW.id) & 15, 1);
        END IF;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER tenants_stat AFTER INSERT OR DELETE ON tenants FOR EACH ROW EXECUTE FUNCTION stat_tenants();
CREATE TRIGGER tenants_stat_u AFTER UPDATE OF status, plan ON tenants FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.plan IS DISTINCT FROM NEW.plan) EXECUTE FUNCTION stat_tenants();

-- +goose StatementBegin
CREATE FUNCTION stat_api_keys() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM stat_add('api_keys.status', stat_key_state(NEW.status, NEW.lapsed), hashtext(NEW.id) & 15, 1);
        PERFORM stat_add('api_keys.type', NEW.key_type, hashtext(NEW.id) & 15, 1);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM stat_add('api_keys.status', stat_key_state(OLD.status, OLD.lapsed), hashtext(OLD.id) & 15, -1);
        PERFORM stat_add('api_keys.type', OLD.key_type, hashtext(OLD.id) & 15, -1);
    ELSE
        IF stat_key_state(OLD.status, OLD.lapsed) IS DISTINCT FROM stat_key_state(NEW.status, NEW.lapsed) THEN
            PERFORM stat_add('api_keys.status', stat_key_state(OLD.status, OLD.lapsed), hashtext(OLD.id) & 15, -1);
            PERFORM stat_add('api_keys.status', stat_key_state(NEW.status, NEW.lapsed), hashtext(NEW.id) & 15, 1);
        END IF;
        IF OLD.key_type IS DISTINCT FROM NEW.key_type THEN
            PERFORM stat_add('api_keys.type', OLD.key_type, hashtext(OLD.id) & 15, -1);
            PERFORM stat_add('api_keys.type', NEW.key_type, hashtext(NEW.id) & 15, 1);
        END IF;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER api_keys_stat AFTER INSERT OR DELETE ON api_keys FOR EACH ROW EXECUTE FUNCTION stat_api_keys();
CREATE TRIGGER api_keys_stat_u AFTER UPDATE OF status, lapsed, key_type ON api_keys FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.lapsed IS DISTINCT FROM NEW.lapsed OR OLD.key_type IS DISTINCT FROM NEW.key_type)
    EXECUTE FUNCTION stat_api_keys();

-- +goose StatementBegin
CREATE FUNCTION stat_sessions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.revoked_at IS NULL AND NOT NEW.lapsed THEN
            PERFORM stat_add('sessions.open', '', hashtext(NEW.id) & 15, 1);
        END IF;
    ELSIF TG_OP = 'DELETE' THEN
        IF OLD.revoked_at IS NULL AND NOT OLD.lapsed THEN
            PERFORM stat_add('sessions.open', '', hashtext(OLD.id) & 15, -1);
        END IF;
    ELSIF (OLD.revoked_at IS NULL AND NOT OLD.lapsed) <> (NEW.revoked_at IS NULL AND NOT NEW.lapsed) THEN
        PERFORM stat_add('sessions.open', '', hashtext(NEW.id) & 15, CASE WHEN NEW.revoked_at IS NULL AND NOT NEW.lapsed THEN 1 ELSE -1 END);
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER sessions_stat AFTER INSERT OR DELETE ON sessions FOR EACH ROW EXECUTE FUNCTION stat_sessions();
CREATE TRIGGER sessions_stat_u AFTER UPDATE OF revoked_at, lapsed ON sessions FOR EACH ROW
    WHEN ((OLD.revoked_at IS NULL AND NOT OLD.lapsed) <> (NEW.revoked_at IS NULL AND NOT NEW.lapsed))
    EXECUTE FUNCTION stat_sessions();

-- +goose StatementBegin
CREATE FUNCTION stat_impersonations() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.ended_at IS NULL THEN
            PERFORM stat_add('impersonations.open', '', hashtext(NEW.id) & 15, 1);
        END IF;
    ELSIF TG_OP = 'DELETE' THEN
        IF OLD.ended_at IS NULL THEN
            PERFORM stat_add('impersonations.open', '', hashtext(OLD.id) & 15, -1);
        END IF;
    ELSIF (OLD.ended_at IS NULL) <> (NEW.ended_at IS NULL) THEN
        PERFORM stat_add('impersonations.open', '', hashtext(NEW.id) & 15, CASE WHEN NEW.ended_at IS NULL THEN 1 ELSE -1 END);
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER impersonations_stat AFTER INSERT OR DELETE ON impersonations FOR EACH ROW EXECUTE FUNCTION stat_impersonations();
CREATE TRIGGER impersonations_stat_u AFTER UPDATE OF ended_at ON impersonations FOR EACH ROW
    WHEN ((OLD.ended_at IS NULL) <> (NEW.ended_at IS NULL)) EXECUTE FUNCTION stat_impersonations();

-- +goose StatementBegin
CREATE FUNCTION stat_credit_accounts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM stat_add('credits.outstanding', '', hashtext(NEW.tenant_id) & 15, NEW.balance);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM stat_add('credits.outstanding', '', hashtext(OLD.tenant_id) & 15, -OLD.balance);
    ELSE
        PERFORM stat_add('credits.outstanding', '', hashtext(NEW.tenant_id) & 15, NEW.balance - OLD.balance);
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER credit_accounts_stat AFTER INSERT OR DELETE ON credit_accounts FOR EACH ROW EXECUTE FUNCTION stat_credit_accounts();
CREATE TRIGGER credit_accounts_stat_u AFTER UPDATE OF balance ON credit_accounts FOR EACH ROW
    WHEN (OLD.balance <> NEW.balance) EXECUTE FUNCTION stat_credit_accounts();

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
DROP TRIGGER credit_accounts_stat_u ON credit_accounts;
DROP TRIGGER credit_accounts_stat ON credit_accounts;
DROP TRIGGER impersonations_stat_u ON impersonations;
DROP TRIGGER impersonations_stat ON impersonations;
DROP TRIGGER sessions_stat_u ON sessions;
DROP TRIGGER sessions_stat ON sessions;
DROP TRIGGER api_keys_stat_u ON api_keys;
DROP TRIGGER api_keys_stat ON api_keys;
DROP TRIGGER tenants_stat_u ON tenants;
DROP TRIGGER tenants_stat ON tenants;
DROP TRIGGER users_stat_u ON users;
DROP TRIGGER users_stat ON users;
DROP FUNCTION stat_credit_accounts();
DROP FUNCTION stat_impersonations();
DROP FUNCTION stat_sessions();
DROP FUNCTION stat_api_keys();
DROP FUNCTION stat_tenants();
DROP FUNCTION stat_users();
DROP FUNCTION stat_key_state(text, text);
DROP FUNCTION stat_add(text, text, int, bigint);
DROP INDEX api_keys_expiring;
DROP INDEX api_keys_revoking;
DROP INDEX sessions_lapsing;
ALTER TABLE api_keys DROP COLUMN lapsed;
ALTER TABLE sessions DROP COLUMN lapsed;
DROP TABLE stat_counters;
