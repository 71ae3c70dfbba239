-- The audit chain off the write path (docs/audit-log.md#sealing). A change
-- appends its entry pending: no seq, prev_hash or hash, only its place in
-- insertion order (pos) and its writer's transaction id (xid). The sequencer
-- seals pending entries later, in batches, under the chain lock that only
-- sealers, checkpoints and retention take. seq stays unique; the key moves
-- to pos.

-- +goose Up
ALTER TABLE audit_log DROP CONSTRAINT audit_log_pkey;
ALTER TABLE audit_log ADD COLUMN pos bigint GENERATED ALWAYS AS IDENTITY;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_pos_pkey PRIMARY KEY (pos);
ALTER TABLE audit_log ADD CONSTRAINT audit_log_seq_key UNIQUE (seq);
-- Existing rows are sealed and keep xid NULL; new rows record their
-- writer's transaction, which decides when they may be sealed.
ALTER TABLE audit_log ADD COLUMN xid xid8;
ALTER TABLE audit_log ALTER COLUMN xid SET DEFAULT pg_current_xact_id();
ALTER TABLE audit_log ALTER COLUMN seq DROP NOT NULL;
ALTER TABLE audit_log ALTER COLUMN prev_hash DROP NOT NULL;
ALTER TABLE audit_log ALTER COLUMN prev_hash DROP DEFAULT;
ALTER TABLE audit_log ALTER COLUMN hash DROP NOT NULL;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_sealed
    CHECK ((seq IS NULL) = (hash IS NULL) AND (seq IS NULL) = (prev_hash IS NULL));
-- What the sequencer reads every pass, and what /metrics counts: only
-- pending rows are in it, so a pass with nothing to do reads an empty index.
CREATE INDEX audit_log_pending ON audit_log (pos) WHERE seq IS NULL;

-- The webhook outbox's seq is each endpoint's delivery cursor, so it must be
-- the order in which events became visible: an event given seq 10 that
-- commits after seq 11 was delivered would be skipped. The audit head lock
-- used to serialise the inserts; now the sealer assigns seq, from its own
-- sequence, to events past the same horizon as the entries it seals.
ALTER TABLE webhook_events ALTER COLUMN seq DROP IDENTITY;
CREATE SEQUENCE webhook_events_order;
SELECT setval('webhook_events_order', coalesce(max(seq), 0) + 1, false) FROM webhook_events;
ALTER TABLE webhook_events DROP CONSTRAINT webhook_events_pkey;
ALTER TABLE webhook_events ADD COLUMN pos bigint GENERATED ALWAYS AS IDENTITY;
ALTER TABLE webhook_events ADD CONSTRAINT webhook_events_pos_pkey PRIMARY KEY (pos);
ALTER TABLE webhook_events ADD CONSTRAINT webhook_events_seq_key UNIQUE (seq);
ALTER TABLE webhook_events ALTER COLUMN seq DROP NOT NULL;
ALTER TABLE webhook_events ADD COLUMN xid xid8;
ALTER TABLE webhook_events ALTER COLUMN xid SET DEFAULT pg_current_xact_id();
CREATE INDEX webhook_events_pending ON webhook_events (pos) WHERE seq IS NULL;

-- +goose Down
DROP INDEX webhook_events_pending;
DELETE FROM webhook_events WHERE seq IS NULL;
ALTER TABLE webhook_events DROP COLUMN xid;
ALTER TABLE webhook_events DROP CONSTRAINT webhook_events_seq_key;
ALTER TABLE webhook_events DROP CONSTRAINT webhook_events_pos_pkey;
ALTER TABLE webhook_events DROP COLUMN pos;
ALTER TABLE webhook_events ALTER COLUMN seq SET NOT NULL;
ALTER TABLE webhook_events ALTER COLUMN seq ADD GENERATED ALWAYS AS IDENTITY;
SELECT setval(pg_get_serial_sequence('webhook_events', 'seq'), coalesce(max(seq), 0) + 1, false) FROM webhook_events;
ALTER TABLE webhook_events ADD CONSTRAINT webhook_events_pkey PRIMARY KEY (seq);
DROP SEQUENCE webhook_events_order;
DROP INDEX audit_log_pending;
DELETE FROM audit_log WHERE seq IS NULL;
ALTER TABLE audit_log DROP CONSTRAINT audit_log_sealed;
ALTER TABLE audit_log ALTER COLUMN hash SET NOT NULL;
ALTER TABLE audit_log ALTER COLUMN prev_hash SET DEFAULT '';
ALTER TABLE audit_log ALTER COLUMN prev_hash SET NOT NULL;
ALTER TABLE audit_log ALTER COLUMN seq SET NOT NULL;
ALTER TABLE audit_log DROP COLUMN xid;
ALTER TABLE audit_log DROP CONSTRAINT audit_log_seq_key;
ALTER TABLE audit_log DROP CONSTRAINT audit_log_pos_pkey;
ALTER TABLE audit_log DROP COLUMN pos;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_pkey PRIMARY KEY (seq);
