package service

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"reflect"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// Features implements steward.FeatureService: the feature flags' tenant
// and user tiers, their resolution, and the answer to products from this
// replica's cache (flags_cache.go). The platform tier is the "features"
// section of /admin/config (flags_config.go); the plan tier is the plan
// catalogue. docs/flags.md.
type Features struct{ *core }

var _ steward.FeatureService = (*Features)(nil)

func (s *core) flagRegistry() *steward.FlagRegistry { return s.cfg.Flags }

// checkFeatureChanges validates, at tier, every override that after sets
// to a value different from before's: the one check of flag overrides,
// whichever endpoint writes them (PATCH /admin/tenants/{id} too). A key
// removed is always fine (null resets), and a stored key that names no
// flag any more stays as it is until it is reset, so such a key never
// blocks an unrelated change. Problems go to fe as "features.<key>".
func (s *core) checkFeatureChanges(tier steward.FlagTier, before, after map[string]any, fe steward.FieldErrors) {
	for k, v := range after {
		if b, ok := before[k]; ok && reflect.DeepEqual(b, v) {
			continue
		}
		if _, msg := s.flagRegistry().Check(tier, k, v); msg != "" {
			fe.Add("features."+k, msg)
		}
	}
}

// patchOverrides applies a merge patch of overrides: null removes a key.
func patchOverrides(cur, patch map[string]any) map[string]any {
	out := maps.Clone(cur)
	if out == nil {
		out = map[string]any{}
	}
	for k, v := range patch {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

// overrideChanges lists, per key, what a patch changed.
func overrideChanges(before, after map[string]any) map[string]change {
	ch := map[string]change{}
	keys := maps.Clone(before)
	maps.Copy(keys, after)
	for k := range keys {
		if !reflect.DeepEqual(before[k], after[k]) {
			ch[k] = change{Before: before[k], After: after[k]}
		}
	}
	return ch
}

// platformFeatures reads the platform tier's overrides.
func platformFeatures(ctx context.Context, q store.Queries) (map[string]any, error) {
	stored, err := q.PlatformSettings(ctx)
	if err != nil {
		return nil, err
	}
	return decodeOverrides(stored[featuresSection])
}

func decodeOverrides(doc json.RawMessage) (map[string]any, error) {
	m := map[string]any{}
	if doc == nil {
		return m, nil
	}
	if err := json.Unmarshal(doc, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// planFeatures is the plan tier of a tenant on plan id (nil for a plan no
// longer in the catalogue).
func (s *core) planFeatures(id string) map[string]any {
	for _, p := range s.cfg.Plans {
		if p.ID == id {
			return p.Features
		}
	}
	return nil
}

func (s *core) state(tier steward.FlagTier, l steward.FlagLayers, own map[string]any) *steward.FeatureState {
	r := s.flagRegistry().Resolve(l)
	if own == nil {
		own = map[string]any{}
	}
	return &steward.FeatureState{Effective: r.Effective, Overrides: own, Explain: r.Explain,
		Toggleable: s.flagRegistry().Toggleable(tier)}
}

// tenantLayers are the tiers up to the tenant's.
func (s *core) tenantLayers(platform map[string]any, t *steward.Tenant) steward.FlagLayers {
	return steward.FlagLayers{Platform: platform, Plan: s.planFeatures(t.Plan), Tenant: t.Features}
}

// tenantEffective is the tenant's effective flags, for its detail page.
func (s *core) tenantEffective(ctx context.Context, t *steward.Tenant) (map[string]any, error) {
	platform, err := platformFeatures(ctx, s.store)
	if err != nil {
		return nil, err
	}
	return s.flagRegistry().Resolve(s.tenantLayers(platform, t)).Effective, nil
}

// TenantFeatures implements steward.FeatureService.
func (s *Features) TenantFeatures(ctx context.Context, tid string) (*steward.FeatureState, error) {
	if _, err := authorize(ctx, steward.PermTenantsRead); err != nil {
		return nil, err
	}
	t, err := getTenant(ctx, s.store, tid)
	if err != nil {
		return nil, err
	}
	platform, err := platformFeatures(ctx, s.store)
	if err != nil {
		return nil, err
	}
	return s.state(steward.TierTenant, s.tenantLayers(platform, t), t.Features), nil
}

// UpdateTenantFeatures implements steward.FeatureService.
func (s *Features) UpdateTenantFeatures(ctx context.Context, tid string, patch map[string]any) (*steward.FeatureState, error) {
	if _, err := authorize(ctx, steward.PermTenantsWrite); err != nil {
		return nil, err
	}
	var out *steward.FeatureState
	err := s.update(ctx, func(tx store.Tx) error {
		if _, err := s.currentActor(ctx, tx, steward.PermTenantsWrite); err != nil {
			return err
		}
		t, err := getTenant(ctx, tx, tid)
		if err != nil {
			return err
		}
		if t.Status == steward.TenantDeleted {
			return tenantInactive(t, "change its features; restore it first")
		}
		before := t.Features
		after := patchOverrides(before, patch)
		fe := steward.FieldErrors{}
		s.checkFeatureChanges(steward.TierTenant, before, after, fe)
		if msg := steward.ValidateFeatureKeys(after); msg != "" {
			fe.Add("features", msg)
		}
		if err := fe.Err(); err != nil {
			return err
		}
		platform, err := platformFeatures(ctx, tx)
		if err != nil {
			return err
		}
		t.Features = after
		out = s.state(steward.TierTenant, s.tenantLayers(platform, t), after)
		changes := overrideChanges(before, after)
		if len(changes) == 0 {
			return nil
		}
		t.UpdatedAt = s.now()
		if err := tx.UpdateTenant(ctx, t); err != nil {
			return err
		}
		return s.audit(ctx, tx, event{Action: "features.update", TargetType: "tenant", TargetID: t.ID,
			TenantID: t.ID, Changes: changes, Metadata: map[string]any{"tier": steward.TierTenant}})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// userLayers are every tier of a user: their tenant's, when they have one
// that still exists.
func (s *core) userLayers(ctx context.Context, q store.Queries, u *steward.User, own map[string]any) (steward.FlagLayers, error) {
	platform, err := platformFeatures(ctx, q)
	if err != nil {
		return steward.FlagLayers{}, err
	}
	l := steward.FlagLayers{Platform: platform, User: own}
	if u.TenantID != "" {
		t, err := q.GetTenant(ctx, u.TenantID)
		switch {
		case err == nil:
			l.Plan, l.Tenant = s.planFeatures(t.Plan), t.Features
		case !isNotFound(err):
			return l, err
		}
	}
	return l, nil
}

// UserFeatures implements steward.FeatureService.
func (s *Features) UserFeatures(ctx context.Context, uid string) (*steward.FeatureState, error) {
	if _, err := authorize(ctx, steward.PermUsersRead); err != nil {
		return nil, err
	}
	u, err := s.store.GetUser(ctx, uid)
	if err != nil {
		return nil, notFound(err, "user", uid)
	}
	own, err := s.store.UserFeatures(ctx, uid)
	if err != nil {
		return nil, err
	}
	l, err := s.userLayers(ctx, s.store, u, own)
	if err != nil {
		return nil, err
	}
	return s.state(steward.TierUser, l, own), nil
}

// UpdateUserFeatures implements steward.FeatureService.
func (s *Features) UpdateUserFeatures(ctx context.Context, uid string, patch map[string]any) (*steward.FeatureState, error) {
	if _, err := authorize(ctx, steward.PermUsersWrite); err != nil {
		return nil, err
	}
	var out *steward.FeatureState
	err := s.update(ctx, func(tx store.Tx) error {
		a, err := s.currentActor(ctx, tx, steward.PermUsersWrite)
		if err != nil {
			return err
		}
		u, err := tx.GetUser(ctx, uid) // locks the user: one writer of its overrides
		if err != nil {
			return notFound(err, "user", uid)
		}
		// The same rank rule as every other change to a user.
		if err := guardRank(a, u); err != nil {
			return err
		}
		if u.Status == steward.StatusDeleted {
			return steward.Errorf(steward.CodeInvalidState, "user %q is deleted: restore it first", uid)
		}
		before, err := tx.UserFeatures(ctx, uid)
		if err != nil {
			return err
		}
		after := patchOverrides(before, patch)
		fe := steward.FieldErrors{}
		s.checkFeatureChanges(steward.TierUser, before, after, fe)
		if msg := steward.ValidateFeatureKeys(after); msg != "" {
			fe.Add("features", msg)
		}
		if err := fe.Err(); err != nil {
			return err
		}
		l, err := s.userLayers(ctx, tx, u, after)
		if err != nil {
			return err
		}
		out = s.state(steward.TierUser, l, after)
		changes := overrideChanges(before, after)
		if len(changes) == 0 {
			return nil
		}
		if err := tx.SetUserFeatures(ctx, uid, after, s.now()); err != nil {
			return err
		}
		return s.audit(ctx, tx, event{Action: "features.update", TargetType: "user", TargetID: uid,
			TenantID: u.TenantID, Changes: changes, Metadata: map[string]any{"tier": steward.TierUser}})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// EffectiveFeatures implements steward.FeatureService, from the cache.
func (s *Features) EffectiveFeatures(ctx context.Context, uid, tid string) (*steward.EffectiveFeatures, error) {
	if _, err := authorize(ctx, steward.PermFeaturesRead); err != nil {
		return nil, err
	}
	if (uid == "") == (tid == "") {
		return nil, steward.FieldErrors{"user_id": "give exactly one of user_id and tenant_id",
			"tenant_id": "give exactly one of user_id and tenant_id"}.Err()
	}
	c := s.flagCache
	platform, err := c.platformTier(ctx)
	if err != nil {
		return nil, err
	}
	out := &steward.EffectiveFeatures{UserID: uid, TenantID: tid}
	l := steward.FlagLayers{Platform: platform}
	if uid != "" {
		u, err := c.user(ctx, uid)
		if err != nil {
			return nil, err
		}
		if u == nil || u.deleted {
			return nil, steward.Errorf(steward.CodeNotFound, "user %q not found", uid)
		}
		l.User, tid, out.TenantID = u.features, u.tenantID, u.tenantID
	}
	if tid != "" {
		t, err := c.tenant(ctx, tid)
		if err != nil {
			return nil, err
		}
		switch {
		case t != nil && (uid != "" || !t.deleted):
			l.Plan, l.Tenant, out.Plan = s.planFeatures(t.plan), t.features, t.plan
		case uid == "":
			return nil, steward.Errorf(steward.CodeNotFound, "tenant %q not found", tid)
		}
	}
	out.Features = s.flagRegistry().Resolve(l).Effective
	return out, nil
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
