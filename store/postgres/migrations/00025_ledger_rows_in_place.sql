-- Ledger writes update rows in place. Every deduct sets its block's
-- remaining, and the block indexes (00004) were partial on remaining > 0:
-- PostgreSQL can only update a row "HOT" (a new version on the same page,
-- no new index entries) when no column an index reads changes, predicates
-- included, so each of those updates wrote a new entry into all four of
-- the table's indexes. With the predicate on a stored column computed from
-- remaining, which changes only when a block runs out or is refilled, a
-- deduct's update of a block is HOT. Queries state open where they
-- stated remaining > 0 (the same rows), so they still use the indexes.
--
-- The same for the tenant's monthly row, which every ledger batch updates
-- (00023): credits_used was the key of tenant_monthly_credits. "Top tenants
-- by credits used" now reads the month's rows through tenant_monthly_usage
-- (month first) and keeps the largest, as the month's totals already read
-- every row of the month.
--
-- The tables whose rows ledger writes update many times a second keep
-- room on each page for those versions.
--
-- Adding the stored column rewrites credit_blocks (one row per grant) once,
-- and the two indexes are rebuilt, under the table's lock: ledger writes on
-- every replica wait for the migration: 3 s for a million blocks on the
-- 2-core benchmark machine, busy with other work at the time.

-- +goose Up
ALTER TABLE credit_blocks ADD COLUMN open boolean GENERATED ALWAYS AS (remaining > 0) STORED;
DROP INDEX credit_blocks_open;
CREATE INDEX credit_blocks_open ON credit_blocks (tenant_id, expires_at, id) WHERE open;
DROP INDEX credit_blocks_lapsing;
CREATE INDEX credit_blocks_lapsing ON credit_blocks (expires_at) WHERE open AND expires_at IS NOT NULL;
ALTER TABLE credit_blocks SET (fillfactor = 70);
ALTER TABLE credit_accounts SET (fillfactor = 70);
DROP INDEX tenant_monthly_credits;
ALTER TABLE tenant_monthly SET (fillfactor = 70);

-- +goose Down
ALTER TABLE tenant_monthly RESET (fillfactor);
CREATE INDEX tenant_monthly_credits ON tenant_monthly (month, credits_used DESC, tenant_id);
ALTER TABLE credit_accounts RESET (fillfactor);
ALTER TABLE credit_blocks RESET (fillfactor);
DROP INDEX credit_blocks_lapsing;
CREATE INDEX credit_blocks_lapsing ON credit_blocks (expires_at) WHERE remaining > 0 AND expires_at IS NOT NULL;
DROP INDEX credit_blocks_open;
CREATE INDEX credit_blocks_open ON credit_blocks (tenant_id, expires_at, id) WHERE remaining > 0;
ALTER TABLE credit_blocks DROP COLUMN open;
