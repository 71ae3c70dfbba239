-- Resource counters (docs/overview.md): GET /admin/stats counts resources by
-- reported status, by desired status and those held by their tenant's
-- suspension, from stat_counters kept by these triggers in the same
-- transaction as the row change, as 00008 does for users and keys. The
-- update trigger fires only when a counted column changes, so a steady
-- heartbeat (last_seen_at, metadata) moves nothing. Stale resources are not
-- a counter (time makes them stale without a write): readers count them
-- through resources_last_seen (00018).

-- +goose Up
-- The tenant detail's held.resources counts a tenant's held resources
-- through this index: only held rows are in it (held_by_tenant in it too so
-- that SQLite reads the index alone).
CREATE INDEX resources_held ON resources (tenant_id, held_by_tenant) WHERE held_by_tenant;

-- +goose StatementBegin
CREATE TRIGGER resources_stat_ai AFTER INSERT ON resources BEGIN
    INSERT INTO stat_counters (name, key, shard, value) VALUES
        ('resources.status', new.status, 0, 1), ('resources.desired', new.desired_status, 0, 1),
        ('resources.held', '', 0, CASE WHEN new.held_by_tenant THEN 1 ELSE 0 END)
        ON CONFLICT (name, key, shard) DO UPDATE SET value = value + excluded.value;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER resources_stat_au AFTER UPDATE OF status, desired_status, held_by_tenant ON resources
WHEN old.status IS NOT new.status OR old.desired_status IS NOT new.desired_status
    OR old.held_by_tenant IS NOT new.held_by_tenant BEGIN
    INSERT INTO stat_counters (name, key, shard, value) VALUES
        ('resources.status', old.status, 0, -1), ('resources.status', new.status, 0, 1),
        ('resources.desired', old.desired_status, 0, -1), ('resources.desired', new.desired_status, 0, 1),
        ('resources.held', '', 0, (CASE WHEN new.held_by_tenant THEN 1 ELSE 0 END) - (CASE WHEN old.held_by_tenant THEN 1 ELSE 0 END))
        ON CONFLICT (name, key, shard) DO UPDATE SET value = value + excluded.value;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER resources_stat_ad AFTER DELETE ON resources BEGIN
    INSERT INTO stat_counters (name, key, shard, value) VALUES
        ('resources.status', old.status, 0, -1), ('resources.desired', old.desired_status, 0, -1),
        ('resources.held', '', 0, CASE WHEN old.held_by_tenant THEN -1 ELSE 0 END)
        ON CONFLICT (name, key, shard) DO UPDATE SET value = value + excluded.value;
END;
-- +goose StatementEnd

-- Backfill from the resources already there.
INSERT INTO stat_counters (name, key, shard, value)
SELECT 'resources.status', status, 0, count(*) FROM resources GROUP BY status
UNION ALL SELECT 'resources.desired', desired_status, 0, count(*) FROM resources GROUP BY desired_status
UNION ALL SELECT 'resources.held', '', 0, count(*) FROM resources WHERE held_by_tenant
ON CONFLICT (name, key, shard) DO UPDATE SET value = value + excluded.value;

-- +goose Down
DROP INDEX resources_held;
DROP TRIGGER resources_stat_ad;
DROP TRIGGER resources_stat_au;
DROP TRIGGER resources_stat_ai;
DELETE FROM stat_counters WHERE name IN ('resources.status', 'resources.desired', 'resources.held');
