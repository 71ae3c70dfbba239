package service

import (
	"context"
	"errors"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// What ended an impersonation other than a stop or its expiry: the
// ended_by of the impersonation and of its impersonation.stop entry. A
// "user." reason is a change to the impersonated user, "operator." one to
// the operator who started it.
const (
	endedSessionRevoke = "session.revoke"
	endedLogout        = "logout"
	endedTenantSuspend = "tenant.suspend"
	endedTenantDelete  = "tenant.delete"
)

// accessEnders names, for endAccess's reasons, the change as ended_by shows
// it after "user." or "operator.".
var accessEnders = map[string]string{
	"user suspended":   "suspend",
	"user banned":      "ban",
	"user deleted":     "delete",
	"user purged":      "purge",
	"forced logout":    "force_logout",
	"password changed": "password_change",
	"role changed":     "role_change",
}

// endImpersonationsFor records as ended, in tx, the open impersonations f
// matches because of the change endedBy names, revokes their sessions if
// still live, and writes one impersonation.stop entry each. Open
// impersonations are few (each is one operator's live session), so an entry
// per row stays small even for a tenant cascade.
func (s *core) endImpersonationsFor(ctx context.Context, tx store.Tx, f store.ImpersonationEnd, now time.Time, endedBy string) error {
	ended, err := tx.EndImpersonations(ctx, f, now, endedBy)
	if err != nil {
		return err
	}
	for _, m := range ended {
		sess, err := tx.GetSession(ctx, m.SessionID)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return err
		case sess.State(now) == steward.SessionActive:
			sess.RevokedAt, sess.RevokedReason = &now, "impersonation ended: "+endedBy
			if err := tx.UpdateSession(ctx, sess); err != nil {
				return err
			}
		}
		if err := s.audit(ctx, tx, event{Action: "impersonation.stop", TargetType: "impersonation", TargetID: m.ID,
			TenantID: m.TenantID, Metadata: map[string]any{"user_id": m.UserID, "operator_id": m.OperatorID,
				"stopped_by": endedBy}}); err != nil {
			return err
		}
	}
	return nil
}

// endImpersonationsOf ends the impersonations of u and those u started,
// for the endAccess reason why.
func (s *core) endImpersonationsOf(ctx context.Context, tx store.Tx, u *steward.User, why string) error {
	verb := accessEnders[why]
	if verb == "" {
		verb = why
	}
	now := s.now()
	if err := s.endImpersonationsFor(ctx, tx, store.ImpersonationEnd{UserID: u.ID}, now, "user."+verb); err != nil {
		return err
	}
	return s.endImpersonationsFor(ctx, tx, store.ImpersonationEnd{OperatorID: u.ID}, now, "operator."+verb)
}
