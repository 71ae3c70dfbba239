package service

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/id"
	"github.com/stewardhq/steward/store"
)

const (
	maxNameLen     = 200
	maxReasonLen   = 1000
	maxMetadataLen = 16 << 10
	redacted       = "[redacted]"
)

// present is the user as callers see it: an expired ban already counts as
// lifted, even before the sweeper has written that down.
func (s *Users) present(u *steward.User) *steward.User {
	if !u.BanExpired(s.now()) {
		return u
	}
	c := *u
	c.Status, c.Ban = steward.StatusActive, nil
	return &c
}

// ListUsers implements steward.UserService.
func (s *Users) ListUsers(ctx context.Context, f steward.UserFilter, p steward.ListParams) (*steward.Page[*steward.User], error) {
	if _, err := authorize(ctx, steward.PermUsersRead); err != nil {
		return nil, err
	}
	fe := steward.FieldErrors{}
	if f.Status != "" && !f.Status.Valid() {
		fe.Add("status", "must be one of active, suspended, banned, deleted")
	}
	if f.Role != "" && !f.Role.Valid() {
		fe.Add("role", "must be one of user, support, admin, owner, super_admin")
	}
	if utf8.RuneCountInString(f.Q) > 200 {
		fe.Add("q", "must be at most 200 characters")
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	return s.listUsers(ctx, f, p)
}

// ListAdmins implements steward.UserService.
func (s *Users) ListAdmins(ctx context.Context, p steward.ListParams) (*steward.Page[*steward.User], error) {
	if _, err := authorize(ctx, steward.PermUsersRead); err != nil {
		return nil, err
	}
	return s.listUsers(ctx, steward.UserFilter{Roles: steward.Roles[1:]}, p)
}

func (s *Users) listUsers(ctx context.Context, f steward.UserFilter, p steward.ListParams) (*steward.Page[*steward.User], error) {
	limit, before, err := keyset(p)
	if err != nil {
		return nil, err
	}
	f.Before = before
	f.Q = strings.TrimSpace(f.Q)
	f.Limit = limit + 1
	if f.Status == steward.StatusActive || f.Status == steward.StatusBanned {
		// Stores filter on the stored status; lift lapsed bans first so the
		// filter agrees with what each row shows. Usually one empty index probe.
		if _, err := s.SweepExpiredBans(ctx); err != nil {
			return nil, err
		}
	}
	rows, err := s.store.ListUsers(ctx, f)
	if err != nil {
		return nil, err
	}
	for i, u := range rows {
		rows[i] = s.present(u)
	}
	pg := page(rows, limit, func(u *steward.User) string { return encodeCursor(u.ID) })
	if p.IncludeTotal {
		n, err := s.store.CountUsers(ctx, f)
		if err != nil {
			return nil, err
		}
		pg.Total = &n
	}
	return pg, nil
}

// GetUser implements steward.UserService.
func (s *Users) GetUser(ctx context.Context, uid string) (*steward.User, error) {
	if _, err := authorize(ctx, steward.PermUsersRead); err != nil {
		return nil, err
	}
	// Served from this replica's copy of the row (authcache.go): a change
	// made through this replica is dropped from it before the change
	// returns, one made through another replica when that replica's
	// notification arrives (docs/running.md, "Answered from memory").
	u, err := s.cachedUser(ctx, uid)
	if err != nil {
		return nil, notFound(err, "user", uid)
	}
	return s.present(cloneUser(u)), nil // the cached row is shared: a copy for the caller
}

// CreateUser implements steward.UserService.
func (s *Users) CreateUser(ctx context.Context, in *steward.UserCreate) (*steward.User, error) {
	return s.createUser(ctx, in, steward.StatusActive)
}

// createUser is CreateUser with the initial status (CreateAdmin may start
// an operator suspended).
func (s *Users) createUser(ctx context.Context, in *steward.UserCreate, status steward.UserStatus) (*steward.User, error) {
	a, err := authorize(ctx, steward.PermUsersWrite)
	if err != nil {
		return nil, err
	}
	now := s.now()
	u := &steward.User{
		ID: id.New("usr", now), Email: steward.NormalizeEmail(in.Email),
		Username: steward.NormalizeUsername(in.Username), Name: strings.TrimSpace(in.Name),
		Role: in.Role, TenantID: strings.TrimSpace(in.TenantID), TenantRole: in.TenantRole,
		Status: status, Tags: in.Tags, Metadata: in.Metadata,
		EmailVerified: in.EmailVerified, CreatedAt: now, UpdatedAt: now,
	}
	if u.Role == "" {
		u.Role = steward.RoleUser
	}
	if u.Tags == nil {
		u.Tags = []string{}
	}
	if u.Metadata == nil {
		u.Metadata = map[string]any{}
	}
	if u.TenantID != "" && u.TenantRole == "" {
		u.TenantRole = steward.TenantMember
	}
	fe := validateUser(u)
	if in.Password != "" {
		if msg := steward.ValidatePassword(in.Password); msg != "" {
			fe.Add("password", msg)
		}
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	if u.Role != steward.RoleUser {
		if err := guardGrant(a, u.Role); err != nil {
			return nil, err
		}
	}
	if err := switchOn(ctx, s.store, SwitchUserCreation); err != nil {
		return nil, err
	}
	if in.Password != "" {
		if u.PasswordHash, err = s.hash(ctx, in.Password); err != nil {
			return nil, err
		}
	}
	err = s.update(ctx, func(tx store.Tx) error {
		if u.TenantID != "" {
			if err := s.admitNewMember(ctx, tx, u.TenantID); err != nil {
				return err
			}
		}
		if err := tx.CreateUser(ctx, u); err != nil {
			return duplicate(err)
		}
		return s.audit(ctx, tx, event{Action: "user.create", TargetType: "user", TargetID: u.ID,
			TenantID: u.TenantID, Changes: userDiff(&steward.User{}, u)})
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// validateUser checks the fields an operator can set.
func validateUser(u *steward.User) steward.FieldErrors {
	fe := steward.FieldErrors{}
	if msg := steward.ValidateEmail(u.Email); msg != "" {
		fe.Add("email", msg)
	}
	if msg := steward.ValidateUsername(u.Username); msg != "" {
		fe.Add("username", msg)
	}
	if utf8.RuneCountInString(u.Name) > maxNameLen {
		fe.Add("name", "must be at most 200 characters")
	}
	if !u.Role.Valid() {
		fe.Add("role", "must be one of user, support, admin, owner, super_admin")
	}
	if !u.TenantRole.Valid() {
		fe.Add("tenant_role", "must be one of member, admin, owner")
	} else if u.TenantRole != "" && u.TenantID == "" {
		fe.Add("tenant_role", "needs a tenant_id")
	}
	if len(u.TenantID) > 64 {
		fe.Add("tenant_id", "must be at most 64 characters")
	}
	if msg := steward.ValidateTags(u.Tags); msg != "" {
		fe.Add("tags", msg)
	}
	if b, err := json.Marshal(u.Metadata); err != nil || len(b) > maxMetadataLen {
		fe.Add("metadata", "must be a JSON object of at most 16 KiB")
	}
	return fe
}

// guardGrant: nobody grants a role above their own, and granting any
// operator role needs users:role.
func guardGrant(a steward.Actor, role steward.Role) error {
	if !a.Can(steward.PermUsersRole) {
		return &steward.Error{Code: steward.CodeForbidden, Message: "your role does not allow granting roles",
			Details: map[string]any{"required_permission": string(steward.PermUsersRole)}}
	}
	if role.Rank() > a.Role.Rank() {
		return &steward.Error{Code: steward.CodeCannotEscalate,
			Message: "you cannot grant a role above your own",
			Details: map[string]any{"role": string(role), "your_role": string(a.Role)}}
	}
	return nil
}

// guardRank: an operator acts only on users ranked below them; super_admin excepted.
func guardRank(a steward.Actor, target *steward.User) error {
	if a.Role == steward.RoleSuperAdmin || a.ID == target.ID || target.Role.Rank() < a.Role.Rank() {
		return nil
	}
	return &steward.Error{Code: steward.CodeInsufficientRole,
		Message: "you can only act on users ranked below you",
		Details: map[string]any{"target_role": string(target.Role), "your_role": string(a.Role)}}
}

func guardSelf(a steward.Actor, target *steward.User, verb string) error {
	if a.ID == target.ID {
		return steward.Errorf(steward.CodeCannotTargetSelf, "you cannot %s yourself", verb)
	}
	return nil
}

// guardLastOwner refuses a change that takes targets out of the set of
// active owners and super_admins when nobody would be left in it. The caller
// holds tx.LockOperators, so two concurrent demotions see each other's result.
func (s *core) guardLastOwner(ctx context.Context, tx store.Tx, targets ...*steward.User) error {
	now := s.now()
	leaving := 0
	for _, u := range targets {
		if u.Role.IsTop() && u.IsActive(now) {
			leaving++
		}
	}
	if leaving == 0 {
		return nil
	}
	top := []steward.Role{steward.RoleOwner, steward.RoleSuperAdmin}
	n, err := tx.CountUsers(ctx, steward.UserFilter{Status: steward.StatusActive, Roles: top})
	if err != nil {
		return err
	}
	if n-int64(leaving) < 1 {
		// A top operator whose ban has lapsed is active already, even
		// before the sweeper writes it down. Top operators are few.
		banned, err := tx.ListUsers(ctx, steward.UserFilter{Status: steward.StatusBanned, Roles: top, Limit: 1000})
		if err != nil {
			return err
		}
		for _, u := range banned {
			if u.BanExpired(now) {
				n++
			}
		}
	}
	if n-int64(leaving) < 1 {
		if len(targets) == 1 {
			return steward.Errorf(steward.CodeLastActiveOwner,
				"%s is the last active owner; promote another owner first", targets[0].ID)
		}
		return steward.Errorf(steward.CodeLastActiveOwner,
			"this would leave no active owner; promote another owner first")
	}
	return nil
}

// userOp describes one change to one user.
type userOp struct {
	perm steward.Permission
	// only, when set, refuses a target before any guard (the operator
	// routes answer 404 for a plain user).
	only func(u *steward.User) error
	// apply changes u in place and returns the audit event; it may use tx.
	apply func(tx store.Tx, a steward.Actor, u *steward.User) (event, error)
}

// mutateUser is the one path every single-user change takes: authorize,
// lock the operator set, load the target and the actor's current role in the
// transaction, apply, write the row and its audit entry together.
// Actions that validate a body call authorize themselves first, so a caller
// without the permission gets 403 rather than a 422 about the body;
// mutateUser checks again, and once more inside the transaction.
func (s *Users) mutateUser(ctx context.Context, uid string, op userOp) (*steward.User, error) {
	if _, err := authorize(ctx, op.perm); err != nil {
		return nil, err
	}
	var out *steward.User
	err := s.update(ctx, func(tx store.Tx) error {
		if err := tx.LockOperators(ctx); err != nil {
			return err
		}
		a, err := s.currentActor(ctx, tx, op.perm)
		if err != nil {
			return err
		}
		u, err := tx.GetUser(ctx, uid)
		if err != nil {
			return notFound(err, "user", uid)
		}
		if op.only != nil {
			if err := op.only(u); err != nil {
				return err
			}
		}
		before := cloneUser(u)
		ev, err := op.apply(tx, a, u)
		if err != nil {
			return err
		}
		if now := s.now(); !before.IsActive(now) && u.IsActive(now) {
			if err := s.holdIfTenantInactive(ctx, tx, u, &ev); err != nil {
				return err
			}
		}
		changes := userDiff(before, u)
		if len(changes) == 0 && ev.Metadata == nil {
			out = u // nothing changed: no write, no entry
			return nil
		}
		u.UpdatedAt = s.now()
		if err := tx.UpdateUser(ctx, u); err != nil {
			return duplicate(err)
		}
		ev.TargetType, ev.TargetID, ev.Changes = "user", u.ID, changes
		if ev.TenantID == "" {
			ev.TenantID = u.TenantID
		}
		if ev.Action == "" {
			ev.Action = "user.update"
		}
		out = u
		return s.audit(ctx, tx, ev)
	})
	if err != nil {
		return nil, err
	}
	return s.present(out), nil
}

// currentActor re-reads an operator actor inside the transaction, so a role
// lost a moment ago (say, by a concurrent demotion) already counts.
func (s *core) currentActor(ctx context.Context, tx store.Tx, perm steward.Permission) (steward.Actor, error) {
	a, _ := steward.ActorFrom(ctx)
	if a.Type != steward.ActorOperator {
		return a, nil
	}
	me, err := tx.GetUser(ctx, a.ID)
	if err != nil || !me.IsActive(s.now()) {
		return a, steward.Errorf(steward.CodeUnauthenticated, "your account is no longer active")
	}
	// The lower of the two: a role lost a moment ago counts, and a role the
	// credential was capped to (an external issuer's max_role) is not raised.
	if me.Role.Rank() < a.Role.Rank() {
		a.Role = me.Role
	}
	if !a.Can(perm) {
		return a, &steward.Error{Code: steward.CodeForbidden, Message: "your role does not allow this",
			Details: map[string]any{"required_permission": string(perm), "role": string(a.Role)}}
	}
	return a, nil
}

// endAccess revokes the user's sessions and invalidates their access tokens.
func (s *Users) endAccess(ctx context.Context, tx store.Tx, u *steward.User, why string) (int64, error) {
	u.TokenVersion++
	n, err := tx.RevokeUserSessions(ctx, u.ID, s.now(), why)
	if err != nil {
		return 0, err
	}
	return n, s.endImpersonationsOf(ctx, tx, u, why)
}

func invalidState(u *steward.User, now time.Time, action string) error {
	return &steward.Error{Code: steward.CodeInvalidState,
		Message: "cannot " + action + " a user who is " + string(u.EffectiveStatus(now)),
		Details: map[string]any{"status": string(u.EffectiveStatus(now))}}
}

func validReason(reason string, required bool) (string, error) {
	reason = strings.TrimSpace(reason)
	switch {
	case required && reason == "":
		return "", steward.FieldError("reason", "is required")
	case utf8.RuneCountInString(reason) > maxReasonLen:
		return "", steward.FieldError("reason", "must be at most 1000 characters")
	}
	return reason, nil
}

// SuspendUser implements steward.UserService.
func (s *Users) SuspendUser(ctx context.Context, uid, reason string) (*steward.User, error) {
	if _, err := authorize(ctx, steward.PermUsersWrite); err != nil {
		return nil, err
	}
	reason, err := validReason(reason, false)
	if err != nil {
		return nil, err
	}
	return s.mutateUser(ctx, uid, userOp{perm: steward.PermUsersWrite,
		apply: func(tx store.Tx, a steward.Actor, u *steward.User) (event, error) {
			if err := firstErr(guardSelf(a, u, "suspend"), guardRank(a, u)); err != nil {
				return event{}, err
			}
			if !u.IsActive(s.now()) {
				return event{}, invalidState(u, s.now(), "suspend")
			}
			if err := s.guardLastOwner(ctx, tx, u); err != nil {
				return event{}, err
			}
			u.Status, u.SuspensionReason, u.Ban = steward.StatusSuspended, reason, nil
			n, err := s.endAccess(ctx, tx, u, "user suspended")
			return event{Action: "user.suspend", Reason: reason,
				Metadata: map[string]any{"sessions_revoked": n}}, err
		}})
}

// UnsuspendUser implements steward.UserService.
func (s *Users) UnsuspendUser(ctx context.Context, uid string) (*steward.User, error) {
	return s.mutateUser(ctx, uid, userOp{perm: steward.PermUsersWrite,
		apply: func(tx store.Tx, a steward.Actor, u *steward.User) (event, error) {
			if err := guardRank(a, u); err != nil {
				return event{}, err
			}
			if u.Status != steward.StatusSuspended {
				return event{}, invalidState(u, s.now(), "unsuspend")
			}
			t, err := lockTenant(ctx, tx, u.TenantID)
			if err != nil {
				return event{}, err
			}
			if t != nil && t.Status != steward.TenantActive {
				return event{}, tenantInactive(t, "have members unsuspended; unsuspend the tenant")
			}
			u.Status, u.SuspensionReason = steward.StatusActive, ""
			return event{Action: "user.unsuspend"}, nil
		}})
}

// BanUser implements steward.UserService.
func (s *Users) BanUser(ctx context.Context, uid string, in steward.BanInput) (*steward.User, error) {
	if _, err := authorize(ctx, steward.PermUsersBan); err != nil {
		return nil, err
	}
	reason, err := validReason(in.Reason, true)
	if err != nil {
		return nil, err
	}
	var expires *time.Time
	if in.ExpiresAt != nil {
		t := in.ExpiresAt.UTC().Truncate(time.Microsecond)
		if !t.After(s.now()) {
			return nil, steward.FieldError("expires_at", "must be in the future")
		}
		expires = &t
	}
	return s.mutateUser(ctx, uid, userOp{perm: steward.PermUsersBan,
		apply: func(tx store.Tx, a steward.Actor, u *steward.User) (event, error) {
			if err := firstErr(guardSelf(a, u, "ban"), guardRank(a, u)); err != nil {
				return event{}, err
			}
			now := s.now()
			switch u.EffectiveStatus(now) {
			case steward.StatusBanned:
				return event{}, &steward.Error{Code: steward.CodeAlreadyBanned, Message: "user is already banned",
					Details: map[string]any{"ban": u.Ban}}
			case steward.StatusDeleted:
				return event{}, invalidState(u, now, "ban")
			}
			if err := s.guardLastOwner(ctx, tx, u); err != nil {
				return event{}, err
			}
			u.Status, u.SuspensionReason = steward.StatusBanned, ""
			u.Ban = &steward.Ban{Reason: reason, ExpiresAt: expires, By: a.ID, At: now}
			n, err := s.endAccess(ctx, tx, u, "user banned")
			return event{Action: "user.ban", Reason: reason,
				Metadata: map[string]any{"sessions_revoked": n, "expires_at": expires}}, err
		}})
}

// UnbanUser implements steward.UserService.
func (s *Users) UnbanUser(ctx context.Context, uid string) (*steward.User, error) {
	return s.mutateUser(ctx, uid, userOp{perm: steward.PermUsersBan,
		apply: func(tx store.Tx, a steward.Actor, u *steward.User) (event, error) {
			if err := guardRank(a, u); err != nil {
				return event{}, err
			}
			if u.Status != steward.StatusBanned {
				return event{}, invalidState(u, s.now(), "unban")
			}
			u.Status, u.Ban = steward.StatusActive, nil
			return event{Action: "user.unban"}, nil
		}})
}

// DeleteUser implements steward.UserService.
func (s *Users) DeleteUser(ctx context.Context, uid, reason string) (*steward.User, error) {
	return s.deleteUser(ctx, uid, reason, nil)
}

func (s *Users) deleteUser(ctx context.Context, uid, reason string, only func(*steward.User) error) (*steward.User, error) {
	if _, err := authorize(ctx, steward.PermUsersDelete); err != nil {
		return nil, err
	}
	reason, err := validReason(reason, false)
	if err != nil {
		return nil, err
	}
	if err := switchOn(ctx, s.store, SwitchUserDeletion); err != nil {
		return nil, err
	}
	return s.mutateUser(ctx, uid, userOp{perm: steward.PermUsersDelete, only: only,
		apply: func(tx store.Tx, a steward.Actor, u *steward.User) (event, error) {
			if err := firstErr(guardSelf(a, u, "delete"), guardRank(a, u)); err != nil {
				return event{}, err
			}
			now := s.now()
			if u.Status == steward.StatusDeleted {
				return event{}, invalidState(u, now, "delete")
			}
			if err := s.guardLastOwner(ctx, tx, u); err != nil {
				return event{}, err
			}
			u.StatusBeforeDelete = u.EffectiveStatus(now)
			if u.StatusBeforeDelete == steward.StatusActive {
				u.Ban = nil
			}
			u.Status, u.DeletedAt = steward.StatusDeleted, &now
			n, err := s.endAccess(ctx, tx, u, "user deleted")
			return event{Action: "user.delete", Reason: reason,
				Metadata: map[string]any{"sessions_revoked": n}}, err
		}})
}

// RestoreUser implements steward.UserService.
func (s *Users) RestoreUser(ctx context.Context, uid string) (*steward.User, error) {
	return s.mutateUser(ctx, uid, userOp{perm: steward.PermUsersDelete,
		apply: func(tx store.Tx, a steward.Actor, u *steward.User) (event, error) {
			if err := guardRank(a, u); err != nil {
				return event{}, err
			}
			if u.Status != steward.StatusDeleted {
				return event{}, invalidState(u, s.now(), "restore")
			}
			t, err := lockTenant(ctx, tx, u.TenantID)
			if err != nil {
				return event{}, err
			}
			if t != nil && t.Status == steward.TenantActive {
				if err := s.tenants.admitMember(ctx, tx, t); err != nil {
					return event{}, err
				}
			}
			u.Status, u.DeletedAt = u.StatusBeforeDelete, nil
			if !u.Status.Valid() || u.Status == steward.StatusDeleted {
				u.Status = steward.StatusActive
			}
			u.StatusBeforeDelete = ""
			return event{Action: "user.restore"}, nil
		}})
}

// PurgeUser implements steward.UserService.
func (s *Users) PurgeUser(ctx context.Context, uid, reason string) error {
	return s.purgeUser(ctx, uid, reason, nil)
}

func (s *Users) purgeUser(ctx context.Context, uid, reason string, only func(*steward.User) error) error {
	if _, err := authorize(ctx, steward.PermUsersDelete); err != nil {
		return err
	}
	reason, err := validReason(reason, false)
	if err != nil {
		return err
	}
	if err := switchOn(ctx, s.store, SwitchUserDeletion); err != nil {
		return err
	}
	return s.update(ctx, func(tx store.Tx) error {
		if err := tx.LockOperators(ctx); err != nil {
			return err
		}
		a, err := s.currentActor(ctx, tx, steward.PermUsersDelete)
		if err != nil {
			return err
		}
		u, err := tx.GetUser(ctx, uid)
		if err != nil {
			return notFound(err, "user", uid)
		}
		if only != nil {
			if err := only(u); err != nil {
				return err
			}
		}
		if err := firstErr(guardSelf(a, u, "purge"), guardRank(a, u), s.guardLastOwner(ctx, tx, u)); err != nil {
			return err
		}
		if err := s.endImpersonationsOf(ctx, tx, u, "user purged"); err != nil {
			return err
		}
		if err := tx.PurgeUser(ctx, uid); err != nil {
			return err
		}
		// The entry keeps the id only: a purge is how personal data leaves.
		return s.audit(ctx, tx, event{Action: "user.purge", TargetType: "user", TargetID: uid,
			TenantID: u.TenantID, Reason: reason})
	})
}

// ForceLogout implements steward.UserService.
func (s *Users) ForceLogout(ctx context.Context, uid string) (*steward.ForceLogoutResult, error) {
	var revoked int64
	u, err := s.mutateUser(ctx, uid, userOp{perm: steward.PermSessionsRevoke,
		apply: func(tx store.Tx, a steward.Actor, u *steward.User) (event, error) {
			if err := guardRank(a, u); err != nil {
				return event{}, err
			}
			n, err := s.endAccess(ctx, tx, u, "forced logout")
			revoked = n
			return event{Action: "user.force_logout", Metadata: map[string]any{"sessions_revoked": n}}, err
		}})
	if err != nil {
		return nil, err
	}
	return &steward.ForceLogoutResult{User: u, SessionsRevoked: revoked}, nil
}

// ChangePassword implements steward.UserService.
func (s *Users) ChangePassword(ctx context.Context, uid, newPassword string) (*steward.User, error) {
	if _, err := authorize(ctx, steward.PermUsersWrite); err != nil {
		return nil, err
	}
	if msg := steward.ValidatePassword(newPassword); msg != "" {
		return nil, steward.FieldError("new_password", msg)
	}
	hash, err := s.hash(ctx, newPassword) // slow: outside the transaction
	if err != nil {
		return nil, err
	}
	return s.mutateUser(ctx, uid, userOp{perm: steward.PermUsersWrite,
		apply: func(tx store.Tx, a steward.Actor, u *steward.User) (event, error) {
			if err := guardRank(a, u); err != nil {
				return event{}, err
			}
			if u.Status == steward.StatusDeleted {
				return event{}, invalidState(u, s.now(), "change the password of")
			}
			now := s.now()
			u.PasswordHash, u.LoginResetAt = hash, &now // lifts every login throttle on the account
			n, err := s.endAccess(ctx, tx, u, "password changed")
			return event{Action: "user.password_change", Metadata: map[string]any{"sessions_revoked": n}}, err
		}})
}

// ChangeRole implements steward.UserService.
func (s *Users) ChangeRole(ctx context.Context, uid string, role steward.Role) (*steward.User, error) {
	if _, err := authorize(ctx, steward.PermUsersRole); err != nil {
		return nil, err
	}
	if !role.Valid() {
		return nil, steward.FieldError("role", "must be one of user, support, admin, owner, super_admin")
	}
	return s.mutateUser(ctx, uid, userOp{perm: steward.PermUsersRole,
		apply: func(tx store.Tx, a steward.Actor, u *steward.User) (event, error) {
			return event{Action: "user.role_change"}, s.applyRole(ctx, tx, a, u, role)
		}})
}

// applyRole holds every role guard, for /role and for a patch that sets role.
func (s *Users) applyRole(ctx context.Context, tx store.Tx, a steward.Actor, u *steward.User, role steward.Role) error {
	if u.Role == role {
		return nil
	}
	if err := firstErr(guardSelf(a, u, "change the role of"), guardGrant(a, role), guardRank(a, u)); err != nil {
		return err
	}
	if u.Role.IsTop() && !role.IsTop() {
		if err := s.guardLastOwner(ctx, tx, u); err != nil {
			return err
		}
	}
	u.Role = role
	// The rights an impersonation was started under (the operator's rank
	// above the user's, users:impersonate, users:impersonate_write) were
	// checked at its start; a role change on either side ends it rather
	// than leave it running on rights one of them no longer has.
	return s.endImpersonationsOf(ctx, tx, u, "role changed")
}

// UpdateUser implements steward.UserService.
func (s *Users) UpdateUser(ctx context.Context, uid string, p *steward.UserPatch) (*steward.User, error) {
	return s.mutateUser(ctx, uid, userOp{perm: steward.PermUsersWrite,
		apply: func(tx store.Tx, a steward.Actor, u *steward.User) (event, error) {
			if err := guardRank(a, u); err != nil {
				return event{}, err
			}
			if u.Status == steward.StatusDeleted {
				return event{}, invalidState(u, s.now(), "update")
			}
			fe := steward.FieldErrors{}
			if p.Email.Set {
				if p.Email.Null {
					fe.Add("email", "cannot be cleared")
				}
				u.Email = steward.NormalizeEmail(p.Email.Value)
			}
			if p.Username.Set {
				u.Username = steward.NormalizeUsername(p.Username.Value)
			}
			if p.Name.Set {
				u.Name = strings.TrimSpace(p.Name.Value)
			}
			if p.TenantID.Set {
				from := u.TenantID
				u.TenantID = strings.TrimSpace(p.TenantID.Value)
				if u.TenantID == "" {
					u.TenantRole = ""
				} else if u.TenantRole == "" {
					u.TenantRole = steward.TenantMember
				}
				if u.TenantID != from {
					if err := s.moveMember(ctx, tx, from, u.TenantID); err != nil {
						return event{}, err
					}
				}
			}
			if p.TenantRole.Set {
				u.TenantRole = p.TenantRole.Value
				if p.TenantRole.Null && u.TenantID != "" {
					u.TenantRole = steward.TenantMember
				}
			}
			if p.Tags.Set {
				u.Tags = p.Tags.Value
				if u.Tags == nil {
					u.Tags = []string{}
				}
			}
			if p.Metadata.Set {
				merged, err := mergePatch(u.Metadata, p.Metadata.Value, p.Metadata.Null)
				if err != nil {
					fe.Add("metadata", err.Error())
				}
				u.Metadata = merged
			}
			if p.EmailVerified.Set {
				u.EmailVerified = p.EmailVerified.Value
			}
			for k, v := range validateUser(u) {
				fe.Add(k, v)
			}
			if p.Role.Set {
				if p.Role.Null || !p.Role.Value.Valid() {
					fe.Add("role", "must be one of user, support, admin, owner, super_admin")
				}
			}
			if err := fe.Err(); err != nil {
				return event{}, err
			}
			if p.Role.Set {
				if err := s.applyRole(ctx, tx, a, u, p.Role.Value); err != nil {
					return event{}, err
				}
			}
			return event{}, nil
		}})
}

// mergePatch applies an RFC 7386 JSON Merge Patch to a metadata object.
func mergePatch(cur map[string]any, patch json.RawMessage, null bool) (map[string]any, error) {
	if null {
		return map[string]any{}, nil
	}
	var p any
	if err := json.Unmarshal(patch, &p); err != nil {
		return cur, err
	}
	pm, ok := p.(map[string]any)
	if !ok {
		return cur, errNotObject
	}
	out, _ := mergeValue(maps.Clone(cur), pm).(map[string]any)
	return out, nil
}

var errNotObject = &steward.Error{Code: steward.CodeValidation, Message: "must be a JSON object"}

func mergeValue(target any, patch any) any {
	pm, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	tm, ok := target.(map[string]any)
	if !ok {
		tm = map[string]any{}
	} else {
		tm = maps.Clone(tm)
	}
	for k, v := range pm {
		if v == nil {
			delete(tm, k)
			continue
		}
		tm[k] = mergeValue(tm[k], v)
	}
	return tm
}

// diff lists the public (JSON) fields that differ between two values of one
// type. updated_at is noise and left out; secrets are json:"-" and so never
// appear.
func diff(before, after any) map[string]change {
	b, a := fieldsOf(before), fieldsOf(after)
	out := map[string]change{}
	for k, av := range a {
		if bv := b[k]; !reflect.DeepEqual(bv, av) && k != "updated_at" {
			out[k] = change{Before: bv, After: av}
		}
	}
	return out
}

// userDiff is diff plus a redacted marker when the password changed.
func userDiff(before, after *steward.User) map[string]change {
	out := diff(before, after)
	if before.PasswordHash != after.PasswordHash {
		out["password"] = change{Before: redactedIf(before.PasswordHash), After: redactedIf(after.PasswordHash)}
	}
	return out
}

func redactedIf(s string) any {
	if s == "" {
		return nil
	}
	return redacted
}

func fieldsOf(v any) map[string]any {
	b, _ := json.Marshal(v)
	m := map[string]any{}
	_ = json.Unmarshal(b, &m)
	return m
}

func cloneUser(u *steward.User) *steward.User {
	c := *u
	c.Tags = slices.Clone(u.Tags)
	if u.Metadata != nil {
		b, _ := json.Marshal(u.Metadata)
		c.Metadata = map[string]any{}
		_ = json.Unmarshal(b, &c.Metadata)
	}
	if u.Ban != nil {
		ban := *u.Ban
		c.Ban = &ban
	}
	return &c
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// admitNewMember checks that tenant tid exists and may take one more member;
// it locks the tenant row until the transaction ends.
func (s *Users) admitNewMember(ctx context.Context, tx store.Tx, tid string) error {
	if len(tid) > 64 {
		return nil // validateUser reports it
	}
	t, err := tx.GetTenant(ctx, tid)
	if errors.Is(err, store.ErrNotFound) {
		return slugHint(ctx, tx, tid, steward.FieldError("tenant_id", "no such tenant"))
	}
	if err != nil {
		return err
	}
	return s.tenants.admitMember(ctx, tx, t)
}

// moveMember checks a user's move from one tenant to another: a suspended
// or deleted tenant keeps its members until it is active again (its
// unsuspend restores exactly the members it holds).
func (s *Users) moveMember(ctx context.Context, tx store.Tx, from, to string) error {
	old, err := lockTenant(ctx, tx, from)
	if err != nil {
		return err
	}
	if old != nil && old.Status != steward.TenantActive {
		return tenantInactive(old, "lose members")
	}
	if to == "" {
		return nil
	}
	return s.admitNewMember(ctx, tx, to)
}

// holdIfTenantInactive keeps a user who is about to become active (unban,
// restore, a lapsed ban) suspended while their tenant is suspended or
// deleted, and holds them, so the tenant's unsuspend or restore lets them in
// with the rest.
func (s *Users) holdIfTenantInactive(ctx context.Context, tx store.Tx, u *steward.User, ev *event) error {
	t, err := lockTenant(ctx, tx, u.TenantID)
	if err != nil || t == nil || t.Status == steward.TenantActive {
		return err
	}
	u.Status, u.SuspensionReason, u.Ban = steward.StatusSuspended, holdReason(t), nil
	if err := tx.HoldUser(ctx, t.ID, u.ID); err != nil {
		return err
	}
	m, ok := ev.Metadata.(map[string]any)
	if !ok {
		m = map[string]any{}
	}
	m["held_by_tenant"] = t.ID
	ev.Metadata = m
	return nil
}
