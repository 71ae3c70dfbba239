-- +goose Up
-- Conventions as in 00001: constraint names are spelled out (the store maps
-- a unique violation to the domain field by name).

-- A checkpoint is a signed statement of the audit chain's head: entry seq
-- existed with this hash at time. signature is a compact JWS by the signing
-- key key_id over (id, seq, hash, time); the columns are what it signed, kept
-- for queries. No foreign keys: a checkpoint must outlive whatever an
-- attacker deletes, or it could not show the deletion.
CREATE TABLE audit_checkpoints (
    id        text        NOT NULL,
    seq       bigint      NOT NULL,
    hash      text        NOT NULL,
    time      timestamptz NOT NULL,
    key_id    text        NOT NULL,
    signature text        NOT NULL,
    CONSTRAINT audit_checkpoints_pkey PRIMARY KEY (id)
);
-- The latest checkpoint is the one with the highest seq.
CREATE INDEX audit_checkpoints_seq_id ON audit_checkpoints (seq, id);

-- +goose Down
DROP TABLE audit_checkpoints;
