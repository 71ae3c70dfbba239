package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
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

func (q *queries) AuditAnchor(ctx context.Context) (_ *steward.AuditAnchor, err error) {
	defer wrapErr(&err, "audit anchor")
	var a steward.AuditAnchor
	err = q.q.QueryRow(ctx, "SELECT seq, hash, at FROM audit_anchor WHERE id = 1").Scan(&a.Seq, &a.Hash, &a.At)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, mapErr(err)
	}
	a.At = a.At.UTC()
	return &a, nil
}

func (t *tx) AuditPurgeBound(ctx context.Context, before time.Time, below int64, limit int) (_ int64, _ string, err error) {
	defer wrapErr(&err, "audit purge bound")
	rows, err := t.q.Query(ctx, "SELECT seq, time, hash FROM audit_log WHERE seq < $1 ORDER BY seq LIMIT $2", below, limit)
	if err != nil {
		return 0, "", mapErr(err)
	}
	defer rows.Close()
	var (
		seq  int64
		hash string
	)
	for rows.Next() {
		var s int64
		var at time.Time
		var h string
		if err := rows.Scan(&s, &at, &h); err != nil {
			return 0, "", mapErr(err)
		}
		if !at.Before(before) {
			break // the prefix ends at the first entry not past its age
		}
		seq, hash = s, h
	}
	rows.Close()
	return seq, hash, mapErr(rows.Err())
}

func (t *tx) DeleteAuditThrough(ctx context.Context, seq int64) (int64, error) {
	return t.purge(ctx, "delete audit entries", "DELETE FROM audit_log WHERE seq <= $1", seq)
}

func (t *tx) SetAuditAnchor(ctx context.Context, a *steward.AuditAnchor) (err error) {
	defer wrapErr(&err, "set audit anchor")
	_, err = t.q.Exec(ctx, `INSERT INTO audit_anchor (id, seq, hash, at) VALUES (1, $1, $2, $3)
		ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, at = excluded.at`, a.Seq, a.Hash, a.At)
	return mapErr(err)
}

func (t *tx) PurgeUserActivity(ctx context.Context, before time.Time, limit int) (int64, error) {
	// Each table in turn, within one limit, each an index range: the
	// primary key (hour, user_id), user_last_active_hour, active_days_day.
	n, err := t.purge(ctx, "purge user activity", `DELETE FROM user_activity WHERE (hour, user_id) IN (
		SELECT hour, user_id FROM user_activity WHERE hour < $1 LIMIT $2)`, before, limit)
	if err != nil || n >= int64(limit) {
		return n, err
	}
	m, err := t.purge(ctx, "purge users' last activity", `DELETE FROM user_last_active WHERE user_id IN (
		SELECT user_id FROM user_last_active WHERE hour < $1 LIMIT $2)`, before, int64(limit)-n)
	n += m
	if err != nil || n >= int64(limit) {
		return n, err
	}
	m, err = t.purge(ctx, "purge remembered active days", `DELETE FROM active_days WHERE (tz, day) IN (
		SELECT tz, day FROM active_days WHERE day < $1 LIMIT $2)`, before.AddDate(0, 0, -1).UTC().Format(time.DateOnly), int64(limit)-n)
	return n + m, err
}

func (t *tx) PurgeIdempotency(ctx context.Context, before time.Time, limit int) (int64, error) {
	return t.purge(ctx, "purge idempotency records", `DELETE FROM idempotency WHERE key_hash IN (
		SELECT key_hash FROM idempotency WHERE expires_at < $1 LIMIT $2)`, before, limit)
}
