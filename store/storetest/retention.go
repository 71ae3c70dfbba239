package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// testRetentionSettings: stored days per data set, null deletes the row,
// and the run's claim goes to one caller per period.
func testRetentionSettings(t *testing.T, s store.Store) {
	ctx := t.Context()
	got, err := s.RetentionSettings(ctx)
	must(t, "RetentionSettings empty", err)
	equal(t, "RetentionSettings empty", got, map[string]int{})
	set := func(name string, days *int) {
		t.Helper()
		update(t, s, func(tx store.Tx) error { return tx.SetRetention(ctx, name, days) })
	}
	set("sessions", ptr(30))
	set("impersonations", ptr(0))
	set("sessions", ptr(7))
	got, err = s.RetentionSettings(ctx)
	must(t, "RetentionSettings", err)
	equal(t, "RetentionSettings", got, map[string]int{"sessions": 7, "impersonations": 0})
	set("sessions", nil)
	set("key_usage", nil) // no row: nothing to delete
	got, err = s.RetentionSettings(ctx)
	must(t, "RetentionSettings after reset", err)
	equal(t, "RetentionSettings after reset", got, map[string]int{"impersonations": 0})

	last, err := s.RetentionLastRun(ctx)
	must(t, "RetentionLastRun none", err)
	if !last.IsZero() {
		t.Fatalf("RetentionLastRun with no run = %v", last)
	}
	claim := func(now time.Time, want bool) {
		t.Helper()
		var ok bool
		update(t, s, func(tx store.Tx) (err error) {
			ok, err = tx.ClaimRetentionRun(ctx, now, now.Add(-24*time.Hour))
			return err
		})
		if ok != want {
			t.Fatalf("ClaimRetentionRun(%v) = %v, want %v", now, ok, want)
		}
	}
	claim(at(0), true)
	claim(at(time.Hour), false)
	claim(at(24*time.Hour), true) // exactly a day on
	claim(at(25*time.Hour), false)
	update(t, s, func(tx store.Tx) error { return tx.SetRetentionLastRun(ctx, at(30*time.Hour)) })
	last, err = s.RetentionLastRun(ctx)
	must(t, "RetentionLastRun", err)
	equal(t, "RetentionLastRun", last, at(30*time.Hour))
	claim(at(53*time.Hour), false)
}

// testRetentionPurges: exactly the ended rows older than the cut go, at most
// limit at a time; live sessions and open impersonations stay whatever
// their age.
func testRetentionPurges(t *testing.T, s store.Store) {
	ctx := t.Context()
	createUsers(t, s, newUser(1))
	sess := func(n int, created, expires time.Time, revoked *time.Time) *steward.Session {
		x := newSession(n, userID(1))
		x.CreatedAt, x.LastSeenAt, x.ExpiresAt, x.RevokedAt = created, created, expires, revoked
		if revoked != nil {
			x.RevokedReason = "logout"
		}
		return x
	}
	old := at(-100 * time.Hour)
	sessions := []*steward.Session{
		sess(1, old, at(time.Hour), nil),                               // live, however old: kept
		sess(2, old, at(time.Hour), ptr(at(-2*time.Hour))),             // revoked before the cut: purged
		sess(3, old, at(-2*time.Hour), nil),                            // expired before the cut: purged
		sess(4, old, at(time.Hour), ptr(at(time.Minute))),              // revoked after: kept
		sess(5, old, at(0), nil),                                       // expired at the cut: kept
		sess(6, old, at(-3*time.Hour), ptr(at(-4*time.Hour))),          // both: purged once
		sess(7, at(-time.Minute), at(time.Hour), ptr(at(time.Second))), // recent: kept
	}
	update(t, s, func(tx store.Tx) error {
		for _, x := range sessions {
			if err := tx.CreateSession(ctx, x); err != nil {
				return err
			}
		}
		return nil
	})
	open := newImpersonation(1, userID(1), userID(9), old)
	open.ExpiresAt = at(time.Hour)
	ended := newImpersonation(2, userID(1), userID(9), old)
	ended.EndedAt, ended.EndedBy = ptr(at(-time.Hour)), userID(9)
	recent := newImpersonation(3, userID(1), userID(9), old)
	recent.EndedAt, recent.EndedBy = ptr(at(time.Minute)), userID(9)
	update(t, s, func(tx store.Tx) error {
		for _, m := range []*steward.Impersonation{open, ended, recent} {
			if err := tx.CreateImpersonation(ctx, m); err != nil {
				return err
			}
		}
		return nil
	})

	purge := func(what string, f func(tx store.Tx, limit int) (int64, error), limit int, want int64) {
		t.Helper()
		var n int64
		update(t, s, func(tx store.Tx) (err error) { n, err = f(tx, limit); return err })
		if n != want {
			t.Errorf("%s(limit %d) = %d, want %d", what, limit, n, want)
		}
	}
	sessionsFn := func(tx store.Tx, n int) (int64, error) { return tx.PurgeEndedSessions(ctx, at(0), n) }
	purge("PurgeEndedSessions", sessionsFn, 2, 2)
	purge("PurgeEndedSessions", sessionsFn, 2, 1)
	purge("PurgeEndedSessions", sessionsFn, 2, 0)
	for _, x := range sessions {
		_, err := s.GetSession(ctx, x.ID)
		gone := slices.Contains([]int{2, 3, 6}, int(x.ID[len(x.ID)-1]-'0'))
		switch {
		case gone && err == nil:
			t.Errorf("session %s survived the purge", x.ID)
		case !gone && err != nil:
			t.Errorf("session %s: %v", x.ID, err)
		}
	}
	impFn := func(tx store.Tx, n int) (int64, error) { return tx.PurgeEndedImpersonations(ctx, at(0), n) }
	purge("PurgeEndedImpersonations", impFn, 10, 1)
	purge("PurgeEndedImpersonations", impFn, 10, 0)
	for _, m := range []*steward.Impersonation{open, recent} {
		_, err := s.GetImpersonation(ctx, m.ID)
		must(t, "GetImpersonation kept", err)
	}
	_, err := s.GetImpersonation(ctx, ended.ID)
	notFound(t, "GetImpersonation purged", err)

	// Usage events by when they occurred: 1 and 2 before the cut, 3 on it.
	createTenants(t, s, newTenant(1))
	update(t, s, func(tx store.Tx) error {
		for n := 1; n <= 5; n++ {
			if err := tx.InsertUsageEvent(ctx, newUsageEvent(n, tenantID(1))); err != nil {
				return err
			}
		}
		return nil
	})
	usageFn := func(tx store.Tx, n int) (int64, error) { return tx.PurgeUsageEvents(ctx, at(3*time.Minute), n) }
	purge("PurgeUsageEvents", usageFn, 1, 1)
	purge("PurgeUsageEvents", usageFn, 10, 1)
	purge("PurgeUsageEvents", usageFn, 10, 0)
	for n := 1; n <= 5; n++ {
		_, err := s.GetUsageEvent(ctx, tenantID(1), usageID(n))
		if n < 3 {
			notFound(t, "GetUsageEvent purged", err)
		} else {
			must(t, "GetUsageEvent kept", err)
		}
	}
}
