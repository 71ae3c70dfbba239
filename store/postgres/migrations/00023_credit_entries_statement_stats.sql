-- The ledger's per-period figures (00009), counted per statement instead of
-- per row. A ledger batch inserts its entries in one statement (pipeline.go);
-- a row trigger upserted the same hourly bucket and the same tenant-month row
-- once per entry, and PostgreSQL keeps every version of a row updated within
-- one transaction, so each upsert walked the versions the ones before it left
-- and a batch slowed with the square of its size. These sum the statement's
-- rows per bucket and per tenant-month from its transition table and apply
-- each sum once, in key order (two writers never take the same rows in
-- opposite orders). What they count is what credit_entries_stat counted.

-- +goose Up
DROP TRIGGER credit_entries_stat ON credit_entries;
DROP FUNCTION credit_entries_stat();

-- +goose StatementBegin
CREATE FUNCTION credit_entries_stat_ins() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- A sum of 0 (an adjustment and its reverse) moves nothing, as the row
    -- trigger's +n then -n left the bucket as it was.
    INSERT INTO stat_hourly (name, key, hour, shard, value)
    SELECT credit_series(kind), '', date_trunc('hour', created_at, 'UTC'), pg_backend_pid() & 15,
        sum(CASE WHEN kind IN ('deduct', 'expire') THEN -amount ELSE amount END)
    FROM new_rows GROUP BY 1, 3 HAVING sum(CASE WHEN kind IN ('deduct', 'expire') THEN -amount ELSE amount END) <> 0
    ORDER BY 1, 3
    ON CONFLICT (name, hour, key, shard) DO UPDATE SET value = stat_hourly.value + EXCLUDED.value;
    INSERT INTO tenant_monthly (tenant_id, month, credits_granted, credits_used)
    SELECT tenant_id, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM'),
        sum(CASE kind WHEN 'grant' THEN amount ELSE 0 END), sum(CASE kind WHEN 'grant' THEN 0 ELSE -amount END)
    FROM new_rows WHERE kind IN ('grant', 'deduct', 'refund') GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (tenant_id, month) DO UPDATE SET
        credits_granted = tenant_monthly.credits_granted + EXCLUDED.credits_granted,
        credits_used = tenant_monthly.credits_used + EXCLUDED.credits_used;
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION credit_entries_stat_del() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO stat_hourly (name, key, hour, shard, value)
    SELECT credit_series(kind), '', date_trunc('hour', created_at, 'UTC'), pg_backend_pid() & 15,
        -sum(CASE WHEN kind IN ('deduct', 'expire') THEN -amount ELSE amount END)
    FROM old_rows GROUP BY 1, 3 HAVING sum(CASE WHEN kind IN ('deduct', 'expire') THEN -amount ELSE amount END) <> 0
    ORDER BY 1, 3
    ON CONFLICT (name, hour, key, shard) DO UPDATE SET value = stat_hourly.value + EXCLUDED.value;
    -- An UPDATE, not an upsert: when the tenant's purge cascades here, its
    -- monthly row may already be gone, and must stay gone.
    UPDATE tenant_monthly m SET credits_granted = m.credits_granted - d.granted, credits_used = m.credits_used - d.used
    FROM (SELECT tenant_id, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM') AS month,
            sum(CASE kind WHEN 'grant' THEN amount ELSE 0 END) AS granted,
            sum(CASE kind WHEN 'grant' THEN 0 ELSE -amount END) AS used
        FROM old_rows WHERE kind IN ('grant', 'deduct', 'refund') GROUP BY 1, 2) d
    WHERE m.tenant_id = d.tenant_id AND m.month = d.month;
    RETURN NULL;
END $$;
-- +goose StatementEnd

CREATE TRIGGER credit_entries_stat_ins AFTER INSERT ON credit_entries REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION credit_entries_stat_ins();
CREATE TRIGGER credit_entries_stat_del AFTER DELETE ON credit_entries REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION credit_entries_stat_del();

-- +goose Down
DROP TRIGGER credit_entries_stat_del ON credit_entries;
DROP TRIGGER credit_entries_stat_ins ON credit_entries;
DROP FUNCTION credit_entries_stat_del();
DROP FUNCTION credit_entries_stat_ins();

-- +goose StatementBegin
CREATE FUNCTION credit_entries_stat() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    e   credit_entries;
    dir bigint;
BEGIN
    IF TG_OP = 'INSERT' THEN
        e := NEW; dir := 1;
    ELSE
        e := OLD; dir := -1;
    END IF;
    PERFORM stat_add(credit_series(e.kind), '', e.created_at,
        dir * CASE WHEN e.kind IN ('deduct', 'expire') THEN -e.amount ELSE e.amount END);
    IF e.kind NOT IN ('grant', 'deduct', 'refund') THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO tenant_monthly (tenant_id, month, credits_granted, credits_used)
        VALUES (e.tenant_id, to_char(e.created_at AT TIME ZONE 'UTC', 'YYYY-MM'),
            CASE e.kind WHEN 'grant' THEN e.amount ELSE 0 END, CASE e.kind WHEN 'grant' THEN 0 ELSE -e.amount END)
        ON CONFLICT (tenant_id, month) DO UPDATE SET
            credits_granted = tenant_monthly.credits_granted + EXCLUDED.credits_granted,
            credits_used = tenant_monthly.credits_used + EXCLUDED.credits_used;
    ELSE
        UPDATE tenant_monthly SET
            credits_granted = credits_granted - CASE e.kind WHEN 'grant' THEN e.amount ELSE 0 END,
            credits_used = credits_used + CASE e.kind WHEN 'grant' THEN 0 ELSE e.amount END
        WHERE tenant_id = e.tenant_id AND month = to_char(e.created_at AT TIME ZONE 'UTC', 'YYYY-MM');
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd
CREATE TRIGGER credit_entries_stat AFTER INSERT OR DELETE ON credit_entries FOR EACH ROW
    EXECUTE FUNCTION credit_entries_stat();
