package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/id"
	"github.com/stewardhq/steward/store"
)

// DefaultImpersonation is how long an impersonation lasts when the operator
// does not say (capped by Config.ImpersonationMax).
const DefaultImpersonation = 15 * time.Minute

// reasonRequired is the message of a missing reason: it says why, since the
// operator typing it is the person most likely to think it optional.
const reasonRequired = "is required: it is recorded in the audit log and shown to the user whose account you open"

var _ steward.ImpersonationService = (*Impersonations)(nil)

func (s *Impersonations) maxDuration() time.Duration {
	if s.cfg.ImpersonationMax > 0 {
		return s.cfg.ImpersonationMax
	}
	return time.Hour
}

// duration validates a requested length; 0 is the default (at most the cap).
func (s *Impersonations) duration(d time.Duration, field string) (time.Duration, error) {
	if field == "" {
		field = "duration_seconds"
	}
	maxD := s.maxDuration()
	switch {
	case d == 0:
		return min(DefaultImpersonation, maxD), nil
	case d < time.Second:
		return 0, steward.FieldError(field, "must be at least 1 second")
	case d > maxD:
		return 0, steward.FieldError(field, fmt.Sprintf("must be at most %d seconds (STEWARD_IMPERSONATION_MAX)", int64(maxD/time.Second)))
	}
	return d, nil
}

// StartImpersonation implements steward.ImpersonationService. The session it
// issues belongs to the user, names the operator (impersonator_id) and the
// impersonation, and lasts exactly as long as the impersonation.
func (s *Impersonations) StartImpersonation(ctx context.Context, in steward.ImpersonationStart) (*steward.ImpersonationStarted, error) {
	a, err := authorize(ctx, steward.PermUsersImpersonate)
	if err != nil {
		return nil, err
	}
	if in.AllowWrites {
		if _, err := authorize(ctx, steward.PermUsersImpersonateWrite); err != nil {
			return nil, err
		}
	}
	if a.ID == "" || a.ImpersonatorID != "" {
		return nil, steward.Errorf(steward.CodeForbidden, "only a signed-in operator can impersonate")
	}
	if err := switchOn(ctx, s.store, SwitchImpersonation); err != nil {
		return nil, err
	}
	reason, err := validReason(in.Reason, false)
	if err == nil && reason == "" {
		err = steward.FieldError("reason", reasonRequired)
	}
	if err != nil {
		return nil, err
	}
	d, err := s.duration(in.Duration, in.DurationField)
	if err != nil {
		return nil, err
	}
	now := s.now()
	token := s.cfg.KeyPrefix + "_s_" + newSecret()
	imp := &steward.Impersonation{ID: id.New("imp", now), UserID: in.UserID, OperatorID: a.ID,
		Reason: reason, ReadOnly: !in.AllowWrites, StartedAt: now, ExpiresAt: now.Add(d)}
	sess := &steward.Session{ID: id.New("ses", now), UserID: in.UserID, TokenHash: TokenHash(token),
		CreatedAt: now, ExpiresAt: imp.ExpiresAt, LastSeenAt: now, IP: in.IP, UserAgent: truncate(in.UserAgent, 512),
		ImpersonatorID: a.ID, ReadOnly: imp.ReadOnly, ImpersonationID: imp.ID}
	imp.SessionID = sess.ID
	var u *steward.User
	err = s.update(ctx, func(tx store.Tx) error {
		a, err := s.currentActor(ctx, tx, steward.PermUsersImpersonate)
		if err != nil {
			return err
		}
		if in.AllowWrites && !a.Can(steward.PermUsersImpersonateWrite) {
			return forbidden(a, steward.PermUsersImpersonateWrite)
		}
		op, err := tx.GetUser(ctx, a.ID)
		if err != nil {
			return err
		}
		if u, err = tx.GetUser(ctx, in.UserID); err != nil {
			return notFound(err, "user", in.UserID)
		}
		if err := guardSelf(a, u, "impersonate"); err != nil {
			return err
		}
		// Stricter than guardRank: not even a super_admin opens the account
		// of an equal.
		if u.Role.Rank() >= a.Role.Rank() {
			return &steward.Error{Code: steward.CodeInsufficientRole,
				Message: "you can only impersonate users ranked below you",
				Details: map[string]any{"target_role": string(u.Role), "your_role": string(a.Role)}}
		}
		if !u.IsActive(now) {
			return invalidState(u, now, "impersonate")
		}
		if ok, err := s.tenants.tenantActive(ctx, u.TenantID); err != nil || !ok {
			return firstErr(err, &steward.Error{Code: steward.CodeInvalidState,
				Message: "cannot impersonate a user whose tenant is not active",
				Details: map[string]any{"tenant_id": u.TenantID}})
		}
		imp.TenantID, imp.OperatorTokenVersion = u.TenantID, op.TokenVersion
		if err := tx.CreateSession(ctx, sess); err != nil {
			return err
		}
		if err := tx.CreateImpersonation(ctx, imp); err != nil {
			return err
		}
		return s.audit(ctx, tx, event{Action: "impersonation.start", TargetType: "impersonation",
			TargetID: imp.ID, TenantID: u.TenantID, Reason: reason,
			Metadata: map[string]any{"user_id": u.ID, "session_id": sess.ID, "duration_seconds": int64(d / time.Second),
				"allow_writes": in.AllowWrites, "expires_at": imp.ExpiresAt}})
	})
	if err != nil {
		return nil, err
	}
	if err := s.auth.keys.reloadIfStale(ctx); err != nil {
		return nil, err
	}
	access, _, err := s.auth.signAccess(u, sess)
	if err != nil {
		return nil, err
	}
	return &steward.ImpersonationStarted{Token: token, AccessToken: access, ImpersonationID: imp.ID,
		ExpiresAt: imp.ExpiresAt, ReadOnly: imp.ReadOnly}, nil
}

// ListImpersonations implements steward.ImpersonationService. Impersonations
// are part of the record, so reading them takes audit:read.
func (s *Impersonations) ListImpersonations(ctx context.Context, f steward.ImpersonationFilter, p steward.ListParams) (*steward.Page[*steward.Impersonation], error) {
	if _, err := authorize(ctx, steward.PermAuditRead); err != nil {
		return nil, err
	}
	limit, before, err := keyset(p)
	if err != nil {
		return nil, err
	}
	now := s.now()
	f.Before, f.Now, f.Limit = before, now, limit+1
	rows, err := s.store.ListImpersonations(ctx, f)
	if err != nil {
		return nil, err
	}
	for _, m := range rows {
		m.Active = m.Open(now)
	}
	return page(rows, limit, func(x *steward.Impersonation) string { return encodeCursor(x.ID) }), nil
}

// maxImpersonationEntries bounds the audit entries GetImpersonation returns.
const maxImpersonationEntries = steward.MaxLimit

var errEnoughEntries = errors.New("enough entries")

// GetImpersonation implements steward.ImpersonationService: the record, and
// the audit entries about it (start, stop) and written under its session,
// oldest first.
func (s *Impersonations) GetImpersonation(ctx context.Context, iid string) (*steward.ImpersonationDetail, error) {
	if _, err := authorize(ctx, steward.PermAuditRead); err != nil {
		return nil, err
	}
	m, err := s.store.GetImpersonation(ctx, iid)
	if err != nil {
		return nil, notFound(err, "impersonation", iid)
	}
	m.Active = m.Open(s.now())
	s.sealForRead(ctx) // the entries under it are read from the sealed chain
	about, err := s.store.ListAudit(ctx, steward.AuditFilter{TargetType: "impersonation", TargetID: iid, Limit: 10})
	if err != nil {
		return nil, err
	}
	end := m.ExpiresAt
	if m.EndedAt != nil && m.EndedAt.Before(end) {
		end = *m.EndedAt
	}
	until := end.Add(time.Microsecond)
	out := []*steward.AuditEntry{}
	if len(about) > 0 {
		out = append(out, about[len(about)-1]) // the start, oldest
	}
	err = s.store.ScanAudit(ctx, steward.AuditFilter{ActorID: m.UserID, Since: &m.StartedAt, Until: &until},
		func(e *steward.AuditEntry) error {
			if e.CredentialID != m.SessionID || e.ImpersonatorID != m.OperatorID ||
				(e.TargetType == "impersonation" && e.TargetID == iid) { // a stop by logout is in about
				return nil
			}
			if len(out) >= maxImpersonationEntries {
				return errEnoughEntries
			}
			out = append(out, e)
			return nil
		})
	if err != nil && !errors.Is(err, errEnoughEntries) {
		return nil, err
	}
	for i := len(about) - 2; i >= 0; i-- { // the stop, newest
		out = append(out, about[i])
	}
	return &steward.ImpersonationDetail{Impersonation: m, AuditEntries: out}, nil
}

// StopImpersonation implements steward.ImpersonationService. Any operator
// who may impersonate may stop any impersonation: stopping only takes
// access away. Its session is revoked in the same transaction.
func (s *Impersonations) StopImpersonation(ctx context.Context, iid string) (*steward.Impersonation, error) {
	if _, err := authorize(ctx, steward.PermUsersImpersonate); err != nil {
		return nil, err
	}
	var out *steward.Impersonation
	err := s.update(ctx, func(tx store.Tx) error {
		a, err := s.currentActor(ctx, tx, steward.PermUsersImpersonate)
		if err != nil {
			return err
		}
		m, err := tx.GetImpersonation(ctx, iid)
		if err != nil {
			return notFound(err, "impersonation", iid)
		}
		now := s.now()
		if !m.Open(now) {
			return steward.Errorf(steward.CodeInvalidState, "impersonation %s has already ended", iid)
		}
		m.EndedAt, m.EndedBy = &now, a.ID
		if err := s.endImpersonation(ctx, tx, m, now, "impersonation stopped"); err != nil {
			return err
		}
		out = m
		return nil
	})
	return out, err
}

// endImpersonation writes m (already marked ended), revokes its session if
// still live, and records impersonation.stop.
func (s *Impersonations) endImpersonation(ctx context.Context, tx store.Tx, m *steward.Impersonation, now time.Time, why string) error {
	if err := tx.UpdateImpersonation(ctx, m); err != nil {
		return err
	}
	sess, err := tx.GetSession(ctx, m.SessionID)
	switch {
	case errors.Is(err, store.ErrNotFound): // purged with its user
	case err != nil:
		return err
	case sess.State(now) == steward.SessionActive:
		sess.RevokedAt, sess.RevokedReason = &now, why
		if err := tx.UpdateSession(ctx, sess); err != nil {
			return err
		}
	}
	return s.audit(ctx, tx, event{Action: "impersonation.stop", TargetType: "impersonation", TargetID: m.ID,
		TenantID: m.TenantID, Metadata: map[string]any{"user_id": m.UserID, "operator_id": m.OperatorID,
			"stopped_by": m.EndedBy}})
}

// SweepExpiredImpersonations implements steward.ImpersonationService. It runs
// as the system; an impersonation that ran out ended at its expiry (its
// session stopped authenticating at that instant already).
func (s *Impersonations) SweepExpiredImpersonations(ctx context.Context) (int, error) {
	ctx = steward.WithActor(ctx, steward.SystemActor)
	total := 0
	for {
		lapsed, err := s.store.ListImpersonationsLapsed(ctx, s.now(), 100)
		if err != nil || len(lapsed) == 0 {
			return total, err
		}
		before := total
		for _, cand := range lapsed {
			err := s.update(ctx, func(tx store.Tx) error {
				m, err := tx.GetImpersonation(ctx, cand.ID)
				now := s.now()
				if err != nil || m.EndedAt != nil || now.Before(m.ExpiresAt) {
					return err // changed meanwhile
				}
				end := m.ExpiresAt
				m.EndedAt, m.EndedBy = &end, steward.ImpersonationEndedExpired
				total++
				return s.endImpersonation(ctx, tx, m, now, "impersonation expired")
			})
			if err != nil {
				return total, err
			}
		}
		if total == before {
			return total, nil
		}
	}
}

// impersonationLive checks, on every request made with an impersonation's
// session, what the session row alone cannot say: that the impersonation
// was not stopped, and that the operator is still active with the token
// version they had at the start (a suspension, ban, force-logout or
// password change of the operator moves it). The rows come from the auth
// cache, which the impersonation's end and the operator's changes
// invalidate.
func (s *Auth) impersonationLive(ctx context.Context, sess *steward.Session, now time.Time) error {
	m, err := s.cachedImpersonation(ctx, sess.ImpersonationID)
	if errors.Is(err, store.ErrNotFound) {
		return errUnauthenticated
	}
	if err != nil {
		return err
	}
	if !m.Open(now) {
		return errUnauthenticated
	}
	op, err := s.cachedUser(ctx, m.OperatorID)
	if errors.Is(err, store.ErrNotFound) {
		return errUnauthenticated
	}
	if err != nil {
		return err
	}
	if !op.IsActive(now) || op.TokenVersion != m.OperatorTokenVersion {
		return errUnauthenticated
	}
	return nil
}
