package service

import (
	"context"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/id"
	"github.com/stewardhq/steward/store"
)

// DefaultBootstrapEmail is the first operator's login when none is configured.
const DefaultBootstrapEmail = "admin@localhost"

// Bootstrap creates the first operator, a super_admin, when no operator
// exists. With an empty password it generates one and returns it so the
// caller can print it once. created is false when an operator already exists:
// a restart never makes a second one.
func (s *Service) Bootstrap(ctx context.Context, email, password string) (created bool, generated string, err error) {
	ctx = steward.WithActor(ctx, steward.SystemActor)
	if email == "" {
		email = DefaultBootstrapEmail
	}
	email = steward.NormalizeEmail(email)
	fe := steward.FieldErrors{}
	if msg := steward.ValidateEmail(email); msg != "" {
		fe.Add("email", msg)
	}
	if password == "" {
		generated = newSecret()[:24]
		password = generated
	} else if msg := steward.ValidatePassword(password); msg != "" {
		fe.Add("password", msg)
	}
	if err := fe.Err(); err != nil {
		return false, "", err
	}
	n, err := s.store.CountUsers(ctx, steward.UserFilter{Roles: steward.Roles[1:]})
	if err != nil || n > 0 {
		return false, "", err
	}
	hash, err := s.hash(ctx, password)
	if err != nil {
		return false, "", err
	}
	err = s.update(ctx, func(tx store.Tx) error {
		if err := tx.LockOperators(ctx); err != nil {
			return err
		}
		// Counted again under the lock: replicas may start together.
		n, err := tx.CountUsers(ctx, steward.UserFilter{Roles: steward.Roles[1:]})
		if err != nil || n > 0 {
			return err
		}
		now := s.now()
		u := &steward.User{ID: id.New("usr", now), Email: email, Name: "Steward owner",
			Role: steward.RoleSuperAdmin, Status: steward.StatusActive, Tags: []string{},
			Metadata: map[string]any{}, EmailVerified: true, PasswordHash: hash, CreatedAt: now, UpdatedAt: now}
		if err := tx.CreateUser(ctx, u); err != nil {
			return duplicate(err)
		}
		created = true
		return s.audit(ctx, tx, event{Action: "user.bootstrap", TargetType: "user", TargetID: u.ID,
			Changes: userDiff(&steward.User{}, u)})
	})
	if err != nil || !created {
		return false, "", err
	}
	return true, generated, nil
}

// Maintain runs the periodic jobs: signing-key rotation, the ban sweeper,
// the credit-expiry sweeper, the impersonation-expiry sweeper, the lapse
// sweeper of the stat counters and the purge of expired idempotency records.
func (s *Service) Maintain(ctx context.Context) error {
	if err := s.keys.ensure(ctx); err != nil {
		return err
	}
	if _, err := s.Users.SweepExpiredBans(ctx); err != nil {
		return err
	}
	if _, err := s.Credits.SweepExpiredCredits(ctx); err != nil {
		return err
	}
	if _, err := s.Impersonations.SweepExpiredImpersonations(ctx); err != nil {
		return err
	}
	if _, _, err := s.Overview.SweepLapsed(ctx); err != nil {
		return err
	}
	_, err := s.Idempotency.PurgeIdempotency(ctx)
	return err
}
