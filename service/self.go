package service

import (
	"context"
	"errors"
	"strings"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/password"
	"github.com/stewardhq/steward/store"
)

// self is the signed-in user behind ctx, re-read in tx, refusing a write
// under a read-only impersonation (the HTTP layer refuses it first; this
// holds for every other caller too).
func (s *Auth) self(ctx context.Context, tx store.Tx) (*steward.User, error) {
	a, ok := steward.ActorFrom(ctx)
	if !ok || a.ID == "" || a.CredentialID == "" {
		return nil, steward.Errorf(steward.CodeUnauthenticated, "authentication required")
	}
	if a.ImpersonatorID != "" {
		sess, err := tx.GetSession(ctx, a.CredentialID)
		if err != nil {
			return nil, firstErr(notFound(err, "session", a.CredentialID), errUnauthenticated)
		}
		if sess.ReadOnly {
			return nil, impersonationWriteDenied()
		}
	}
	u, err := tx.GetUser(ctx, a.ID)
	if errors.Is(err, store.ErrNotFound) || err == nil && !u.IsActive(s.now()) {
		return nil, errUnauthenticated
	}
	return u, err
}

// impersonationWriteDenied is the answer to a write under a read-only impersonation.
func impersonationWriteDenied() error {
	return steward.Errorf(steward.CodeImpersonationWriteDenied, "this is a read-only impersonation: it cannot change anything")
}

// UpdateMe implements steward.AuthService: the user's own name and username.
func (s *Auth) UpdateMe(ctx context.Context, in steward.SelfUpdate) (*steward.User, error) {
	var out *steward.User
	err := s.update(ctx, func(tx store.Tx) error {
		u, err := s.self(ctx, tx)
		if err != nil {
			return err
		}
		before := cloneUser(u)
		if in.Name != nil {
			u.Name = strings.TrimSpace(*in.Name)
		}
		if in.Username != nil {
			u.Username = steward.NormalizeUsername(*in.Username)
		}
		fe := steward.FieldErrors{}
		for k, v := range validateUser(u) {
			if k == "name" || k == "username" {
				fe.Add(k, v)
			}
		}
		if err := fe.Err(); err != nil {
			return err
		}
		changes := userDiff(before, u)
		out = u
		if len(changes) == 0 {
			return nil
		}
		u.UpdatedAt = s.now()
		if err := tx.UpdateUser(ctx, u); err != nil {
			return duplicate(err)
		}
		return s.audit(ctx, tx, event{Action: "user.update", TargetType: "user", TargetID: u.ID,
			TenantID: u.TenantID, Changes: changes, Metadata: map[string]any{"self": true}})
	})
	if err != nil {
		return nil, err
	}
	return s.users.present(out), nil
}

// ChangeOwnPassword implements steward.AuthService. The current password
// must be right; the change signs the user out everywhere, this session
// included, as an operator's password reset does.
func (s *Auth) ChangeOwnPassword(ctx context.Context, current, next string) (*steward.ForceLogoutResult, error) {
	fe := steward.FieldErrors{}
	if current == "" {
		fe.Add("current_password", "is required")
	}
	if msg := steward.ValidatePassword(next); msg != "" {
		fe.Add("new_password", msg)
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	// Refuse early under a read-only impersonation: no hashing for nothing.
	var u *steward.User
	err := s.update(ctx, func(tx store.Tx) (err error) { u, err = s.self(ctx, tx); return err })
	if err != nil {
		return nil, err
	}
	ok, _, err := s.hasher.Verify(ctx, current, u.PasswordHash)
	if errors.Is(err, password.ErrBusy) {
		return nil, hashErr(err)
	}
	if !ok || err != nil || u.PasswordHash == "" {
		return nil, steward.FieldError("current_password", "is not the account's password")
	}
	hash, err := s.hash(ctx, next)
	if err != nil {
		return nil, err
	}
	var n int64
	err = s.update(ctx, func(tx store.Tx) error {
		cur, err := s.self(ctx, tx)
		if err != nil {
			return err
		}
		if cur.PasswordHash != u.PasswordHash {
			return steward.Errorf(steward.CodeInvalidState, "the password changed meanwhile; try again")
		}
		now := s.now()
		cur.PasswordHash, cur.LoginResetAt = hash, &now
		cur.UpdatedAt = now
		if n, err = s.users.endAccess(ctx, tx, cur, "password changed"); err != nil {
			return err
		}
		if err := tx.UpdateUser(ctx, cur); err != nil {
			return err
		}
		u = cur
		return s.audit(ctx, tx, event{Action: "user.password_change", TargetType: "user", TargetID: cur.ID,
			TenantID: cur.TenantID, Metadata: map[string]any{"sessions_revoked": n, "self": true}})
	})
	if err != nil {
		return nil, err
	}
	return &steward.ForceLogoutResult{User: s.users.present(u), SessionsRevoked: n}, nil
}
