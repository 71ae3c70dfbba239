package service

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/password"
	"github.com/stewardhq/steward/internal/testdb"
	"github.com/stewardhq/steward/store"
)

func sysCtx() context.Context { return steward.WithActor(context.Background(), steward.SystemActor) }

// flagFixture is a service on a fresh store with one tenant on a plan and
// one member.
type flagFixture struct {
	t      *testing.T
	st     store.Store
	s      *Service
	tenant *steward.Tenant
	user   *steward.User
}

func newFlagFixture(t *testing.T, st store.Store, plan string) *flagFixture {
	t.Helper()
	reg, err := steward.NewFlagRegistry([]*steward.Flag{{Key: "beta", Type: steward.FlagBool, Default: false,
		Tiers: []steward.FlagTier{steward.TierPlatform, steward.TierTenant, steward.TierUser}}})
	if err != nil {
		t.Fatal(err)
	}
	s := New(Config{Store: st, Password: password.Cheap, Flags: reg})
	f := &flagFixture{t: t, st: st, s: s}
	if f.tenant, err = s.Tenants.CreateTenant(sysCtx(), &steward.TenantCreate{Name: "Acme", Plan: plan}); err != nil {
		t.Fatal(err)
	}
	if f.user, err = s.Users.CreateUser(sysCtx(), &steward.UserCreate{Email: "m@example.com", Password: "long-enough-pw",
		Role: steward.RoleUser, TenantID: f.tenant.ID}); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *flagFixture) ok(err error) {
	f.t.Helper()
	if err != nil {
		f.t.Fatal(err)
	}
}

// fields asserts err is VALIDATION_FAILED naming exactly these fields, each
// message containing the matching want.
func fields(t *testing.T, err error, want map[string]string) {
	t.Helper()
	var se *steward.Error
	if !errors.As(err, &se) || se.Code != steward.CodeValidation {
		t.Fatalf("err = %v, want VALIDATION_FAILED", err)
	}
	got := se.Details["fields"].(map[string]any)
	if len(got) != len(want) {
		t.Fatalf("fields %v, want %v", got, want)
	}
	for k, w := range want {
		if msg, _ := got[k].(string); !strings.Contains(msg, w) {
			t.Fatalf("field %s: %q, want it to say %q", k, msg, w)
		}
	}
}

// TestFeatureTiers: GET and PUT at the tenant and user tiers answer
// effective, overrides, explain and toggleable; the platform tier is the
// features section of /admin/config; a bad key, type or tier is 422 naming
// the key with what the tier may set, nothing stored; each change is one
// features.update entry with the tier and before/after; null resets; a
// stored key that names no flag is reported but ignored, never blocks an
// unrelated change, and can be reset.
func TestFeatureTiers(t *testing.T) {
	for _, be := range testdb.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			t.Parallel()
			f := newFlagFixture(t, be.Open(t), "free")
			ctx, fs := sysCtx(), f.s.Features
			tid, uid := f.tenant.ID, f.user.ID

			st, err := fs.TenantFeatures(ctx, tid)
			f.ok(err)
			if st.Effective["audit_log_days"] != int64(7) || st.Explain["audit_log_days"] != steward.TierPlan ||
				st.Explain["sso"] != steward.TierPlan || len(st.Overrides) != 0 || len(st.Toggleable) != 5 {
				t.Fatalf("tenant state on free: %+v", st)
			}

			// Platform tier: only flags it may set; the plan still wins.
			_, err = f.s.PlatformConfig.UpdatePlatformConfig(ctx, steward.PlatformConfigPatch{
				"features": json.RawMessage(`{"audit_log_days": 10, "priority_support": true, "nope": 1, "sso": "x"}`)})
			fields(t, err, map[string]string{"features.nope": "unknown flag; the platform tier may set: api_access, audit_log_days",
				"features.sso": "want true or false"})
			cfg, err := f.s.PlatformConfig.UpdatePlatformConfig(ctx, steward.PlatformConfigPatch{
				"features": json.RawMessage(`{"audit_log_days": 10, "priority_support": true}`)})
			f.ok(err)
			if got := cfg["features"].(map[string]any); got["audit_log_days"] != int64(10) || got["sso"] != false {
				t.Fatalf("features section = %v", got)
			}
			st, err = fs.TenantFeatures(ctx, tid)
			f.ok(err)
			if st.Effective["audit_log_days"] != int64(7) || st.Effective["priority_support"] != false {
				t.Fatalf("the plan must win over the platform: %+v", st.Effective)
			}

			// Tenant tier.
			_, err = fs.UpdateTenantFeatures(ctx, tid, map[string]any{"nope": true, "sso": "yes", "api_access": false})
			fields(t, err, map[string]string{"features.nope": "unknown flag; the tenant tier may set: api_access, audit_log_days, beta, priority_support, sso",
				"features.sso": "want true or false"})
			st, err = fs.UpdateTenantFeatures(ctx, tid, map[string]any{"audit_log_days": 120.0, "sso": true})
			f.ok(err)
			if st.Effective["audit_log_days"] != int64(120) || st.Explain["audit_log_days"] != steward.TierTenant ||
				st.Effective["sso"] != true || st.Overrides["sso"] != true {
				t.Fatalf("after the tenant PUT: %+v", st)
			}
			_, err = fs.UpdateTenantFeatures(ctx, tid, map[string]any{"sso": true}) // no change: no entry
			f.ok(err)

			// User tier: only flags it may set.
			_, err = fs.UpdateUserFeatures(ctx, uid, map[string]any{"sso": false, "api_access": 1})
			fields(t, err, map[string]string{"features.sso": "cannot be set at the user tier (allowed: platform, plan, tenant); the user tier may set: api_access, beta",
				"features.api_access": "want true or false"})
			us, err := fs.UpdateUserFeatures(ctx, uid, map[string]any{"api_access": false})
			f.ok(err)
			want := map[string]steward.FlagTier{"api_access": "user", "sso": "tenant", "audit_log_days": "tenant", "priority_support": "plan", "beta": "default"}
			if !reflect.DeepEqual(us.Explain, want) || us.Effective["api_access"] != false || len(us.Toggleable) != 2 {
				t.Fatalf("user state: %+v", us)
			}
			us, err = fs.UpdateUserFeatures(ctx, uid, map[string]any{"api_access": nil})
			f.ok(err)
			if us.Explain["api_access"] != steward.TierPlan || len(us.Overrides) != 0 {
				t.Fatalf("after null: %+v", us)
			}
			if got, err := fs.UserFeatures(ctx, uid); err != nil || got.Explain["sso"] != steward.TierTenant {
				t.Fatalf("UserFeatures: %+v %v", got, err)
			}
			if _, err := fs.UserFeatures(ctx, "usr_missing"); steward.ErrorCode(err) != steward.CodeNotFound {
				t.Fatalf("missing user: %v", err)
			}
			if _, err := fs.UpdateTenantFeatures(ctx, "ten_missing", map[string]any{"sso": true}); steward.ErrorCode(err) != steward.CodeNotFound {
				t.Fatalf("missing tenant: %v", err)
			}

			entries, err := f.st.ListAudit(ctx, steward.AuditFilter{Action: "features.update", Limit: 10})
			f.ok(err)
			if len(entries) != 3 {
				t.Fatalf("%d features.update entries, want 3 (refusals and no-ops write none)", len(entries))
			}
			var ch map[string]change
			var md map[string]any
			f.ok(json.Unmarshal(entries[2].Changes, &ch))
			f.ok(json.Unmarshal(entries[2].Metadata, &md))
			if entries[2].TargetType != "tenant" || entries[2].TargetID != tid || md["tier"] != "tenant" ||
				ch["audit_log_days"].Before != nil || ch["audit_log_days"].After != 120.0 || ch["sso"].After != true {
				t.Fatalf("tenant entry: %+v %s %s", entries[2], entries[2].Changes, entries[2].Metadata)
			}
			f.ok(json.Unmarshal(entries[0].Changes, &ch))
			f.ok(json.Unmarshal(entries[0].Metadata, &md))
			if entries[0].TargetType != "user" || entries[0].TargetID != uid || entries[0].TenantID != tid || md["tier"] != "user" ||
				ch["api_access"].Before != false || ch["api_access"].After != nil {
				t.Fatalf("user entry: %+v %s", entries[0], entries[0].Changes)
			}

			// A stored key from before the registry: reported, ignored, no
			// obstacle, and reset by null.
			f.ok(f.st.Update(ctx, func(tx store.Tx) error {
				tn, err := tx.GetTenant(ctx, tid)
				if err != nil {
					return err
				}
				tn.Features["legacy_beta"] = "on"
				return tx.UpdateTenant(ctx, tn)
			}))
			st, err = fs.TenantFeatures(ctx, tid)
			f.ok(err)
			if st.Overrides["legacy_beta"] != "on" || st.Effective["legacy_beta"] != nil {
				t.Fatalf("a key naming no flag: %+v", st)
			}
			_, err = f.s.Tenants.UpdateTenant(ctx, tid, &steward.TenantPatch{Notes: steward.Optional[string]{Set: true, Value: "n"},
				Features: steward.Optional[json.RawMessage]{Set: true, Value: json.RawMessage(`{"sso": false}`)}})
			f.ok(err)
			st, err = fs.UpdateTenantFeatures(ctx, tid, map[string]any{"legacy_beta": nil})
			f.ok(err)
			if _, ok := st.Overrides["legacy_beta"]; ok || st.Overrides["sso"] != false {
				t.Fatalf("after resetting the legacy key: %+v", st.Overrides)
			}
			d, err := f.s.Tenants.TenantDetail(ctx, tid)
			f.ok(err)
			if !reflect.DeepEqual(d.EffectiveFeatures, st.Effective) {
				t.Fatalf("detail's effective features %v, want %v", d.EffectiveFeatures, st.Effective)
			}
		})
	}
}

// TestFeaturePermissions: reads need tenants:read / users:read, writes
// tenants:write / users:write, the product's read features:read.
func TestFeaturePermissions(t *testing.T) {
	f := newFlagFixture(t, testdb.Backends(t)[0].Open(t), "free")
	support := steward.WithActor(context.Background(), steward.Actor{Type: steward.ActorOperator, ID: "usr_x", Role: steward.RoleSupport})
	if _, err := f.s.Features.TenantFeatures(support, f.tenant.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.Features.UserFeatures(support, f.user.ID); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"tenant write": second(f.s.Features.UpdateTenantFeatures(support, f.tenant.ID, map[string]any{"sso": true})),
		"user write":   second(f.s.Features.UpdateUserFeatures(support, f.user.ID, map[string]any{"api_access": true})),
		"product read": second(f.s.Features.EffectiveFeatures(support, f.user.ID, "")),
	} {
		if steward.ErrorCode(err) != steward.CodeForbidden {
			t.Errorf("%s as support: %v, want FORBIDDEN", name, err)
		}
	}
}

func second[T any](_ T, err error) error { return err }

// effective asks the cache, as GET /platform/features does.
func (f *flagFixture) effective(uid, tid string) (map[string]any, error) {
	f.t.Helper()
	e, err := f.s.Features.EffectiveFeatures(sysCtx(), uid, tid)
	if err != nil {
		return nil, err
	}
	return e.Features, nil
}

// waitLive waits, bounded, until the cache may serve (on PostgreSQL: the
// listener is connected).
func waitLive(t *testing.T, c *flagCache) {
	t.Helper()
	c.start()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.mu.RLock()
		live := c.live
		c.mu.RUnlock()
		if live {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the flag cache never became live")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestPlatformFeaturesFromMemory: the answer is cached (a write behind the
// service's back is not seen), and every write path that changes an input
// invalidates it: platform config, tenant PUT and PATCH, plan change, tenant
// delete, restore and purge, user PUT, user tenant change, user delete.
// A missing user or tenant is NOT_FOUND.
func TestPlatformFeaturesFromMemory(t *testing.T) {
	for _, be := range testdb.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			t.Parallel()
			f := newFlagFixture(t, be.Open(t), "free")
			ctx, tid, uid := sysCtx(), f.tenant.ID, f.user.ID
			waitLive(t, f.s.flagCache)
			get := func(uid, tid, key string) any {
				t.Helper()
				m, err := f.effective(uid, tid)
				f.ok(err)
				return m[key]
			}
			if _, err := f.effective("", ""); steward.ErrorCode(err) != steward.CodeValidation {
				t.Fatalf("neither id: %v", err)
			}
			if _, err := f.effective(uid, tid); steward.ErrorCode(err) != steward.CodeValidation {
				t.Fatalf("both ids: %v", err)
			}
			for _, q := range [][2]string{{"usr_missing", ""}, {"", "ten_missing"}} {
				if _, err := f.effective(q[0], q[1]); steward.ErrorCode(err) != steward.CodeNotFound {
					t.Fatalf("%v: %v, want NOT_FOUND", q, err)
				}
			}
			if get(uid, "", "sso") != false || get("", tid, "audit_log_days") != int64(7) {
				t.Fatal("first answers")
			}
			// Behind the service's back (no notification): still the cached answer.
			f.ok(f.st.Update(ctx, func(tx store.Tx) error {
				tn, err := tx.GetTenant(ctx, tid)
				if err != nil {
					return err
				}
				tn.Features = map[string]any{"sso": true}
				return tx.UpdateTenant(ctx, tn)
			}))
			if get(uid, "", "sso") != false || get("", tid, "sso") != false {
				t.Fatal("the answer is not from memory")
			}

			steps := []struct {
				name  string
				write func() error
				check func() bool
			}{
				{"platform config", func() error {
					_, err := f.s.PlatformConfig.UpdatePlatformConfig(ctx, steward.PlatformConfigPatch{"features": json.RawMessage(`{"beta": true}`)})
					return err
				}, func() bool { return get(uid, "", "beta") == true && get("", tid, "beta") == true }},
				{"tenant PUT", func() error {
					return second(f.s.Features.UpdateTenantFeatures(ctx, tid, map[string]any{"audit_log_days": 40}))
				}, func() bool {
					return get(uid, "", "audit_log_days") == int64(40) && get("", tid, "audit_log_days") == int64(40)
				}},
				{"tenant PATCH", func() error {
					return second(f.s.Tenants.UpdateTenant(ctx, tid, &steward.TenantPatch{
						Features: steward.Optional[json.RawMessage]{Set: true, Value: json.RawMessage(`{"audit_log_days": null}`)}}))
				}, func() bool { return get(uid, "", "audit_log_days") == int64(7) }},
				{"plan change", func() error {
					return second(f.s.Tenants.ChangePlan(ctx, tid, &steward.PlanChangeInput{Plan: "pro"}))
				}, func() bool {
					return get("", tid, "audit_log_days") == int64(90) && get(uid, "", "priority_support") == true
				}},
				{"user PUT", func() error {
					return second(f.s.Features.UpdateUserFeatures(ctx, uid, map[string]any{"api_access": false}))
				}, func() bool { return get(uid, "", "api_access") == false }},
				{"user tenant change", func() error {
					return second(f.s.Users.UpdateUser(ctx, uid, &steward.UserPatch{TenantID: steward.Optional[string]{Set: true, Null: true}}))
				}, func() bool {
					return get(uid, "", "audit_log_days") == int64(7) && get(uid, "", "priority_support") == false
				}},
				{"tenant delete", func() error { return second(f.s.Tenants.DeleteTenant(ctx, tid, "")) },
					func() bool { _, err := f.effective("", tid); return steward.ErrorCode(err) == steward.CodeNotFound }},
				{"tenant restore", func() error { return second(f.s.Tenants.RestoreTenant(ctx, tid)) },
					func() bool { return get("", tid, "audit_log_days") == int64(90) }},
				{"user delete", func() error { return second(f.s.Users.DeleteUser(ctx, uid, "")) },
					func() bool { _, err := f.effective(uid, ""); return steward.ErrorCode(err) == steward.CodeNotFound }},
				{"tenant purge", func() error {
					if _, err := f.s.Tenants.DeleteTenant(ctx, tid, ""); err != nil {
						return err
					}
					return second(f.s.Tenants.PurgeTenant(ctx, tid, ""))
				}, func() bool { _, err := f.effective("", tid); return steward.ErrorCode(err) == steward.CodeNotFound }},
			}
			for _, st := range steps {
				if err := st.write(); err != nil {
					t.Fatalf("%s: %v", st.name, err)
				}
				// Right after the write returns: the writing replica has
				// dropped what it changed.
				if !st.check() {
					t.Fatalf("after %s the answer is stale", st.name)
				}
			}
		})
	}
}

// TestFlagCacheKeepsNoRacedFill: a fill that started before an
// invalidation is not kept (it may hold what the invalidated write
// replaced); one that started after is. A tenant's invalidation drops its
// members' entries; a reset drops everything, and a listener that is down
// keeps nothing.
func TestFlagCacheKeepsNoRacedFill(t *testing.T) {
	c := newFlagCache(nil, nil)
	c.live = true
	epoch, _ := c.begin()
	c.invalidate(flagTenantKey("ten_a"))
	c.keep(epoch, func() { c.tenants["ten_a"] = &tenantFlags{plan: "old"} })
	if _, ok := c.tenants["ten_a"]; ok {
		t.Fatal("a fill that raced an invalidation was kept")
	}
	epoch, _ = c.begin()
	c.keep(epoch, func() {
		c.tenants["ten_a"] = &tenantFlags{plan: "new"}
		c.users["usr_1"] = &userFlags{tenantID: "ten_a"}
		c.users["usr_2"] = &userFlags{tenantID: "ten_b"}
		c.platform = map[string]any{}
	})
	if c.tenants["ten_a"] == nil || c.users["usr_1"] == nil {
		t.Fatal("a fill after the invalidation was not kept")
	}
	c.invalidate(flagTenantKey("ten_a"))
	if c.tenants["ten_a"] != nil || c.users["usr_1"] != nil || c.users["usr_2"] == nil || c.platform == nil {
		t.Fatalf("after a tenant's invalidation: tenants %v users %v", c.tenants, c.users)
	}
	c.invalidate(flagUserKey("usr_2"))
	c.invalidate(flagPlatformKey)
	if c.users["usr_2"] != nil || c.platform != nil {
		t.Fatal("a user's or the platform's invalidation left its entry")
	}
	c.invalidate(store.FlagsDown)
	epoch, _ = c.begin()
	c.keep(epoch, func() { c.platform = map[string]any{} })
	if c.platform != nil || c.live {
		t.Fatal("a cache whose listener is down kept a fill")
	}
	c.invalidate(store.FlagsReset)
	if !c.live {
		t.Fatal("a reset did not make the cache live")
	}
}
