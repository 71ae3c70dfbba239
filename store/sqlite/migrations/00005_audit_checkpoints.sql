-- Conventions as in 00001: times are INTEGER unix microseconds, UTC.

-- +goose Up

-- A checkpoint is a signed statement of the audit chain's head: entry seq
-- existed with this hash at time. signature is a compact JWS by the signing
-- key key_id over (id, seq, hash, time); the columns are what it signed, kept
-- for queries. No foreign keys: a checkpoint must outlive whatever an
-- attacker deletes, or it could not show the deletion.
CREATE TABLE audit_checkpoints (
    id        TEXT    PRIMARY KEY,
    seq       INTEGER NOT NULL,
    hash      TEXT    NOT NULL,
    time      INTEGER NOT NULL,
    key_id    TEXT    NOT NULL,
    signature TEXT    NOT NULL
);
-- The latest checkpoint is the one with the highest seq.
CREATE INDEX audit_checkpoints_seq ON audit_checkpoints (seq, id);

-- +goose Down
DROP TABLE audit_checkpoints;
