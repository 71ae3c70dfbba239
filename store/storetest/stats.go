package storetest

import (
	"maps"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// checkCounters fails t unless every stored counter equals its recount
// (counters resting at 0 count as absent).
func checkCounters(t *testing.T, s store.Store, when string) map[store.Counter]int64 {
	t.Helper()
	got, err := s.ReadCounters(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want, err := s.RecountCounters(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	maps.DeleteFunc(got, func(_ store.Counter, v int64) bool { return v == 0 })
	maps.DeleteFunc(want, func(_ store.Counter, v int64) bool { return v == 0 })
	if !maps.Equal(got, want) {
		t.Fatalf("%s: counters %v, recount %v", when, got, want)
	}
	return got
}

func c(name, key string) store.Counter { return store.Counter{Name: name, Key: key} }

// testStatCounters moves rows of every counted table through inserts,
// updates, deletes and a tenant purge's cascade: the triggers keep each
// counter equal to its recount after every step.
func testStatCounters(t *testing.T, s store.Store) {
	ctx := t.Context()
	checkCounters(t, s, "empty")
	createTenants(t, s, newTenant(1), newTenant(2))
	update(t, s, func(tx store.Tx) error {
		for n := 1; n <= 6; n++ {
			u := newUser(n)
			if n <= 3 {
				u.TenantID = tenantID(1)
			}
			if n == 6 {
				u.Role = steward.RoleAdmin
			}
			if err := tx.CreateUser(ctx, u); err != nil {
				return err
			}
		}
		for n := 1; n <= 4; n++ {
			k := newKey(n, userID(n))
			if n <= 2 {
				k.TenantID = tenantID(1)
			}
			if n == 4 {
				k.Type = steward.KeyPlatform
			}
			if err := tx.CreateAPIKey(ctx, k); err != nil {
				return err
			}
		}
		for n := 1; n <= 4; n++ {
			if err := tx.CreateSession(ctx, newSession(n, userID(n))); err != nil {
				return err
			}
		}
		if err := tx.CreateImpersonation(ctx, newImpersonation(1, userID(1), userID(6), t0)); err != nil {
			return err
		}
		for _, tn := range []string{tenantID(1), tenantID(2)} {
			a, err := tx.LockCreditAccount(ctx, tn, t0)
			if err != nil {
				return err
			}
			a.Balance = 500
			if err := tx.UpdateCreditAccount(ctx, a); err != nil {
				return err
			}
		}
		return nil
	})
	got := checkCounters(t, s, "created")
	want := map[store.Counter]int64{c("users.status", "active"): 6, c("users.role", "user"): 5, c("users.role", "admin"): 1,
		c("tenants.status", "active"): 2, c("tenants.plan", "free"): 2, c("api_keys.status", "active"): 4,
		c("api_keys.type", "admin"): 3, c("api_keys.type", "platform"): 1, c("sessions.open", ""): 4,
		c("impersonations.open", ""): 1, c("credits.outstanding", ""): 1000}
	if !maps.Equal(got, want) {
		t.Fatalf("counters %v, want %v", got, want)
	}

	update(t, s, func(tx store.Tx) error {
		u, err := tx.GetUser(ctx, userID(4))
		if err != nil {
			return err
		}
		u.Status, u.Role = steward.StatusSuspended, steward.RoleSupport
		if err := tx.UpdateUser(ctx, u); err != nil {
			return err
		}
		k, err := tx.GetAPIKey(ctx, keyID(3))
		if err != nil {
			return err
		}
		k.Status, k.RevokedAt = steward.KeyRevoked, ptr(t0)
		if err := tx.UpdateAPIKey(ctx, k); err != nil {
			return err
		}
		if _, err := tx.RevokeUserSessions(ctx, userID(4), t0, "test"); err != nil {
			return err
		}
		tn, err := tx.GetTenant(ctx, tenantID(2))
		if err != nil {
			return err
		}
		tn.Plan, tn.Status = "pro", steward.TenantSuspended
		if err := tx.UpdateTenant(ctx, tn); err != nil {
			return err
		}
		m, err := tx.GetImpersonation(ctx, idOf("imp", 1))
		if err != nil {
			return err
		}
		m.EndedAt, m.EndedBy = ptr(t0), "operator"
		return tx.UpdateImpersonation(ctx, m)
	})
	checkCounters(t, s, "updated")
	update(t, s, func(tx store.Tx) error {
		if _, err := tx.HoldTenantUsers(ctx, tenantID(1), "tenant suspended", t0); err != nil {
			return err
		}
		_, err := tx.HoldTenantKeys(ctx, tenantID(1), t0)
		return err
	})
	checkCounters(t, s, "tenant cascade")
	update(t, s, func(tx store.Tx) error { return tx.PurgeUser(ctx, userID(5)) })
	checkCounters(t, s, "user purge")
	update(t, s, func(tx store.Tx) error { _, err := tx.PurgeTenant(ctx, tenantID(1)); return err })
	got = checkCounters(t, s, "tenant purge")
	if got[c("users.status", "active")] != 1 || got[c("credits.outstanding", "")] != 500 || got[c("tenants.plan", "pro")] != 1 {
		t.Fatalf("after the purges: %v", got)
	}

	// A write that fails rolls its counter moves back with it.
	_ = s.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateUser(ctx, newUser(20)); err != nil {
			return err
		}
		return store.ErrNotFound
	})
	if after := checkCounters(t, s, "rolled back"); !maps.Equal(after, got) {
		t.Fatalf("a rolled back write moved the counters: %v, was %v", after, got)
	}
}

// testStatGauges: sessions, keys and impersonations whose time passed leave
// their stored state in the gauges at once, before any sweep; the sweeper
// then moves the counters in bounded batches without changing the gauges.
func testStatGauges(t *testing.T, s store.Store) {
	ctx := t.Context()
	update(t, s, func(tx store.Tx) error {
		for n := 1; n <= 3; n++ {
			u := newUser(n)
			if n == 3 { // banned for an hour
				u.Status, u.Ban = steward.StatusBanned, &steward.Ban{Reason: "spam", ExpiresAt: ptr(at(time.Hour)), By: userID(1), At: t0}
			}
			if err := tx.CreateUser(ctx, u); err != nil {
				return err
			}
		}
		for n := 1; n <= 4; n++ {
			ses := newSession(n, userID(1))
			ses.ExpiresAt = at(time.Duration(n) * time.Hour) // one lapses each hour
			if err := tx.CreateSession(ctx, ses); err != nil {
				return err
			}
		}
		keys := []*steward.APIKey{newKey(1, userID(1)), newKey(2, userID(1)), newKey(3, userID(1)), newKey(4, userID(1)), newKey(5, userID(1))}
		keys[1].ExpiresAt = ptr(at(time.Hour))                                          // expires
		keys[2].RevokedAt = ptr(at(2 * time.Hour))                                      // a rotation's grace ends
		keys[3].ExpiresAt, keys[3].RevokedAt = ptr(at(time.Hour)), ptr(at(3*time.Hour)) // expires, then revoked
		keys[4].Status, keys[4].ExpiresAt = steward.KeyDisabled, ptr(at(time.Hour))     // held, then expires
		for _, k := range keys {
			if err := tx.CreateAPIKey(ctx, k); err != nil {
				return err
			}
		}
		m := newImpersonation(1, userID(2), userID(1), t0)
		m.ExpiresAt = at(time.Hour)
		return tx.CreateImpersonation(ctx, m)
	})
	check := func(now time.Time, sessions, imps int64) {
		t.Helper()
		g, err := s.ReadGauges(ctx, now)
		if err != nil {
			t.Fatal(err)
		}
		banned := int64(1)
		if !now.Before(at(time.Hour)) {
			banned = 0
		}
		if g.UserStates["banned"] != banned || g.UserStates["active"] != 3-banned {
			t.Fatalf("at %v: user gauges %v", now.Sub(t0), g.UserStates)
		}
		ks, err := s.APIKeyStats(ctx, now)
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range []steward.KeyStatus{steward.KeyActive, steward.KeyDisabled, steward.KeyExpired, steward.KeyRevoked} {
			if g.KeyStates[string(st)] != ks.ByStatus[st] {
				t.Fatalf("at %v: key gauges %v, APIKeyStats %v", now.Sub(t0), g.KeyStates, ks.ByStatus)
			}
		}
		if g.Sessions != sessions || g.Impersonations != imps {
			t.Fatalf("at %v: sessions %d, impersonations %d; want %d, %d", now.Sub(t0), g.Sessions, g.Impersonations, sessions, imps)
		}
	}
	check(t0, 4, 1)
	check(at(time.Hour), 3, 0)
	check(at(150*time.Minute), 2, 0)
	check(at(3*time.Hour), 1, 0)

	// Sweep in batches of one, at +1h and then at +3h: each batch marks at
	// most one session and one key; the gauges stay put and the counters
	// match a recount after every batch.
	sweep := func(now time.Time, sessions, imps int64) (swept, keys int64) {
		t.Helper()
		for i := 0; ; i++ {
			var ns, nk int64
			update(t, s, func(tx store.Tx) error {
				var err error
				ns, nk, err = tx.SweepLapsed(ctx, now, 1)
				return err
			})
			if ns > 1 || nk > 1 {
				t.Fatalf("a batch of 1 marked %d sessions and %d keys", ns, nk)
			}
			swept, keys = swept+ns, keys+nk
			checkCounters(t, s, "sweeping")
			check(now, sessions, imps)
			if ns == 0 && nk == 0 {
				return swept, keys
			}
			if i > 10 {
				t.Fatal("the sweep does not end")
			}
		}
	}
	if ns, nk := sweep(at(time.Hour), 3, 0); ns != 1 || nk != 3 {
		t.Fatalf("swept %d sessions and %d keys at +1h; want 1 and 3", ns, nk)
	}
	check(at(3*time.Hour), 1, 0)
	// Key 4 moves again: expired at +1h, revoked at +3h.
	if ns, nk := sweep(at(3*time.Hour), 1, 0); ns != 2 || nk != 2 {
		t.Fatalf("swept %d sessions and %d keys at +3h; want 2 and 2", ns, nk)
	}
	got, err := s.ReadCounters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got[c("sessions.open", "")] != 1 || got[c("api_keys.status", "revoked")] != 2 || got[c("api_keys.status", "expired")] != 2 ||
		got[c("api_keys.status", "active")] != 1 {
		t.Fatalf("swept counters: %v", got)
	}
	check(at(4*time.Hour), 0, 0)
}

// testSetCounter: a counter overwritten with a wrong value disagrees with
// its recount until SetCounter writes the recounted value back.
func testSetCounter(t *testing.T, s store.Store) {
	ctx := t.Context()
	update(t, s, func(tx store.Tx) error {
		for n := 1; n <= 3; n++ {
			if err := tx.CreateUser(ctx, newUser(n)); err != nil {
				return err
			}
		}
		return tx.SetCounter(ctx, c("users.status", "active"), 40)
	})
	got, err := s.ReadCounters(ctx)
	if err != nil || got[c("users.status", "active")] != 40 {
		t.Fatalf("after SetCounter: %v, %v", got, err)
	}
	update(t, s, func(tx store.Tx) error {
		if err := tx.LockCounted(ctx); err != nil {
			return err
		}
		if err := tx.CreateUser(ctx, newUser(4)); err != nil {
			return err
		}
		return tx.SetCounter(ctx, c("users.status", "active"), 4)
	})
	checkCounters(t, s, "repaired")
	update(t, s, func(tx store.Tx) error { return tx.CreateUser(ctx, newUser(5)) })
	if got := checkCounters(t, s, "after the repair"); got[c("users.status", "active")] != 5 {
		t.Fatalf("counters: %v", got)
	}
}
