package service

import (
	"context"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// ListSessions implements steward.SessionService.
func (s *Sessions) ListSessions(ctx context.Context, f steward.SessionFilter, p steward.ListParams) (*steward.Page[*steward.Session], error) {
	if _, err := authorize(ctx, steward.PermSessionsRead); err != nil {
		return nil, err
	}
	switch f.Status {
	case "", steward.SessionActive, steward.SessionRevoked, steward.SessionExpired:
	default:
		return nil, steward.FieldError("status", "must be one of active, revoked, expired")
	}
	limit, before, err := keyset(p)
	if err != nil {
		return nil, err
	}
	f.Before = before
	f.Now, f.Limit = s.now(), limit+1
	rows, err := s.store.ListSessions(ctx, f)
	if err != nil {
		return nil, err
	}
	pg := page(rows, limit, func(x *steward.Session) string { return encodeCursor(x.ID) })
	if p.IncludeTotal {
		n, err := s.store.CountSessions(ctx, f)
		if err != nil {
			return nil, err
		}
		pg.Total = &n
	}
	return pg, nil
}

// RevokeSession implements steward.SessionService.
func (s *Sessions) RevokeSession(ctx context.Context, sid string) (*steward.Session, error) {
	if _, err := authorize(ctx, steward.PermSessionsRevoke); err != nil {
		return nil, err
	}
	var out *steward.Session
	err := s.update(ctx, func(tx store.Tx) error {
		a, err := s.currentActor(ctx, tx, steward.PermSessionsRevoke)
		if err != nil {
			return err
		}
		sess, err := tx.GetSession(ctx, sid)
		if err != nil {
			return notFound(err, "session", sid)
		}
		owner, err := tx.GetUser(ctx, sess.UserID)
		if err != nil {
			return err
		}
		if err := guardRank(a, owner); err != nil {
			return err
		}
		if sess.RevokedAt != nil {
			return steward.Errorf(steward.CodeInvalidState, "session %s is already revoked", sid)
		}
		now := s.now()
		sess.RevokedAt, sess.RevokedReason = &now, "revoked by operator"
		if err := tx.UpdateSession(ctx, sess); err != nil {
			return err
		}
		out = sess
		if err := s.audit(ctx, tx, event{Action: "session.revoke", TargetType: "session", TargetID: sid,
			TenantID: owner.TenantID, Metadata: map[string]any{"user_id": sess.UserID}}); err != nil {
			return err
		}
		if sess.ImpersonationID == "" {
			return nil
		}
		return s.endImpersonationsFor(ctx, tx, store.ImpersonationEnd{SessionID: sid}, now, endedSessionRevoke)
	})
	return out, err
}
