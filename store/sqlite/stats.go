package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/stewardhq/steward/store"
)

// keyStateSQL is the key state a counter holds (migration 00008): stored
// revoked wins, then the sweeper's lapse, then the stored status.
const keyStateSQL = `CASE WHEN status = 'revoked' THEN 'revoked' WHEN lapsed <> '' THEN lapsed ELSE status END`

const readCountersSQL = `SELECT name, key, sum(value) FROM stat_counters GROUP BY name, key`

// lapsedKeysSQL finds the keys whose counted state is stale at ?1, with
// the state counted and the state at ?1, through the partial indexes
// api_keys_revoking and api_keys_expiring: only keys not yet swept are read.
const lapsedKeysSQL = `SELECT ` + keyStateSQL + `, 'revoked', count(*) FROM api_keys
WHERE status <> 'revoked' AND lapsed <> 'revoked' AND revoked_at IS NOT NULL AND revoked_at <= ?1
GROUP BY 1
UNION ALL
SELECT status, 'expired', count(*) FROM api_keys
WHERE status <> 'revoked' AND lapsed = '' AND expires_at IS NOT NULL AND expires_at <= ?1
  AND NOT (revoked_at IS NOT NULL AND revoked_at <= ?1)
GROUP BY 1`

const (
	lapsedSessionsSQL       = `SELECT count(*) FROM sessions WHERE revoked_at IS NULL AND lapsed = 0 AND expires_at <= ?1`
	lapsedImpersonationsSQL = `SELECT count(*) FROM impersonations WHERE ended_at IS NULL AND expires_at <= ?1`
	// Named: without statistics the planner prefers users_status_id, which
	// reads every banned user rather than those whose ban has ended.
	lapsedBansSQL = `SELECT count(*) FROM users INDEXED BY users_ban_expires WHERE status = 'banned' AND ban_expires_at <= ?1`
)

const recountSQL = `SELECT 'users.status', status, count(*) FROM users GROUP BY status
UNION ALL SELECT 'users.role', role, count(*) FROM users GROUP BY role
UNION ALL SELECT 'tenants.status', status, count(*) FROM tenants GROUP BY status
UNION ALL SELECT 'tenants.plan', plan, count(*) FROM tenants GROUP BY plan
UNION ALL SELECT 'api_keys.status', ` + keyStateSQL + `, count(*) FROM api_keys GROUP BY 2
UNION ALL SELECT 'api_keys.type', key_type, count(*) FROM api_keys GROUP BY key_type
UNION ALL SELECT 'sessions.open', '', count(*) FROM sessions WHERE revoked_at IS NULL AND lapsed = 0
UNION ALL SELECT 'impersonations.open', '', count(*) FROM impersonations WHERE ended_at IS NULL
UNION ALL SELECT 'credits.outstanding', '', coalesce(sum(balance), 0) FROM credit_accounts
UNION ALL SELECT 'resources.status', status, count(*) FROM resources GROUP BY status
UNION ALL SELECT 'resources.desired', desired_status, count(*) FROM resources GROUP BY desired_status
UNION ALL SELECT 'resources.held', '', count(*) FROM resources WHERE held_by_tenant`

// readGaugesSQL reads the counters and every time correction in one
// statement, so in one snapshot: a sweep or a write committing meanwhile is
// seen by all of it or by none. The first column says what a row is: c a
// counter (name, key), k a key move (counted state, state now), b lapsed
// bans, s lapsed sessions, i lapsed impersonations.
const readGaugesSQL = `SELECT 'c', name, key, sum(value) FROM stat_counters GROUP BY name, key
UNION ALL SELECT 'k', * FROM (` + lapsedKeysSQL + `) AS k
UNION ALL SELECT 'b', '', '', (` + lapsedBansSQL + `)
UNION ALL SELECT 's', '', '', (` + lapsedSessionsSQL + `)
UNION ALL SELECT 'i', '', '', (` + lapsedImpersonationsSQL + `)`

func (q queries) counters(ctx context.Context, query string, args ...any) (map[store.Counter]int64, error) {
	rows, err := q.db.QueryContext(ctx, query, args...)
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

func (q queries) ReadCounters(ctx context.Context) (map[store.Counter]int64, error) {
	c, err := q.counters(ctx, readCountersSQL)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read counters: %w", err)
	}
	return c, nil
}

func (q queries) RecountCounters(ctx context.Context) (map[store.Counter]int64, error) {
	c, err := q.counters(ctx, recountSQL)
	if err != nil {
		return nil, fmt.Errorf("sqlite: recount counters: %w", err)
	}
	return c, nil
}

func (q queries) ReadGauges(ctx context.Context, now time.Time) (*store.Gauges, error) {
	rows, err := q.db.QueryContext(ctx, readGaugesSQL, micros(now))
	if err != nil {
		return nil, fmt.Errorf("sqlite: read gauges: %w", err)
	}
	defer rows.Close()
	counters, moves, lapsed := map[store.Counter]int64{}, map[store.Counter]int64{}, map[string]int64{}
	for rows.Next() {
		var kind, a, b string
		var n int64
		if err := rows.Scan(&kind, &a, &b, &n); err != nil {
			return nil, fmt.Errorf("sqlite: read gauges: %w", err)
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
		return nil, fmt.Errorf("sqlite: read gauges: %w", err)
	}
	return store.NewGauges(counters, moves, lapsed["b"], lapsed["s"], lapsed["i"]), nil
}

func (t *tx) LockCounted(context.Context) error { return nil } // the one writer holds them already

func (t *tx) SetCounter(ctx context.Context, c store.Counter, value int64) error {
	if _, err := t.tx.ExecContext(ctx, `DELETE FROM stat_counters WHERE name = ? AND key = ?`, c.Name, c.Key); err != nil {
		return fmt.Errorf("sqlite: set counter: %w", err)
	}
	if _, err := t.tx.ExecContext(ctx, `INSERT INTO stat_counters (name, key, shard, value) VALUES (?, ?, 0, ?)`,
		c.Name, c.Key, value); err != nil {
		return fmt.Errorf("sqlite: set counter: %w", err)
	}
	return nil
}

// The sweeper's marks: each moves the row's counter through the triggers.
const (
	sweepSessionsSQL = `UPDATE sessions SET lapsed = 1 WHERE id IN (
    SELECT id FROM sessions WHERE revoked_at IS NULL AND lapsed = 0 AND expires_at <= ?1 LIMIT ?2)`
	sweepRevokedKeysSQL = `UPDATE api_keys SET lapsed = 'revoked' WHERE id IN (
    SELECT id FROM api_keys WHERE status <> 'revoked' AND lapsed <> 'revoked' AND revoked_at IS NOT NULL
        AND revoked_at <= ?1 LIMIT ?2)`
	sweepExpiredKeysSQL = `UPDATE api_keys SET lapsed = 'expired' WHERE id IN (
    SELECT id FROM api_keys WHERE status <> 'revoked' AND lapsed = '' AND expires_at IS NOT NULL
        AND expires_at <= ?1 LIMIT ?2)`
)

func (t *tx) SweepLapsed(ctx context.Context, now time.Time, limit int) (sessions, keys int64, err error) {
	res, err := t.tx.ExecContext(ctx, sweepSessionsSQL, micros(now), limit)
	if err != nil {
		return 0, 0, fmt.Errorf("sqlite: sweep sessions: %w", err)
	}
	sessions, _ = res.RowsAffected()
	// Revocations first: a key both revoked and expired is revoked.
	res, err = t.tx.ExecContext(ctx, sweepRevokedKeysSQL, micros(now), limit)
	if err != nil {
		return 0, 0, fmt.Errorf("sqlite: sweep keys: %w", err)
	}
	keys, _ = res.RowsAffected()
	if left := int64(limit) - keys; left > 0 {
		res, err = t.tx.ExecContext(ctx, sweepExpiredKeysSQL, micros(now), left)
		if err != nil {
			return 0, 0, fmt.Errorf("sqlite: sweep keys: %w", err)
		}
		n, _ := res.RowsAffected()
		keys += n
	}
	return sessions, keys, nil
}
