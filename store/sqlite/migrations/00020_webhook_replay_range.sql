-- Replay of a time range (issue 13, service/webhook_delivery.go
-- ReplayWebhook). Conventions as in 00001.

-- +goose Up
-- While a replay of a range runs, replay_to_seq is the last outbox seq of
-- the range and replay_resume_seq where the endpoint had got to before it:
-- once the cursor passes the range it jumps there, so events already
-- sent after the range are not sent again. 0: no replay of a range runs.
ALTER TABLE webhook_endpoints ADD COLUMN replay_to_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE webhook_endpoints ADD COLUMN replay_resume_seq INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE webhook_endpoints DROP COLUMN replay_resume_seq;
ALTER TABLE webhook_endpoints DROP COLUMN replay_to_seq;
