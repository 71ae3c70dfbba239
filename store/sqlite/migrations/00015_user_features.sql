-- Feature flags (issue 12): the user tier's overrides. The platform tier is
-- the "features" section of platform_settings (00013), the plan tier is
-- configuration, the tenant tier is tenants.features. Conventions as in
-- 00001.

-- +goose Up
-- A user without a row overrides nothing; the row goes with its user.
CREATE TABLE user_features (
    user_id    TEXT    PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    features   TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
);

-- +goose Down
DROP TABLE user_features;
