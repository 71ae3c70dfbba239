-- Impersonation (issue 10): one row per impersonation an operator started,
-- kept after it ends (and after either user is purged) as the record of who
-- looked at whose account, when and why. The session it issued names it.

-- +goose Up
CREATE TABLE impersonations (
    id                     text        NOT NULL,
    user_id                text        NOT NULL,
    operator_id            text        NOT NULL,
    session_id             text        NOT NULL,
    tenant_id              text        NOT NULL DEFAULT '',
    reason                 text        NOT NULL,
    read_only              boolean     NOT NULL,
    operator_token_version bigint      NOT NULL,
    started_at             timestamptz NOT NULL,
    expires_at             timestamptz NOT NULL,
    ended_at               timestamptz,
    ended_by               text        NOT NULL DEFAULT '',
    CONSTRAINT impersonations_pkey PRIMARY KEY (id)
);
CREATE INDEX impersonations_user_id ON impersonations (user_id, id);
CREATE INDEX impersonations_operator_id ON impersonations (operator_id, id);
CREATE INDEX impersonations_open ON impersonations (expires_at) WHERE ended_at IS NULL;
ALTER TABLE sessions ADD COLUMN impersonation_id text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE sessions DROP COLUMN impersonation_id;
DROP TABLE impersonations;
