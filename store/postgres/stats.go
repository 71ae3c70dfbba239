package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/stewardhq/steward/store"
)

// keyStateSQL is the key state a counter holds (migration 00008,
// stat_key_state): stored revoked wins, then the sweeper's lapse, then the
// stored status.
const keyStateSQL = `CASE WHEN status = 'revoked' THEN 'revoked' WHEN lapsed <> '' THEN lapsed ELSE status END`

const readCountersSQL = `SELECT name, key, sum(value)::bigint FROM stat_counters GROUP BY name, key`

// lapsedKeysSQL finds the keys whose counted state is stale at $1, with
// the state counted and the state at $1, through the partial indexes
// api_keys_revoking and api_keys_expiring: only keys not yet swept are read.
const lapsedKeysSQL = `SELECT ` + keyStateSQL + `, 'revoked', count(*) FROM api_keys
WHERE status <> 'revoked' AND lapsed <> 'revoked' AND revoked_at IS NOT NULL AND revoked_at <= $1
GROUP BY 1
UNION ALL
SELECT status, 'expired', count(*) FROM api_keys
WHERE status <> 'revoked' AND lapsed = '' AND expires_at IS NOT NULL AND expires_at <= $1
  AND NOT (revoked_at IS NOT NULL AND revoked_at <= $1)
GROUP BY 1`

const (
	lapsedSessionsSQL       = `SELECT count(*) FROM sessions WHERE revoked_at IS NULL AND NOT lapsed AND expires_at <= $1`
	lapsedImpersonationsSQL = `SELECT count(*) FROM impersonations WHERE ended_at IS NULL AND expires_at <= $1`
	// Through the partial index users_ban_expires.
	lapsedBansSQL = `SELECT count(*) FROM users WHERE status = 'banned' AND ban_expires_at <= $1`
)

const recountSQL = `SELECT 'users.status', status, count(*) FROM users GROUP BY status
UNION ALL SELECT 'users.role', role, count(*) FROM users GROUP BY role
UNION ALL SELECT 'tenants.status', status, count(*) FROM tenants GROUP BY status
UNION ALL SELECT 'tenants.plan', plan, count(*) FROM tenants GROUP BY plan
UNION ALL SELECT 'api_keys.status', ` + keyStateSQL + `, count(*) FROM api_keys GROUP BY 2
UNION ALL SELECT 'api_keys.type', key_type, count(*) FROM api_keys GROUP BY key_type
UNION ALL SELECT 'sessions.open', '', count(*) FROM sessions WHERE revoked_at IS NULL AND NOT lapsed
UNION ALL SELECT 'impersonations.open', '', count(*) FROM impersonations WHERE ended_at IS NULL
UNION ALL SELECT 'credits.outstanding', '', coalesce(sum(balance), 0)::bigint FROM credit_accounts
UNION ALL SELECT 'resources.status', status, count(*) FROM resources GROUP BY status
UNION ALL SELECT 'resources.desired', desired_status, count(*) FROM resources GROUP BY desired_status
UNION ALL SELECT 'resources.held', '', count(*) FROM resources WHERE held_by_tenant`

// readGaugesSQL reads the counters and every time correction in one
// statement, so in one snapshot: a sweep or a write committing meanwhile is
// seen by all of it or by none. The first column says what a row is: c a
// counter (name, key), k a key move (counted state, state now), b lapsed
// bans, s lapsed sessions, i lapsed impersonations.
const readGaugesSQL = `SELECT 'c', name, key, sum(value)::bigint FROM stat_counters GROUP BY name, key
UNION ALL SELECT 'k', * FROM (` + lapsedKeysSQL + `) AS k
UNION ALL SELECT 'b', '', '', (` + lapsedBansSQL + `)
UNION ALL SELECT 's', '', '', (` + lapsedSessionsSQL + `)
UNION ALL SELECT 'i', '', '', (` + lapsedImpersonationsSQL + `)`

func (q *queries) counters(ctx context.Context, query string, args ...any) (map[store.Counter]int64, error) {
	rows, err := q.q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[store.Counter]int64{}
	for rows.Next() {
		var c store.Counter
		var v int64
		if err := rows.Scan(&c.Name, &c.Key, &v); err != nil {
			return nil, err
		}
		out[c] += v
	}
	return out, rows.Err()
}

func (q *queries) ReadCounters(ctx context.Context) (map[store.Counter]int64, error) {
	c, err := q.counters(ctx, readCountersSQL)
	if err != nil {
		return nil, fmt.Errorf("postgres: read counters: %w", err)
	}
	return c, nil
}

func (q *queries) RecountCounters(ctx context.Context) (map[store.Counter]int64, error) {
	c, err := q.counters(ctx, recountSQL)
	if err != nil {
		return nil, fmt.Errorf("postgres: recount counters: %w", err)
	}
	return c, nil
}

func (q *queries) ReadGauges(ctx context.Context, now time.Time) (*store.Gauges, error) {
	rows, err := q.q.Query(ctx, readGaugesSQL, now)
	if err != nil {
		return nil, fmt.Errorf("postgres: read gauges: %w", err)
	}
	defer rows.Close()
	counters, moves, lapsed := map[store.Counter]int64{}, map[store.Counter]int64{}, map[string]int64{}
	for rows.Next() {
		var kind, a, b string
		var n int64
		if err := rows.Scan(&kind, &a, &b, &n); err != nil {
			return nil, fmt.Errorf("postgres: read gauges: %w", err)
		}
		switch kind {
		case "c":
			counters[store.Counter{Name: a, Key: b}] += n
		case "k":
			moves[store.Counter{Name: a, Key: b}] += n
		default:
			lapsed[kind] += n
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: read gauges: %w", err)
	}
	return store.NewGauges(counters, moves, lapsed["b"], lapsed["s"], lapsed["i"]), nil
}

// LockCounted takes SHARE locks, which every INSERT, UPDATE and DELETE
// waits behind, in a fixed order.
func (t *tx) LockCounted(ctx context.Context) error {
	if _, err := t.q.Exec(ctx, `LOCK TABLE users, tenants, api_keys, sessions, impersonations, credit_accounts, resources IN SHARE MODE`); err != nil {
		return fmt.Errorf("postgres: lock counted tables: %w", err)
	}
	return nil
}

func (t *tx) SetCounter(ctx context.Context, c store.Counter, value int64) error {
	if _, err := t.q.Exec(ctx, `DELETE FROM stat_counters WHERE name = $1 AND key = $2`, c.Name, c.Key); err != nil {
		return fmt.Errorf("postgres: set counter: %w", err)
	}
	if _, err := t.q.Exec(ctx, `INSERT INTO stat_counters (name, key, shard, value) VALUES ($1, $2, 0, $3)`,
		c.Name, c.Key, value); err != nil {
		return fmt.Errorf("postgres: set counter: %w", err)
	}
	return nil
}

// The sweeper's marks: each moves the row's counter through the triggers.
// SKIP LOCKED leaves rows a writer holds to the next sweep.
const (
	sweepSessionsSQL = `UPDATE sessions SET lapsed = true WHERE id IN (
    SELECT id FROM sessions WHERE revoked_at IS NULL AND NOT lapsed AND expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`
	sweepRevokedKeysSQL = `UPDATE api_keys SET lapsed = 'revoked' WHERE id IN (
    SELECT id FROM api_keys WHERE status <> 'revoked' AND lapsed <> 'revoked' AND revoked_at IS NOT NULL
        AND revoked_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`
	sweepExpiredKeysSQL = `UPDATE api_keys SET lapsed = 'expired' WHERE id IN (
    SELECT id FROM api_keys WHERE status <> 'revoked' AND lapsed = '' AND expires_at IS NOT NULL
        AND expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`
)

func (t *tx) SweepLapsed(ctx context.Context, now time.Time, limit int) (sessions, keys int64, err error) {
	tag, err := t.q.Exec(ctx, sweepSessionsSQL, now, limit)
	if err != nil {
		return 0, 0, fmt.Errorf("postgres: sweep sessions: %w", err)
	}
	sessions = tag.RowsAffected()
	// Revocations first: a key both revoked and expired is revoked.
	tag, err = t.q.Exec(ctx, sweepRevokedKeysSQL, now, limit)
	if err != nil {
		return 0, 0, fmt.Errorf("postgres: sweep keys: %w", err)
	}
	keys = tag.RowsAffected()
	if left := int64(limit) - keys; left > 0 {
		tag, err = t.q.Exec(ctx, sweepExpiredKeysSQL, now, left)
		if err != nil {
			return 0, 0, fmt.Errorf("postgres: sweep keys: %w", err)
		}
		keys += tag.RowsAffected()
	}
	return sessions, keys, nil
}
