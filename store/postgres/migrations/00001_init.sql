-- +goose Up
-- Constraint names are spelled out: the store maps a unique violation to the
-- domain field by name.
CREATE TABLE users (
    id                   text        NOT NULL,
    email                text        NOT NULL,
    username             text,
    name                 text        NOT NULL DEFAULT '',
    role                 text        NOT NULL,
    tenant_id            text,
    tenant_role          text        NOT NULL DEFAULT '',
    status               text        NOT NULL,
    ban_reason           text        NOT NULL DEFAULT '',
    ban_expires_at       timestamptz,
    ban_by               text        NOT NULL DEFAULT '',
    ban_at               timestamptz,
    suspension_reason    text        NOT NULL DEFAULT '',
    tags                 text[]      NOT NULL DEFAULT '{}',
    metadata             jsonb       NOT NULL DEFAULT '{}',
    email_verified       boolean     NOT NULL DEFAULT false,
    token_version        bigint      NOT NULL DEFAULT 0,
    last_login_at        timestamptz,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    deleted_at           timestamptz,
    status_before_delete text        NOT NULL DEFAULT '',
    password_hash        text        NOT NULL DEFAULT '',
    failed_logins        integer     NOT NULL DEFAULT 0,
    locked_until         timestamptz,
    CONSTRAINT users_pkey PRIMARY KEY (id),
    CONSTRAINT users_email_key UNIQUE (email),
    CONSTRAINT users_username_key UNIQUE (username)
);

-- Keyset lists walk (filter, id) backwards, so a page costs the same at any depth.
CREATE INDEX users_status_id ON users (status, id);
CREATE INDEX users_role_id ON users (role, id);
CREATE INDEX users_tenant_id_id ON users (tenant_id, id);
CREATE INDEX users_tags ON users USING gin (tags);
CREATE INDEX users_ban_expires ON users (ban_expires_at) WHERE status = 'banned';

CREATE TABLE sessions (
    id              text        NOT NULL,
    user_id         text        NOT NULL,
    token_hash      bytea       NOT NULL,
    created_at      timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    last_seen_at    timestamptz NOT NULL,
    ip              text        NOT NULL DEFAULT '',
    user_agent      text        NOT NULL DEFAULT '',
    revoked_at      timestamptz,
    revoked_reason  text        NOT NULL DEFAULT '',
    impersonator_id text        NOT NULL DEFAULT '',
    read_only       boolean     NOT NULL DEFAULT false,
    CONSTRAINT sessions_pkey PRIMARY KEY (id),
    CONSTRAINT sessions_token_hash_key UNIQUE (token_hash),
    CONSTRAINT sessions_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);

CREATE INDEX sessions_user_id_id ON sessions (user_id, id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- No foreign key to users: the log outlives the users it names.
-- changes and metadata are text, not jsonb: the hash chain covers their exact bytes.
CREATE TABLE audit_log (
    seq             bigint      NOT NULL,
    id              text        NOT NULL,
    time            timestamptz NOT NULL,
    actor_type      text        NOT NULL DEFAULT '',
    actor_id        text        NOT NULL DEFAULT '',
    actor_role      text        NOT NULL DEFAULT '',
    impersonator_id text        NOT NULL DEFAULT '',
    credential_id   text        NOT NULL DEFAULT '',
    action          text        NOT NULL,
    target_type     text        NOT NULL DEFAULT '',
    target_id       text        NOT NULL DEFAULT '',
    tenant_id       text        NOT NULL DEFAULT '',
    reason          text        NOT NULL DEFAULT '',
    changes         text,
    metadata        text,
    ip              text        NOT NULL DEFAULT '',
    user_agent      text        NOT NULL DEFAULT '',
    request_id      text        NOT NULL DEFAULT '',
    prev_hash       text        NOT NULL DEFAULT '',
    hash            text        NOT NULL,
    CONSTRAINT audit_log_pkey PRIMARY KEY (seq),
    CONSTRAINT audit_log_id_key UNIQUE (id)
);

CREATE INDEX audit_log_actor_id_seq ON audit_log (actor_id, seq);
CREATE INDEX audit_log_action_seq ON audit_log (action, seq);
CREATE INDEX audit_log_target_seq ON audit_log (target_type, target_id, seq);
CREATE INDEX audit_log_tenant_id_seq ON audit_log (tenant_id, seq);
CREATE INDEX audit_log_time ON audit_log (time);

CREATE TABLE signing_keys (
    id          text        NOT NULL,
    private_key bytea       NOT NULL,
    created_at  timestamptz NOT NULL,
    retired_at  timestamptz,
    CONSTRAINT signing_keys_pkey PRIMARY KEY (id)
);

-- Substring search (q) uses trigram indexes. Extensions are per database, not
-- per schema: install pg_trgm into public (not the first schema on
-- search_path, which may be a throwaway one) unless it is already installed
-- somewhere, and qualify the operator class with wherever it lives. Migrators
-- of different schemas may run at once, so losing the race to install it is
-- fine.
-- +goose StatementBegin
DO $$
DECLARE
    s text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        BEGIN
            CREATE EXTENSION pg_trgm WITH SCHEMA public;
        EXCEPTION WHEN unique_violation OR duplicate_object THEN
            NULL;
        END;
    END IF;
    SELECT n.nspname INTO STRICT s
    FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
    WHERE e.extname = 'pg_trgm';
    EXECUTE format('CREATE INDEX users_email_trgm ON users USING gin (lower(email) %I.gin_trgm_ops)', s);
    EXECUTE format('CREATE INDEX users_username_trgm ON users USING gin (lower(username) %I.gin_trgm_ops)', s);
    EXECUTE format('CREATE INDEX users_name_trgm ON users USING gin (lower(name) %I.gin_trgm_ops)', s);
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP TABLE signing_keys;
DROP TABLE audit_log;
DROP TABLE sessions;
DROP TABLE users;
