-- The indexes that order audit entries and webhook events by seq hold sealed
-- rows only. A pending row (no seq yet, 00022) is found through the pending
-- indexes; putting it into the seq indexes as well cost every change four
-- index insertions at write time that its sealing then made again, and left
-- their NULL keys behind as dead entries between vacuums, enough for the
-- planner to count pending rows through the seq key instead of the small
-- pending index. Every query of these indexes states seq IS NOT NULL or
-- compares seq (which implies it), so each can still use them.
--
-- Both tables are append-then-update queues: every row is inserted pending
-- and updated once when sealed. Vacuuming them after a fixed number of dead
-- rows, not a fraction of a table that only grows, keeps the pending
-- indexes small.

-- +goose Up
ALTER TABLE audit_log DROP CONSTRAINT audit_log_seq_key;
CREATE UNIQUE INDEX audit_log_seq_key ON audit_log (seq) WHERE seq IS NOT NULL;
DROP INDEX audit_log_actor_id_seq;
CREATE INDEX audit_log_actor_id_seq ON audit_log (actor_id, seq) WHERE seq IS NOT NULL;
DROP INDEX audit_log_action_seq;
CREATE INDEX audit_log_action_seq ON audit_log (action, seq) WHERE seq IS NOT NULL;
DROP INDEX audit_log_target_seq;
CREATE INDEX audit_log_target_seq ON audit_log (target_type, target_id, seq) WHERE seq IS NOT NULL;
DROP INDEX audit_log_tenant_id_seq;
CREATE INDEX audit_log_tenant_id_seq ON audit_log (tenant_id, seq) WHERE seq IS NOT NULL;
ALTER TABLE webhook_events DROP CONSTRAINT webhook_events_seq_key;
CREATE UNIQUE INDEX webhook_events_seq_key ON webhook_events (seq) WHERE seq IS NOT NULL;
ALTER TABLE audit_log SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 20000);
ALTER TABLE webhook_events SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 20000);

-- +goose Down
ALTER TABLE webhook_events RESET (autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold);
ALTER TABLE audit_log RESET (autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold);
DROP INDEX webhook_events_seq_key;
ALTER TABLE webhook_events ADD CONSTRAINT webhook_events_seq_key UNIQUE (seq);
DROP INDEX audit_log_tenant_id_seq;
CREATE INDEX audit_log_tenant_id_seq ON audit_log (tenant_id, seq);
DROP INDEX audit_log_target_seq;
CREATE INDEX audit_log_target_seq ON audit_log (target_type, target_id, seq);
DROP INDEX audit_log_action_seq;
CREATE INDEX audit_log_action_seq ON audit_log (action, seq);
DROP INDEX audit_log_actor_id_seq;
CREATE INDEX audit_log_actor_id_seq ON audit_log (actor_id, seq);
DROP INDEX audit_log_seq_key;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_seq_key UNIQUE (seq);
