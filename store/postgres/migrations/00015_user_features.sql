-- Feature flags (issue 12): the user tier's overrides. The platform tier is
-- the "features" section of platform_settings (00013), the plan tier is
-- configuration, the tenant tier is tenants.features.

-- +goose Up
-- A user without a row overrides nothing; the row goes with its user.
CREATE TABLE user_features (
    user_id    text        NOT NULL,
    features   jsonb       NOT NULL,
    updated_at timestamptz NOT NULL,
    CONSTRAINT user_features_pkey PRIMARY KEY (user_id),
    CONSTRAINT user_features_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);

-- +goose Down
DROP TABLE user_features;
