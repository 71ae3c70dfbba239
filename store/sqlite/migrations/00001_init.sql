-- Times are INTEGER unix microseconds, UTC. Text that is optional in the
-- domain is '' rather than NULL, except where NULL keeps a UNIQUE or an index
-- honest (users.username, users.tenant_id) or means "absent" (ban_*, times).

-- +goose Up

-- users declares its rowid: the search index and user_tags refer to rows by
-- rowid, and only an INTEGER PRIMARY KEY rowid is promised to survive VACUUM
-- and a .dump/restore. The domain key is id (PostgreSQL has no rowid column).
CREATE TABLE users (
    rowid                INTEGER PRIMARY KEY,
    id                   TEXT    NOT NULL UNIQUE,
    email                TEXT    NOT NULL UNIQUE,
    username             TEXT    UNIQUE,
    name                 TEXT    NOT NULL DEFAULT '',
    role                 TEXT    NOT NULL,
    tenant_id            TEXT,
    tenant_role          TEXT    NOT NULL DEFAULT '',
    status               TEXT    NOT NULL,
    ban_reason           TEXT,
    ban_expires_at       INTEGER,
    ban_by               TEXT,
    ban_at               INTEGER,
    suspension_reason    TEXT    NOT NULL DEFAULT '',
    tags                 TEXT    NOT NULL DEFAULT '[]',
    metadata             TEXT    NOT NULL DEFAULT '{}',
    email_verified       INTEGER NOT NULL DEFAULT 0,
    token_version        INTEGER NOT NULL DEFAULT 0,
    last_login_at        INTEGER,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    deleted_at           INTEGER,
    status_before_delete TEXT    NOT NULL DEFAULT '',
    password_hash        TEXT    NOT NULL DEFAULT '',
    failed_logins        INTEGER NOT NULL DEFAULT 0,
    locked_until         INTEGER
);

-- Each filter alone is an index range scan already ordered by id, so a keyset
-- page costs the same at any depth.
CREATE INDEX users_status_id ON users (status, id);
CREATE INDEX users_role_id ON users (role, id);
CREATE INDEX users_tenant_id ON users (tenant_id, id);
CREATE INDEX users_ban_expires ON users (ban_expires_at) WHERE status = 'banned';

-- Tags live in a side table kept by triggers: (tag, user_id) gives a tag filter
-- an ordered range scan, which json_each over every row cannot. user_rowid
-- joins back to users without a second index lookup.
CREATE TABLE user_tags (
    tag        TEXT    NOT NULL,
    user_id    TEXT    NOT NULL,
    user_rowid INTEGER NOT NULL,
    PRIMARY KEY (tag, user_id)
) WITHOUT ROWID;
CREATE INDEX user_tags_user ON user_tags (user_id);

-- +goose StatementBegin
CREATE TRIGGER users_tags_ai AFTER INSERT ON users BEGIN
    INSERT OR IGNORE INTO user_tags (tag, user_id, user_rowid)
        SELECT value, new.id, new.rowid FROM json_each(new.tags);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER users_tags_au AFTER UPDATE OF id, tags ON users
WHEN old.id IS NOT new.id OR old.tags IS NOT new.tags BEGIN
    DELETE FROM user_tags WHERE user_id = old.id;
    INSERT OR IGNORE INTO user_tags (tag, user_id, user_rowid)
        SELECT value, new.id, new.rowid FROM json_each(new.tags);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER users_tags_ad AFTER DELETE ON users BEGIN
    DELETE FROM user_tags WHERE user_id = old.id;
END;
-- +goose StatementEnd

-- Substring search: a trigram index over email, username and name, with the
-- users table as its content so nothing is stored twice.
CREATE VIRTUAL TABLE users_fts USING fts5 (
    email, username, name,
    content = 'users', content_rowid = 'rowid',
    tokenize = 'trigram case_sensitive 0'
);

-- +goose StatementBegin
CREATE TRIGGER users_fts_ai AFTER INSERT ON users BEGIN
    INSERT INTO users_fts (rowid, email, username, name)
        VALUES (new.rowid, new.email, new.username, new.name);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER users_fts_au AFTER UPDATE OF email, username, name ON users
WHEN old.email IS NOT new.email OR old.username IS NOT new.username OR old.name IS NOT new.name BEGIN
    INSERT INTO users_fts (users_fts, rowid, email, username, name)
        VALUES ('delete', old.rowid, old.email, old.username, old.name);
    INSERT INTO users_fts (rowid, email, username, name)
        VALUES (new.rowid, new.email, new.username, new.name);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER users_fts_ad AFTER DELETE ON users BEGIN
    INSERT INTO users_fts (users_fts, rowid, email, username, name)
        VALUES ('delete', old.rowid, old.email, old.username, old.name);
END;
-- +goose StatementEnd

CREATE TABLE sessions (
    id              TEXT    PRIMARY KEY,
    user_id         TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash      BLOB    NOT NULL UNIQUE,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    last_seen_at    INTEGER NOT NULL,
    ip              TEXT    NOT NULL DEFAULT '',
    user_agent      TEXT    NOT NULL DEFAULT '',
    revoked_at      INTEGER,
    revoked_reason  TEXT    NOT NULL DEFAULT '',
    impersonator_id TEXT    NOT NULL DEFAULT '',
    read_only       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX sessions_user_id ON sessions (user_id, id);

-- No foreign keys to users: the audit log outlives purged users. seq is the
-- rowid, so every single-column index below is ordered by seq within a key.
CREATE TABLE audit_log (
    seq             INTEGER PRIMARY KEY,
    id              TEXT    NOT NULL UNIQUE,
    time            INTEGER NOT NULL,
    actor_type      TEXT    NOT NULL DEFAULT '',
    actor_id        TEXT    NOT NULL DEFAULT '',
    actor_role      TEXT    NOT NULL DEFAULT '',
    impersonator_id TEXT    NOT NULL DEFAULT '',
    credential_id   TEXT    NOT NULL DEFAULT '',
    action          TEXT    NOT NULL,
    target_type     TEXT    NOT NULL DEFAULT '',
    target_id       TEXT    NOT NULL DEFAULT '',
    tenant_id       TEXT    NOT NULL DEFAULT '',
    reason          TEXT    NOT NULL DEFAULT '',
    changes         TEXT,
    metadata        TEXT,
    ip              TEXT    NOT NULL DEFAULT '',
    user_agent      TEXT    NOT NULL DEFAULT '',
    request_id      TEXT    NOT NULL DEFAULT '',
    prev_hash       TEXT    NOT NULL DEFAULT '',
    hash            TEXT    NOT NULL
);
CREATE INDEX audit_actor ON audit_log (actor_id);
CREATE INDEX audit_target ON audit_log (target_type, target_id);
CREATE INDEX audit_action ON audit_log (action);
CREATE INDEX audit_tenant ON audit_log (tenant_id);
CREATE INDEX audit_time ON audit_log (time);

CREATE TABLE signing_keys (
    id          TEXT    PRIMARY KEY,
    private_key BLOB    NOT NULL,
    created_at  INTEGER NOT NULL,
    retired_at  INTEGER
);

-- +goose Down
DROP TABLE signing_keys;
DROP TABLE audit_log;
DROP TABLE sessions;
DROP TABLE users_fts;
DROP TABLE user_tags;
DROP TABLE users;
