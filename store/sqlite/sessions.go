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

const sessionColumns = "id, user_id, token_hash, created_at, expires_at, last_seen_at, ip, user_agent, " +
	"revoked_at, revoked_reason, impersonator_id, read_only, impersonation_id"

func scanSession(sc scanner) (*steward.Session, error) {
	var (
		s                         steward.Session
		created, expires, lastSee int64
		revoked                   sql.NullInt64
	)
	err := sc.Scan(&s.ID, &s.UserID, &s.TokenHash, &created, &expires, &lastSee, &s.IP, &s.UserAgent,
		&revoked, &s.RevokedReason, &s.ImpersonatorID, &s.ReadOnly, &s.ImpersonationID)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, store.ErrNotFound
		}
		return nil, err
	}
	s.CreatedAt, s.ExpiresAt, s.LastSeenAt = fromMicros(created), fromMicros(expires), fromMicros(lastSee)
	s.RevokedAt = timePtr(revoked)
	return &s, nil
}

func (q queries) getSession(ctx context.Context, where string, arg any) (*steward.Session, error) {
	s, err := scanSession(q.db.QueryRowContext(ctx, "SELECT "+sessionColumns+" FROM sessions WHERE "+where, arg))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("sqlite: get session: %w", err)
	}
	return s, err
}

func (q queries) GetSession(ctx context.Context, id string) (*steward.Session, error) {
	return q.getSession(ctx, "id = ?", id)
}

func (q queries) GetSessionByTokenHash(ctx context.Context, hash []byte) (*steward.Session, error) {
	return q.getSession(ctx, "token_hash = ?", hash)
}

// sessionWhere returns the WHERE clause and arguments for f; list adds the
// page's keyset condition (Before), which a count leaves out.
func sessionWhere(f steward.SessionFilter, list bool) (string, []any, error) {
	var (
		where []string
		args  []any
	)
	if f.UserID != "" {
		where = append(where, "user_id = ?")
		args = append(args, f.UserID)
	}
	switch f.Status {
	case "":
	case steward.SessionActive:
		where = append(where, "revoked_at IS NULL AND expires_at > ?")
		args = append(args, micros(f.Now))
	case steward.SessionRevoked:
		where = append(where, "revoked_at IS NOT NULL")
	case steward.SessionExpired:
		where = append(where, "revoked_at IS NULL AND expires_at <= ?")
		args = append(args, micros(f.Now))
	default:
		return "", nil, fmt.Errorf("unknown status %q", f.Status)
	}
	if list && f.Before != "" {
		where = append(where, "id < ?")
		args = append(args, f.Before)
	}
	return whereClause(where), args, nil
}

func (q queries) ListSessions(ctx context.Context, f steward.SessionFilter) ([]*steward.Session, error) {
	where, args, err := sessionWhere(f, true)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list sessions: %w", err)
	}
	args = append(args, limit(f.Limit))
	list, err := queryAll(ctx, q.db, scanSession, "SELECT "+sessionColumns+" FROM sessions"+where+
		" ORDER BY id DESC LIMIT ?", args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list sessions: %w", err)
	}
	return list, nil
}

func (q queries) CountSessions(ctx context.Context, f steward.SessionFilter) (int64, error) {
	where, args, err := sessionWhere(f, false)
	if err != nil {
		return 0, fmt.Errorf("sqlite: count sessions: %w", err)
	}
	var n int64
	if err := q.db.QueryRowContext(ctx, "SELECT count(*) FROM sessions"+where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count sessions: %w", err)
	}
	return n, nil
}

func sessionArgs(s *steward.Session) []any {
	return []any{s.UserID, s.TokenHash, micros(s.CreatedAt), micros(s.ExpiresAt), micros(s.LastSeenAt),
		s.IP, s.UserAgent, nullMicros(s.RevokedAt), s.RevokedReason, s.ImpersonatorID, s.ReadOnly, s.ImpersonationID, s.ID}
}

func (t *tx) CreateSession(ctx context.Context, s *steward.Session) error {
	_, err := t.tx.ExecContext(ctx, "INSERT INTO sessions (user_id, token_hash, created_at, expires_at, "+
		"last_seen_at, ip, user_agent, revoked_at, revoked_reason, impersonator_id, read_only, impersonation_id, id) "+
		"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", sessionArgs(s)...)
	if err != nil {
		return fmt.Errorf("sqlite: create session: %w", mapError(err))
	}
	return nil
}

func (t *tx) UpdateSession(ctx context.Context, s *steward.Session) error {
	err := exactlyOne(t.tx.ExecContext(ctx, "UPDATE sessions SET user_id = ?, token_hash = ?, created_at = ?, "+
		"expires_at = ?, last_seen_at = ?, ip = ?, user_agent = ?, revoked_at = ?, revoked_reason = ?, "+
		"impersonator_id = ?, read_only = ?, impersonation_id = ? WHERE id = ?", sessionArgs(s)...))
	if err != nil {
		return fmt.Errorf("sqlite: update session: %w", err)
	}
	return nil
}

func (t *tx) RevokeUserSessions(ctx context.Context, userID string, now time.Time, reason string) (int64, error) {
	res, err := t.tx.ExecContext(ctx, "UPDATE sessions SET revoked_at = ?, revoked_reason = ? "+
		"WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?", micros(now), reason, userID, micros(now))
	if err != nil {
		return 0, fmt.Errorf("sqlite: revoke sessions: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlite: revoke sessions: %w", err)
	}
	return n, nil
}
