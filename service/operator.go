package service

import (
	"context"
	"errors"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// CLIActor is who the host-side break-glass commands (`steward operator …`)
// act as: the system, named "cli" in the audit log. Whoever can run them
// can read the database already.
var CLIActor = steward.Actor{Type: steward.ActorSystem, ID: "cli", Role: steward.RoleSuperAdmin}

// OperatorResetPassword sets a new password on the account with this email,
// generating one when pw is empty (and returning it, to be shown once). Like
// an operator's change-password it ends the account's sessions and lifts
// every login throttle on it; the audit entry names the actor system/cli.
func (s *Users) OperatorResetPassword(ctx context.Context, email, pw string) (u *steward.User, generated string, err error) {
	u, err = s.userByEmail(ctx, email)
	if err != nil {
		return nil, "", err
	}
	if pw == "" {
		generated = newSecret()[:24]
		pw = generated
	}
	u, err = s.ChangePassword(steward.WithActor(ctx, CLIActor), u.ID, pw)
	if err != nil {
		return nil, "", err
	}
	return u, generated, nil
}

// OperatorUnlock lifts every login throttle on the account with this email,
// on every server sharing the database: each drops the failures it counted
// before the account's login_reset_at. Audited as auth.unlock by system/cli.
func (s *Users) OperatorUnlock(ctx context.Context, email string) (*steward.User, error) {
	u, err := s.userByEmail(ctx, email)
	if err != nil {
		return nil, err
	}
	return s.mutateUser(steward.WithActor(ctx, CLIActor), u.ID, userOp{perm: steward.PermUsersWrite,
		apply: func(tx store.Tx, a steward.Actor, u *steward.User) (event, error) {
			now := s.now()
			u.LoginResetAt = &now
			return event{Action: "auth.unlock", Metadata: map[string]any{"login_reset_at": now}}, nil
		}})
}

func (s *Users) userByEmail(ctx context.Context, email string) (*steward.User, error) {
	email = steward.NormalizeEmail(email)
	if msg := steward.InvisibleProblem(email); msg != "" || email == "" {
		return nil, steward.FieldError("email", firstNonEmpty(msg, "is required"))
	}
	u, err := s.store.GetUserByEmail(ctx, email)
	if errors.Is(err, store.ErrNotFound) {
		return nil, steward.Errorf(steward.CodeNotFound, "no user has the email %q", email)
	}
	return u, err
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
