package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

const sessionCols = `id, user_id, token_hash, created_at, expires_at, last_seen_at, ip, user_agent,
	revoked_at, revoked_reason, impersonator_id, read_only, impersonation_id`

func scanSession(row pgx.Row) (*steward.Session, error) {
	var s steward.Session
	err := row.Scan(&s.ID, &s.UserID, &s.TokenHash, &s.CreatedAt, &s.ExpiresAt, &s.LastSeenAt,
		&s.IP, &s.UserAgent, &s.RevokedAt, &s.RevokedReason, &s.ImpersonatorID, &s.ReadOnly, &s.ImpersonationID)
	if err != nil {
		return nil, mapErr(err)
	}
	s.CreatedAt = s.CreatedAt.UTC()
	s.ExpiresAt = s.ExpiresAt.UTC()
	s.LastSeenAt = s.LastSeenAt.UTC()
	s.RevokedAt = utcPtr(s.RevokedAt)
	return &s, nil
}

func (q *queries) GetSession(ctx context.Context, id string) (_ *steward.Session, err error) {
	defer wrapErr(&err, "get session")
	return scanSession(q.q.QueryRow(ctx, "SELECT "+sessionCols+" FROM sessions WHERE id = $1"+q.forUpdate(), id))
}

func (q *queries) GetSessionByTokenHash(ctx context.Context, hash []byte) (_ *steward.Session, err error) {
	defer wrapErr(&err, "get session by token hash")
	return scanSession(q.q.QueryRow(ctx, "SELECT "+sessionCols+" FROM sessions WHERE token_hash = $1"+q.forUpdate(), hash))
}

// sessionWhere holds the conditions of f, Before and Limit aside: the list
// adds its keyset condition, a count does not.
func sessionWhere(f steward.SessionFilter) (*where, error) {
	w := &where{}
	if f.UserID != "" {
		w.add("user_id = " + w.arg(f.UserID))
	}
	switch f.Status {
	case "":
	case steward.SessionActive:
		w.add("revoked_at IS NULL AND expires_at > " + w.arg(f.Now))
	case steward.SessionRevoked:
		w.add("revoked_at IS NOT NULL")
	case steward.SessionExpired:
		w.add("revoked_at IS NULL AND expires_at <= " + w.arg(f.Now))
	default:
		return nil, fmt.Errorf("unknown status %q", f.Status)
	}
	return w, nil
}

func (q *queries) ListSessions(ctx context.Context, f steward.SessionFilter) (_ []*steward.Session, err error) {
	defer wrapErr(&err, "list sessions")
	w, err := sessionWhere(f)
	if err != nil {
		return nil, err
	}
	if f.Before != "" {
		w.add("id < " + w.arg(f.Before))
	}
	rows, err := q.q.Query(ctx, "SELECT "+sessionCols+" FROM sessions"+w.String()+
		" ORDER BY id DESC LIMIT "+w.arg(pageLimit(f.Limit)), w.args...)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	out := []*steward.Session{}
	for rows.Next() {
		s, err := scanSession(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, mapErr(rows.Err())
}

func (q *queries) CountSessions(ctx context.Context, f steward.SessionFilter) (_ int64, err error) {
	defer wrapErr(&err, "count sessions")
	w, err := sessionWhere(f)
	if err != nil {
		return 0, err
	}
	var n int64
	err = q.q.QueryRow(ctx, "SELECT count(*) FROM sessions"+w.String(), w.args...).Scan(&n)
	return n, mapErr(err)
}

func (t *tx) CreateSession(ctx context.Context, s *steward.Session) (err error) {
	defer wrapErr(&err, "create session")
	_, err = t.q.Exec(ctx, `INSERT INTO sessions (id, user_id, token_hash, created_at, expires_at,
		last_seen_at, ip, user_agent, revoked_at, revoked_reason, impersonator_id, read_only, impersonation_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`, sessionArgs(s)...)
	return mapErr(err)
}

func (t *tx) UpdateSession(ctx context.Context, s *steward.Session) (err error) {
	defer wrapErr(&err, "update session")
	tag, err := t.q.Exec(ctx, `UPDATE sessions SET user_id = $2, token_hash = $3, created_at = $4,
		expires_at = $5, last_seen_at = $6, ip = $7, user_agent = $8, revoked_at = $9,
		revoked_reason = $10, impersonator_id = $11, read_only = $12, impersonation_id = $13
		WHERE id = $1`, sessionArgs(s)...)
	if err != nil {
		return mapErr(err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

func sessionArgs(s *steward.Session) []any {
	return []any{s.ID, s.UserID, s.TokenHash, s.CreatedAt, s.ExpiresAt, s.LastSeenAt, s.IP,
		s.UserAgent, s.RevokedAt, s.RevokedReason, s.ImpersonatorID, s.ReadOnly, s.ImpersonationID}
}

func (t *tx) RevokeUserSessions(ctx context.Context, userID string, now time.Time, reason string) (_ int64, err error) {
	defer wrapErr(&err, "revoke user sessions")
	tag, err := t.q.Exec(ctx, `UPDATE sessions SET revoked_at = $2, revoked_reason = $3
		WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2`, userID, now, reason)
	if err != nil {
		return 0, mapErr(err)
	}
	return tag.RowsAffected(), nil
}
