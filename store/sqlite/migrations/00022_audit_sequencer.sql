-- The audit chain off the write path (docs/audit-log.md#sealing). A change
-- appends its entry pending: no seq, prev_hash or hash, only its place in
-- insertion order (pos, the rowid). The sequencer seals pending entries in
-- a later write transaction. seq was the rowid, which cannot be NULL, so
-- the table is rebuilt with pos as the rowid and seq a unique column; the
-- indexes name seq so lists by a key still read in seq order.

-- +goose Up
CREATE TABLE audit_log_new (
    pos             INTEGER PRIMARY KEY,
    seq             INTEGER,
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
    prev_hash       TEXT,
    hash            TEXT,
    CHECK ((seq IS NULL) = (hash IS NULL) AND (seq IS NULL) = (prev_hash IS NULL))
);
INSERT INTO audit_log_new (pos, seq, id, time, actor_type, actor_id, actor_role, impersonator_id,
    credential_id, action, target_type, target_id, tenant_id, reason, changes, metadata, ip,
    user_agent, request_id, prev_hash, hash)
SELECT seq, seq, id, time, actor_type, actor_id, actor_role, impersonator_id, credential_id, action,
    target_type, target_id, tenant_id, reason, changes, metadata, ip, user_agent, request_id,
    prev_hash, hash FROM audit_log;
DROP TABLE audit_log;
ALTER TABLE audit_log_new RENAME TO audit_log;
CREATE UNIQUE INDEX audit_seq ON audit_log (seq);
CREATE INDEX audit_actor ON audit_log (actor_id, seq);
CREATE INDEX audit_target ON audit_log (target_type, target_id, seq);
CREATE INDEX audit_action ON audit_log (action, seq);
CREATE INDEX audit_tenant ON audit_log (tenant_id, seq);
CREATE INDEX audit_time ON audit_log (time);
-- What the sequencer reads every pass: only pending rows are in it.
CREATE INDEX audit_pending ON audit_log (pos) WHERE seq IS NULL;

-- +goose Down
CREATE TABLE audit_log_old (
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
INSERT INTO audit_log_old SELECT seq, id, time, actor_type, actor_id, actor_role, impersonator_id,
    credential_id, action, target_type, target_id, tenant_id, reason, changes, metadata, ip,
    user_agent, request_id, prev_hash, hash FROM audit_log WHERE seq IS NOT NULL;
DROP TABLE audit_log;
ALTER TABLE audit_log_old RENAME TO audit_log;
CREATE INDEX audit_actor ON audit_log (actor_id);
CREATE INDEX audit_target ON audit_log (target_type, target_id);
CREATE INDEX audit_action ON audit_log (action);
CREATE INDEX audit_tenant ON audit_log (tenant_id);
CREATE INDEX audit_time ON audit_log (time);
