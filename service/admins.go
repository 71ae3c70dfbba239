package service

import (
	"context"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// Operators as a resource: the /admin/admins routes are the user lifecycle
// restricted to operators (role ≥ support), with the same permissions and
// guards as the equivalent user actions.

const operatorRoles = "must be one of support, admin, owner, super_admin"

// operatorOnly makes a plain user look absent on the operator routes.
func operatorOnly(u *steward.User) error {
	if !u.Role.IsOperator() {
		return steward.Errorf(steward.CodeNotFound, "operator %q not found", u.ID)
	}
	return nil
}

// CreateAdmin implements steward.UserService.
func (s *Users) CreateAdmin(ctx context.Context, in *steward.AdminCreate) (*steward.User, error) {
	if _, err := authorize(ctx, steward.PermUsersWrite); err != nil {
		return nil, err
	}
	role := in.Role
	if role == "" {
		role = steward.RoleAdmin
	}
	if !role.IsOperator() {
		return nil, steward.FieldError("role", operatorRoles)
	}
	status := steward.StatusActive
	if in.IsActive != nil && !*in.IsActive {
		status = steward.StatusSuspended
	}
	return s.createUser(ctx, &steward.UserCreate{Email: in.Email, Username: in.Username,
		Password: in.Password, Role: role}, status)
}

// GetAdmin implements steward.UserService.
func (s *Users) GetAdmin(ctx context.Context, uid string) (*steward.User, error) {
	u, err := s.GetUser(ctx, uid)
	if err != nil {
		return nil, err
	}
	if err := operatorOnly(u); err != nil {
		return nil, err
	}
	return u, nil
}

// DeleteAdmin implements steward.UserService.
func (s *Users) DeleteAdmin(ctx context.Context, uid, reason string, purge bool) (*steward.User, error) {
	if purge {
		return nil, s.purgeUser(ctx, uid, reason, operatorOnly)
	}
	return s.deleteUser(ctx, uid, reason, operatorOnly)
}

// UpdateAdmin implements steward.UserService. The whole patch is one
// transaction: a refused part (say, the role) leaves every other field and
// the audit log as they were. Each kind of change gets the entry its own
// user action writes (user.update, user.password_change, user.suspend,
// user.unsuspend, user.role_change), so audit queries find them either way.
func (s *Users) UpdateAdmin(ctx context.Context, uid string, p *steward.AdminPatch) (*steward.User, error) {
	if _, err := authorize(ctx, steward.PermUsersWrite); err != nil {
		return nil, err
	}
	if p.Role.Set {
		if _, err := authorize(ctx, steward.PermUsersRole); err != nil {
			return nil, err
		}
	}
	fe := steward.FieldErrors{}
	if p.Email.Set && p.Email.Null {
		fe.Add("email", "cannot be cleared")
	}
	if p.Role.Set && (p.Role.Null || !p.Role.Value.IsOperator()) {
		fe.Add("role", operatorRoles)
	}
	if p.IsActive.Set && p.IsActive.Null {
		fe.Add("is_active", "must be true or false")
	}
	if p.Password.Set {
		if p.Password.Null {
			fe.Add("password", "cannot be cleared")
		} else if msg := steward.ValidatePassword(p.Password.Value); msg != "" {
			fe.Add("password", msg)
		}
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	var hash string
	if p.Password.Set {
		var err error
		if hash, err = s.hash(ctx, p.Password.Value); err != nil { // slow: outside the transaction
			return nil, err
		}
	}
	var out *steward.User
	err := s.update(ctx, func(tx store.Tx) error {
		if err := tx.LockOperators(ctx); err != nil {
			return err
		}
		a, err := s.currentActor(ctx, tx, steward.PermUsersWrite)
		if err != nil {
			return err
		}
		u, err := tx.GetUser(ctx, uid)
		if err != nil {
			return notFound(err, "operator", uid)
		}
		if err := operatorOnly(u); err != nil {
			return err
		}
		if err := guardRank(a, u); err != nil {
			return err
		}
		now := s.now()
		if u.Status == steward.StatusDeleted {
			return invalidState(u, now, "update")
		}
		var events []event
		// stage applies one part of the patch and records its entry when it
		// changed anything.
		stage := func(ev event, apply func(ev *event) error) error {
			before := cloneUser(u)
			if err := apply(&ev); err != nil {
				return err
			}
			if ch := userDiff(before, u); len(ch) > 0 {
				ev.Changes = ch
				events = append(events, ev)
			}
			return nil
		}
		err = stage(event{Action: "user.update"}, func(*event) error {
			if p.Email.Set {
				u.Email = steward.NormalizeEmail(p.Email.Value)
			}
			if p.Username.Set {
				u.Username = steward.NormalizeUsername(p.Username.Value)
			}
			return validateUser(u).Err()
		})
		if err != nil {
			return err
		}
		if hash != "" {
			err = stage(event{Action: "user.password_change"}, func(ev *event) error {
				u.PasswordHash, u.LoginResetAt = hash, &now
				n, err := s.endAccess(ctx, tx, u, "password changed")
				ev.Metadata = map[string]any{"sessions_revoked": n}
				return err
			})
			if err != nil {
				return err
			}
		}
		// Status before role: LAST_ACTIVE_OWNER counts the role held now.
		if p.IsActive.Set {
			if err := s.adminActive(ctx, tx, a, u, p.IsActive.Value, stage); err != nil {
				return err
			}
		}
		if p.Role.Set {
			err = stage(event{Action: "user.role_change"}, func(*event) error {
				return s.applyRole(ctx, tx, a, u, p.Role.Value)
			})
			if err != nil {
				return err
			}
		}
		out = u
		if len(events) == 0 {
			return nil // nothing changed: no write, no entry
		}
		u.UpdatedAt = now
		if err := tx.UpdateUser(ctx, u); err != nil {
			return duplicate(err)
		}
		for _, ev := range events {
			ev.TargetType, ev.TargetID, ev.TenantID = "user", u.ID, u.TenantID
			if err := s.audit(ctx, tx, ev); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.present(out), nil
}

// adminActive is is_active in a patch: false suspends (the SuspendUser
// guards), true unsuspends; asking for the state the operator is already in
// changes nothing. A banned operator is unbanned, not reactivated.
func (s *Users) adminActive(ctx context.Context, tx store.Tx, a steward.Actor, u *steward.User, active bool,
	stage func(event, func(*event) error) error) error {
	now := s.now()
	switch {
	case !active && u.IsActive(now):
		return stage(event{Action: "user.suspend"}, func(ev *event) error {
			if err := firstErr(guardSelf(a, u, "suspend"), s.guardLastOwner(ctx, tx, u)); err != nil {
				return err
			}
			u.Status, u.SuspensionReason, u.Ban = steward.StatusSuspended, "", nil
			n, err := s.endAccess(ctx, tx, u, "user suspended")
			ev.Metadata = map[string]any{"sessions_revoked": n}
			return err
		})
	case active && u.Status == steward.StatusSuspended:
		return stage(event{Action: "user.unsuspend"}, func(*event) error {
			t, err := lockTenant(ctx, tx, u.TenantID)
			if err != nil {
				return err
			}
			if t != nil && t.Status != steward.TenantActive {
				return tenantInactive(t, "have members unsuspended; unsuspend the tenant")
			}
			u.Status, u.SuspensionReason = steward.StatusActive, ""
			return nil
		})
	case active && !u.IsActive(now):
		return invalidState(u, now, "reactivate")
	}
	return nil
}
