-- +goose Up
-- GET /admin/api-keys/stats counts the keys created and used in the last
-- 24 hours and 30 days through these, instead of reading every key.
CREATE INDEX api_keys_created_at ON api_keys (created_at);
CREATE INDEX api_keys_last_used_at ON api_keys (last_used_at) WHERE last_used_at IS NOT NULL;

-- +goose Down
DROP INDEX api_keys_last_used_at;
DROP INDEX api_keys_created_at;
