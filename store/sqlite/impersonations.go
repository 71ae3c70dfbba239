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

const impersonationColumns = "id, user_id, operator_id, session_id, tenant_id, reason, read_only, " +
	"operator_token_version, started_at, expires_at, ended_at, ended_by"

func scanImpersonation(sc scanner) (*steward.Impersonation, error) {
	var (
		m                steward.Impersonation
		started, expires int64
		ended            sql.NullInt64
	)
	err := sc.Scan(&m.ID, &m.UserID, &m.OperatorID, &m.SessionID, &m.TenantID, &m.Reason, &m.ReadOnly,
		&m.OperatorTokenVersion, &started, &expires, &ended, &m.EndedBy)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, store.ErrNotFound
		}
		return nil, err
	}
	m.StartedAt, m.ExpiresAt, m.EndedAt = fromMicros(started), fromMicros(expires), timePtr(ended)
	return &m, nil
}

func (q queries) GetImpersonation(ctx context.Context, id string) (*steward.Impersonation, error) {
	m, err := scanImpersonation(q.db.QueryRowContext(ctx, "SELECT "+impersonationColumns+
		" FROM impersonations WHERE id = ?", id))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("sqlite: get impersonation: %w", err)
	}
	return m, err
}

func (q queries) ListImpersonations(ctx context.Context, f steward.ImpersonationFilter) ([]*steward.Impersonation, error) {
	var (
		where []string
		args  []any
	)
	if f.UserID != "" {
		where, args = append(where, "user_id = ?"), append(args, f.UserID)
	}
	if f.OperatorID != "" {
		where, args = append(where, "operator_id = ?"), append(args, f.OperatorID)
	}
	if f.Active != nil {
		if *f.Active {
			where = append(where, "ended_at IS NULL AND expires_at > ?")
		} else {
			where = append(where, "(ended_at IS NOT NULL OR expires_at <= ?)")
		}
		args = append(args, micros(f.Now))
	}
	if f.Before != "" {
		where, args = append(where, "id < ?"), append(args, f.Before)
	}
	args = append(args, limit(f.Limit))
	list, err := queryAll(ctx, q.db, scanImpersonation, "SELECT "+impersonationColumns+" FROM impersonations"+
		whereClause(where)+" ORDER BY id DESC LIMIT ?", args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list impersonations: %w", err)
	}
	return list, nil
}

func (q queries) ListImpersonationsLapsed(ctx context.Context, now time.Time, n int) ([]*steward.Impersonation, error) {
	list, err := queryAll(ctx, q.db, scanImpersonation, "SELECT "+impersonationColumns+" FROM impersonations"+
		" WHERE ended_at IS NULL AND expires_at <= ? ORDER BY expires_at, id LIMIT ?", micros(now), limit(n))
	if err != nil {
		return nil, fmt.Errorf("sqlite: list lapsed impersonations: %w", err)
	}
	return list, nil
}

func impersonationArgs(m *steward.Impersonation) []any {
	return []any{m.UserID, m.OperatorID, m.SessionID, m.TenantID, m.Reason, m.ReadOnly, m.OperatorTokenVersion,
		micros(m.StartedAt), micros(m.ExpiresAt), nullMicros(m.EndedAt), m.EndedBy, m.ID}
}

func (t *tx) CreateImpersonation(ctx context.Context, m *steward.Impersonation) error {
	_, err := t.tx.ExecContext(ctx, "INSERT INTO impersonations (user_id, operator_id, session_id, tenant_id, "+
		"reason, read_only, operator_token_version, started_at, expires_at, ended_at, ended_by, id) "+
		"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", impersonationArgs(m)...)
	if err != nil {
		return fmt.Errorf("sqlite: create impersonation: %w", mapError(err))
	}
	return nil
}

func (t *tx) UpdateImpersonation(ctx context.Context, m *steward.Impersonation) error {
	err := exactlyOne(t.tx.ExecContext(ctx, "UPDATE impersonations SET user_id = ?, operator_id = ?, "+
		"session_id = ?, tenant_id = ?, reason = ?, read_only = ?, operator_token_version = ?, started_at = ?, "+
		"expires_at = ?, ended_at = ?, ended_by = ? WHERE id = ?", impersonationArgs(m)...))
	if err != nil {
		return fmt.Errorf("sqlite: update impersonation: %w", err)
	}
	return nil
}

func (t *tx) EndImpersonations(ctx context.Context, f store.ImpersonationEnd, now time.Time, endedBy string) ([]*steward.Impersonation, error) {
	var cond string
	args := []any{micros(now), endedBy, micros(now)}
	switch {
	case f.UserID != "":
		cond, args = "user_id = ?", append(args, f.UserID)
	case f.OperatorID != "":
		cond, args = "operator_id = ?", append(args, f.OperatorID)
	case f.SessionID != "":
		cond, args = "session_id = ?", append(args, f.SessionID)
	case f.TenantID != "":
		cond, args = "(tenant_id = ? OR operator_id IN (SELECT id FROM users WHERE tenant_id = ?))",
			append(args, f.TenantID, f.TenantID)
	default:
		return nil, errors.New("sqlite: end impersonations: empty filter")
	}
	list, err := queryAll(ctx, t.db, scanImpersonation, "UPDATE impersonations SET ended_at = ?, ended_by = ?"+
		" WHERE ended_at IS NULL AND expires_at > ? AND "+cond+" RETURNING "+impersonationColumns, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: end impersonations: %w", err)
	}
	return list, nil
}
