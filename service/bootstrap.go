package service

import (
	"context"
	"errors"

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
// sweeper of the stat counters (Overview.SweepLapsed), the daily retention
// sweep (Retention.Sweep, which prunes key usage and idempotency records
// too) and the series' month-end billing snapshot and shard folding
// (Series.Maintain).
// Each is recorded on its own for the health report (Health.RunJob), and
// each runs whatever became of the others: one failing sweep holds none of
// the rest back. The errors are returned joined.
func (s *Service) Maintain(ctx context.Context) error {
	return errors.Join(
		s.Health.RunJob(ctx, JobSigningKeys, s.keys.ensure),
		s.Health.RunJob(ctx, JobBanSweep, countless(s.Users.SweepExpiredBans)),
		s.Health.RunJob(ctx, JobCreditSweep, countless(s.Credits.SweepExpiredCredits)),
		s.Health.RunJob(ctx, JobImpersonationSweep, countless(s.Impersonations.SweepExpiredImpersonations)),
		s.Health.RunJob(ctx, JobLapseSweep, func(ctx context.Context) error { _, _, err := s.Overview.SweepLapsed(ctx); return err }),
		s.Health.RunJob(ctx, JobRetentionSweep, func(ctx context.Context) error { _, err := s.Retention.Sweep(ctx); return err }),
		s.Health.RunJob(ctx, JobSeriesMaintain, s.Series.Maintain),
	)
}
