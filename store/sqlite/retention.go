package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
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
