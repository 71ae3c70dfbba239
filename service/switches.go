package service

import (
	"context"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// Platform switches (the switches section of /admin/config): each turns a
// capability off for every actor below super_admin.
const (
	SwitchImpersonation = "allow_impersonation"
	SwitchUserCreation  = "allow_user_creation"
	SwitchUserDeletion  = "allow_user_deletion"
)

// switchOn answers PLATFORM_SWITCH_OFF when the switch is off and the actor
// in ctx is not a super_admin. q is the store, or the transaction that
// makes the change (so the check and the change see one configuration).
func switchOn(ctx context.Context, q settingsReader, name string) error {
	if a, ok := steward.ActorFrom(ctx); ok && a.Role == steward.RoleSuperAdmin {
		return nil
	}
	d, err := loadPlatformDefaults(ctx, q)
	if err != nil {
		return err
	}
	on := map[string]*bool{SwitchImpersonation: d.Switches.AllowImpersonation,
		SwitchUserCreation: d.Switches.AllowUserCreation, SwitchUserDeletion: d.Switches.AllowUserDeletion}[name]
	if on == nil || *on {
		return nil
	}
	return switchOff(name)
}

func switchOff(name string) error {
	return &steward.Error{Code: steward.CodePlatformSwitchOff,
		Message: "the platform switch " + name + " is off: only a super_admin may do this",
		Details: map[string]any{"switch": name}}
}

// purgeErasesUsers refuses to purge a tenant that still has users (of any
// status: the purge erases their rows) while allow_user_deletion is off.
func (s *Tenants) purgeErasesUsers(ctx context.Context, tx store.Tx, t *steward.Tenant) error {
	counts, err := tx.CountTenantMembers(ctx, t.ID)
	if err != nil {
		return err
	}
	var n int64
	for _, c := range counts {
		n += c
	}
	if n == 0 {
		return nil
	}
	return switchOn(ctx, tx, SwitchUserDeletion)
}
