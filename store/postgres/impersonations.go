package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

const impersonationCols = `id, user_id, operator_id, session_id, tenant_id, reason, read_only,
	operator_token_version, started_at, expires_at, ended_at, ended_by`

func scanImpersonation(row pgx.Row) (*steward.Impersonation, error) {
	var m steward.Impersonation
	err := row.Scan(&m.ID, &m.UserID, &m.OperatorID, &m.SessionID, &m.TenantID, &m.Reason, &m.ReadOnly,
		&m.OperatorTokenVersion, &m.StartedAt, &m.ExpiresAt, &m.EndedAt, &m.EndedBy)
	if err != nil {
		return nil, mapErr(err)
	}
	m.StartedAt, m.ExpiresAt, m.EndedAt = m.StartedAt.UTC(), m.ExpiresAt.UTC(), utcPtr(m.EndedAt)
	return &m, nil
}

func (q *queries) GetImpersonation(ctx context.Context, id string) (_ *steward.Impersonation, err error) {
	defer wrapErr(&err, "get impersonation")
	return scanImpersonation(q.q.QueryRow(ctx, "SELECT "+impersonationCols+" FROM impersonations WHERE id = $1"+
		q.forUpdate(), id))
}

func (q *queries) queryImpersonations(ctx context.Context, sql string, args ...any) ([]*steward.Impersonation, error) {
	rows, err := q.q.Query(ctx, sql, args...)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	out := []*steward.Impersonation{}
	for rows.Next() {
		m, err := scanImpersonation(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, mapErr(rows.Err())
}

func (q *queries) ListImpersonations(ctx context.Context, f steward.ImpersonationFilter) (_ []*steward.Impersonation, err error) {
	defer wrapErr(&err, "list impersonations")
	w := &where{}
	if f.UserID != "" {
		w.add("user_id = " + w.arg(f.UserID))
	}
	if f.OperatorID != "" {
		w.add("operator_id = " + w.arg(f.OperatorID))
	}
	if f.Active != nil {
		if *f.Active {
			w.add("ended_at IS NULL AND expires_at > " + w.arg(f.Now))
		} else {
			w.add("(ended_at IS NOT NULL OR expires_at <= " + w.arg(f.Now) + ")")
		}
	}
	if f.Before != "" {
		w.add("id < " + w.arg(f.Before))
	}
	return q.queryImpersonations(ctx, "SELECT "+impersonationCols+" FROM impersonations"+w.String()+
		" ORDER BY id DESC LIMIT "+w.arg(pageLimit(f.Limit)), w.args...)
}

func (q *queries) ListImpersonationsLapsed(ctx context.Context, now time.Time, limit int) (_ []*steward.Impersonation, err error) {
	defer wrapErr(&err, "list lapsed impersonations")
	return q.queryImpersonations(ctx, "SELECT "+impersonationCols+" FROM impersonations"+
		" WHERE ended_at IS NULL AND expires_at <= $1 ORDER BY expires_at, id LIMIT $2", now, pageLimit(limit))
}

func impersonationArgs(m *steward.Impersonation) []any {
	return []any{m.ID, m.UserID, m.OperatorID, m.SessionID, m.TenantID, m.Reason, m.ReadOnly,
		m.OperatorTokenVersion, m.StartedAt, m.ExpiresAt, m.EndedAt, m.EndedBy}
}

func (t *tx) CreateImpersonation(ctx context.Context, m *steward.Impersonation) (err error) {
	defer wrapErr(&err, "create impersonation")
	_, err = t.q.Exec(ctx, `INSERT INTO impersonations (id, user_id, operator_id, session_id, tenant_id,
		reason, read_only, operator_token_version, started_at, expires_at, ended_at, ended_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`, impersonationArgs(m)...)
	return mapErr(err)
}

func (t *tx) UpdateImpersonation(ctx context.Context, m *steward.Impersonation) (err error) {
	defer wrapErr(&err, "update impersonation")
	tag, err := t.q.Exec(ctx, `UPDATE impersonations SET user_id = $2, operator_id = $3, session_id = $4,
		tenant_id = $5, reason = $6, read_only = $7, operator_token_version = $8, started_at = $9,
		expires_at = $10, ended_at = $11, ended_by = $12 WHERE id = $1`, impersonationArgs(m)...)
	if err != nil {
		return mapErr(err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

func (t *tx) EndImpersonations(ctx context.Context, f store.ImpersonationEnd, now time.Time, endedBy string) (_ []*steward.Impersonation, err error) {
	defer wrapErr(&err, "end impersonations")
	var cond, arg string
	switch {
	case f.UserID != "":
		cond, arg = "user_id = $3", f.UserID
	case f.OperatorID != "":
		cond, arg = "operator_id = $3", f.OperatorID
	case f.SessionID != "":
		cond, arg = "session_id = $3", f.SessionID
	case f.TenantID != "":
		cond, arg = "(tenant_id = $3 OR operator_id IN (SELECT id FROM users WHERE tenant_id = $3))", f.TenantID
	default:
		return nil, errors.New("empty filter")
	}
	return t.queryImpersonations(ctx, "UPDATE impersonations SET ended_at = $1, ended_by = $2"+
		" WHERE ended_at IS NULL AND expires_at > $1 AND "+cond+" RETURNING "+impersonationCols, now, endedBy, arg)
}
