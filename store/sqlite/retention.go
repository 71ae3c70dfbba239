package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

func (q queries) RetentionSettings(ctx context.Context) (map[string]int, error) {
	rows, err := q.db.QueryContext(ctx, "SELECT data_set, days FROM retention_settings")
	if err != nil {
		return nil, fmt.Errorf("sqlite: retention settings: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var set string
		var days int
		if err := rows.Scan(&set, &days); err != nil {
			return nil, fmt.Errorf("sqlite: retention settings: %w", err)
		}
		out[set] = days
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: retention settings: %w", err)
	}
	return out, nil
}

func (q queries) RetentionLastRun(ctx context.Context) (time.Time, error) {
	var at int64
	err := q.db.QueryRowContext(ctx, "SELECT last_run_at FROM retention_state WHERE id = 1").Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("sqlite: retention last run: %w", err)
	}
	return fromMicros(at), nil
}

func (t *tx) SetRetention(ctx context.Context, dataSet string, days *int) error {
	var err error
	if days == nil {
		_, err = t.tx.ExecContext(ctx, "DELETE FROM retention_settings WHERE data_set = ?", dataSet)
	} else {
		_, err = t.tx.ExecContext(ctx, `INSERT INTO retention_settings (data_set, days) VALUES (?, ?)
			ON CONFLICT (data_set) DO UPDATE SET days = excluded.days`, dataSet, *days)
	}
	if err != nil {
		return fmt.Errorf("sqlite: set retention: %w", err)
	}
	return nil
}

func (t *tx) ClaimRetentionRun(ctx context.Context, now, due time.Time) (bool, error) {
	res, err := t.tx.ExecContext(ctx, `INSERT INTO retention_state (id, last_run_at) VALUES (1, ?)
		ON CONFLICT (id) DO UPDATE SET last_run_at = excluded.last_run_at WHERE retention_state.last_run_at <= ?`,
		micros(now), micros(due))
	if err != nil {
		return false, fmt.Errorf("sqlite: claim retention run: %w", err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

func (t *tx) SetRetentionLastRun(ctx context.Context, now time.Time) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO retention_state (id, last_run_at) VALUES (1, ?)
		ON CONFLICT (id) DO UPDATE SET last_run_at = excluded.last_run_at`, micros(now))
	if err != nil {
		return fmt.Errorf("sqlite: set retention last run: %w", err)
	}
	return nil
}

func (t *tx) PurgeEndedSessions(ctx context.Context, before time.Time, limit int) (int64, error) {
	// Two index range scans (revoked, expired) rather than one OR over both.
	return t.purge(ctx, "ended sessions", `DELETE FROM sessions WHERE rowid IN (
		SELECT rowid FROM sessions WHERE revoked_at < ?1
		UNION SELECT rowid FROM sessions WHERE expires_at < ?1 LIMIT ?2)`, micros(before), limit)
}

func (t *tx) PurgeEndedImpersonations(ctx context.Context, before time.Time, limit int) (int64, error) {
	return t.purge(ctx, "ended impersonations", `DELETE FROM impersonations WHERE rowid IN (
		SELECT rowid FROM impersonations WHERE ended_at < ?1 LIMIT ?2)`, micros(before), limit)
}

func (t *tx) PurgeUsageEvents(ctx context.Context, before time.Time, limit int) (int64, error) {
	// WITHOUT ROWID: the primary key names the rows.
	return t.purge(ctx, "usage events", `DELETE FROM usage_events WHERE (tenant_id, id) IN (
		SELECT tenant_id, id FROM usage_events WHERE occurred_at < ?1 LIMIT ?2)`, micros(before), limit)
}

func (t *tx) purge(ctx context.Context, what, query string, args ...any) (int64, error) {
	res, err := t.tx.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, fmt.Errorf("sqlite: purge %s: %w", what, err)
	}
	return res.RowsAffected()
}

func (q queries) AuditAnchor(ctx context.Context) (*steward.AuditAnchor, error) {
	var a steward.AuditAnchor
	var at int64
	err := q.db.QueryRowContext(ctx, "SELECT seq, hash, at FROM audit_anchor WHERE id = 1").Scan(&a.Seq, &a.Hash, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: audit anchor: %w", err)
	}
	a.At = fromMicros(at)
	return &a, nil
}

func (t *tx) AuditPurgeBound(ctx context.Context, before time.Time, below int64, limit int) (int64, string, error) {
	rows, err := t.tx.QueryContext(ctx, "SELECT seq, time, hash FROM audit_log WHERE seq < ? ORDER BY seq LIMIT ?", below, limit)
	if err != nil {
		return 0, "", fmt.Errorf("sqlite: audit purge bound: %w", err)
	}
	defer rows.Close()
	var (
		seq  int64
		hash string
	)
	cut := micros(before)
	for rows.Next() {
		var s, at int64
		var h string
		if err := rows.Scan(&s, &at, &h); err != nil {
			return 0, "", fmt.Errorf("sqlite: audit purge bound: %w", err)
		}
		if at >= cut {
			break // the prefix ends at the first entry not past its age
		}
		seq, hash = s, h
	}
	if err := rows.Err(); err != nil {
		return 0, "", fmt.Errorf("sqlite: audit purge bound: %w", err)
	}
	return seq, hash, nil
}

func (t *tx) DeleteAuditThrough(ctx context.Context, seq int64) (int64, error) {
	return t.purge(ctx, "audit entries", "DELETE FROM audit_log WHERE seq <= ?", seq)
}

func (t *tx) SetAuditAnchor(ctx context.Context, a *steward.AuditAnchor) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO audit_anchor (id, seq, hash, at) VALUES (1, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, at = excluded.at`,
		a.Seq, a.Hash, micros(a.At))
	if err != nil {
		return fmt.Errorf("sqlite: set audit anchor: %w", err)
	}
	return nil
}

func (t *tx) PurgeUserActivity(ctx context.Context, before time.Time, limit int) (int64, error) {
	// Each table in turn, within one limit, each an index range: the
	// primary key (hour, user_id), user_last_active_hour, active_days_day.
	n, err := t.purge(ctx, "user activity", `DELETE FROM user_activity WHERE (hour, user_id) IN (
		SELECT hour, user_id FROM user_activity WHERE hour < ?1 LIMIT ?2)`, micros(before), limit)
	if err != nil || n >= int64(limit) {
		return n, err
	}
	m, err := t.purge(ctx, "users' last activity", `DELETE FROM user_last_active WHERE user_id IN (
		SELECT user_id FROM user_last_active WHERE hour < ?1 LIMIT ?2)`, micros(before), int64(limit)-n)
	n += m
	if err != nil || n >= int64(limit) {
		return n, err
	}
	m, err = t.purge(ctx, "remembered active days", `DELETE FROM active_days WHERE (tz, day) IN (
		SELECT tz, day FROM active_days WHERE day < ?1 LIMIT ?2)`, before.AddDate(0, 0, -1).UTC().Format(time.DateOnly), int64(limit)-n)
	return n + m, err
}

func (t *tx) PurgeIdempotency(ctx context.Context, before time.Time, limit int) (int64, error) {
	return t.purge(ctx, "idempotency records", `DELETE FROM idempotency WHERE key_hash IN (
		SELECT key_hash FROM idempotency WHERE expires_at < ?1 LIMIT ?2)`, micros(before), limit)
}
