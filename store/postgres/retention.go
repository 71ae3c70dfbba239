package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

func (q *queries) RetentionSettings(ctx context.Context) (_ map[string]int, err error) {
	defer wrapErr(&err, "retention settings")
	rows, err := q.q.Query(ctx, "SELECT data_set, days FROM retention_settings")
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var set string
		var days int
		if err := rows.Scan(&set, &days); err != nil {
			return nil, mapErr(err)
		}
		out[set] = days
	}
	return out, mapErr(rows.Err())
}

func (q *queries) RetentionLastRun(ctx context.Context) (_ time.Time, err error) {
	defer wrapErr(&err, "retention last run")
	var at time.Time
	err = q.q.QueryRow(ctx, "SELECT last_run_at FROM retention_state WHERE id = 1").Scan(&at)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, mapErr(err)
	}
	return at.UTC(), nil
}

func (t *tx) SetRetention(ctx context.Context, dataSet string, days *int) (err error) {
	defer wrapErr(&err, "set retention")
	if days == nil {
		_, err = t.q.Exec(ctx, "DELETE FROM retention_settings WHERE data_set = $1", dataSet)
	} else {
		_, err = t.q.Exec(ctx, `INSERT INTO retention_settings (data_set, days) VALUES ($1, $2)
			ON CONFLICT (data_set) DO UPDATE SET days = excluded.days`, dataSet, *days)
	}
	return mapErr(err)
}

func (t *tx) ClaimRetentionRun(ctx context.Context, now, due time.Time) (_ bool, err error) {
	defer wrapErr(&err, "claim retention run")
	tag, err := t.q.Exec(ctx, `INSERT INTO retention_state (id, last_run_at) VALUES (1, $1)
		ON CONFLICT (id) DO UPDATE SET last_run_at = excluded.last_run_at WHERE retention_state.last_run_at <= $2`,
		now, due)
	if err != nil {
		return false, mapErr(err)
	}
	return tag.RowsAffected() > 0, nil
}

func (t *tx) SetRetentionLastRun(ctx context.Context, now time.Time) (err error) {
	defer wrapErr(&err, "set retention last run")
	_, err = t.q.Exec(ctx, `INSERT INTO retention_state (id, last_run_at) VALUES (1, $1)
		ON CONFLICT (id) DO UPDATE SET last_run_at = excluded.last_run_at`, now)
	return mapErr(err)
}

func (t *tx) PurgeEndedSessions(ctx context.Context, before time.Time, limit int) (int64, error) {
	// Two index range scans (revoked, expired) rather than one OR over both.
	return t.purge(ctx, "purge ended sessions", `DELETE FROM sessions WHERE id IN (
		SELECT id FROM sessions WHERE revoked_at < $1
		UNION SELECT id FROM sessions WHERE expires_at < $1 LIMIT $2)`, before, limit)
}

func (t *tx) PurgeEndedImpersonations(ctx context.Context, before time.Time, limit int) (int64, error) {
	return t.purge(ctx, "purge ended impersonations", `DELETE FROM impersonations WHERE id IN (
		SELECT id FROM impersonations WHERE ended_at < $1 LIMIT $2)`, before, limit)
}

func (t *tx) PurgeUsageEvents(ctx context.Context, before time.Time, limit int) (int64, error) {
	return t.purge(ctx, "purge usage events", `DELETE FROM usage_events WHERE (tenant_id, id) IN (
		SELECT tenant_id, id FROM usage_events WHERE occurred_at < $1 LIMIT $2)`, before, limit)
}

func (t *tx) purge(ctx context.Context, op, query string, args ...any) (_ int64, err error) {
	defer wrapErr(&err, op)
	tag, err := t.q.Exec(ctx, query, args...)
	if err != nil {
		return 0, mapErr(err)
	}
	return tag.RowsAffected(), nil
}
