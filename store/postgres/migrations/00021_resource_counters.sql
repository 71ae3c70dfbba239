-- Resource counters (docs/overview.md): GET /admin/stats counts resources by
-- reported status, by desired status and those held by their tenant's
-- suspension, from stat_counters kept by these statement-level triggers in
-- the same transaction as the row change, sharded and summed per statement
-- as 00008 does for users and keys (a tenant's cascade moves each counter
-- row once). A heartbeat that changes no counted column runs the update
-- trigger, which finds nothing to move. Stale resources are not a counter
-- (time makes them stale without a write): readers count them through
-- resources_last_seen (00018).

-- +goose Up
-- The tenant detail's held.resources counts a tenant's held resources
-- through this index: only held rows are in it.
CREATE INDEX resources_held ON resources (tenant_id) WHERE held_by_tenant;

-- +goose StatementBegin
CREATE FUNCTION stat_resources_ins() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO stat_counters (name, key, shard, value)
    SELECT n, k, sh, sum(d) FROM (
        SELECT 'resources.status', status, hashtext(id) & 15, 1 FROM new_rows
        UNION ALL SELECT 'resources.desired', desired_status, hashtext(id) & 15, 1 FROM new_rows
        UNION ALL SELECT 'resources.held', '', hashtext(id) & 15, 1 FROM new_rows WHERE held_by_tenant
    ) AS x (n, k, sh, d)
    GROUP BY n, k, sh HAVING sum(d) <> 0 ORDER BY n, k, sh
    ON CONFLICT (name, key, shard) DO UPDATE SET value = stat_counters.value + excluded.value;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE FUNCTION stat_resources_upd() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO stat_counters (name, key, shard, value)
    SELECT n, k, sh, sum(d) FROM (
        SELECT 'resources.status', status, hashtext(id) & 15, 1 FROM new_rows
        UNION ALL SELECT 'resources.desired', desired_status, hashtext(id) & 15, 1 FROM new_rows
        UNION ALL SELECT 'resources.held', '', hashtext(id) & 15, 1 FROM new_rows WHERE held_by_tenant
        UNION ALL SELECT 'resources.status', status, hashtext(id) & 15, -1 FROM old_rows
        UNION ALL SELECT 'resources.desired', desired_status, hashtext(id) & 15, -1 FROM old_rows
        UNION ALL SELECT 'resources.held', '', hashtext(id) & 15, -1 FROM old_rows WHERE held_by_tenant
    ) AS x (n, k, sh, d)
    GROUP BY n, k, sh HAVING sum(d) <> 0 ORDER BY n, k, sh
    ON CONFLICT (name, key, shard) DO UPDATE SET value = stat_counters.value + excluded.value;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE FUNCTION stat_resources_del() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO stat_counters (name, key, shard, value)
    SELECT n, k, sh, sum(d) FROM (
        SELECT 'resources.status', status, hashtext(id) & 15, -1 FROM old_rows
        UNION ALL SELECT 'resources.desired', desired_status, hashtext(id) & 15, -1 FROM old_rows
        UNION ALL SELECT 'resources.held', '', hashtext(id) & 15, -1 FROM old_rows WHERE held_by_tenant
    ) AS x (n, k, sh, d)
    GROUP BY n, k, sh HAVING sum(d) <> 0 ORDER BY n, k, sh
    ON CONFLICT (name, key, shard) DO UPDATE SET value = stat_counters.value + excluded.value;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER resources_stat_ins AFTER INSERT ON resources REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stat_resources_ins();
CREATE TRIGGER resources_stat_upd AFTER UPDATE ON resources REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stat_resources_upd();
CREATE TRIGGER resources_stat_del AFTER DELETE ON resources REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stat_resources_del();

-- Backfill from the resources already there, in shard 0.
INSERT INTO stat_counters (name, key, shard, value)
SELECT 'resources.status', status, 0, count(*) FROM resources GROUP BY status
UNION ALL SELECT 'resources.desired', desired_status, 0, count(*) FROM resources GROUP BY desired_status
UNION ALL SELECT 'resources.held', '', 0, count(*) FROM resources WHERE held_by_tenant
ON CONFLICT (name, key, shard) DO UPDATE SET value = stat_counters.value + excluded.value;

-- +goose Down
DROP INDEX resources_held;
DROP TRIGGER resources_stat_del ON resources;
DROP TRIGGER resources_stat_upd ON resources;
DROP TRIGGER resources_stat_ins ON resources;
DROP FUNCTION stat_resources_del();
DROP FUNCTION stat_resources_upd();
DROP FUNCTION stat_resources_ins();
DELETE FROM stat_counters WHERE name IN ('resources.status', 'resources.desired', 'resources.held');
