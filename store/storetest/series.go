package storetest

import (
	"cmp"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

var allSeries = []string{store.SeriesSignups, store.SeriesSessions, store.SeriesCreditsGranted,
	store.SeriesCreditsDeducted, store.SeriesCreditsRefunded, store.SeriesCreditsExpired, store.SeriesCreditsAdjusted,
	store.SeriesUsageEvents, store.SeriesUsageQuantity, store.SeriesUsageCost}

// seriesTotals reads every series over a wide range as name/key → value,
// leaving out zeros.
func seriesTotals(t *testing.T, q store.Queries) map[string]int64 {
	t.Helper()
	list, err := q.SeriesTotals(t.Context(), allSeries, at(-48*time.Hour), at(48*time.Hour))
	must(t, "SeriesTotals", err)
	out := map[string]int64{}
	for _, v := range list {
		if v.Value != 0 {
			out[v.Name+"/"+v.Key] = v.Value
		}
	}
	return out
}

func noDrift(t *testing.T, s store.Store) {
	t.Helper()
	drift, err := s.RecountSeries(t.Context())
	must(t, "RecountSeries", err)
	if len(drift) != 0 {
		t.Fatalf("RecountSeries found drift: %s", show(drift))
	}
}

// testSeriesBuckets: the triggers keep the hourly buckets and the
// per-tenant months in step with inserts, a moved session, a user's purge
// (its sessions cascade) and a tenant's purge, and the recount agrees
// after every step.
func testSeriesBuckets(t *testing.T, s store.Store) {
	ctx := t.Context()
	createUsers(t, s, newUser(1), newUser(2), newUser(3))
	later := newUser(4)
	later.CreatedAt = at(2 * time.Hour)
	createUsers(t, s, later)
	sessions := []*steward.Session{newSession(1, userID(1)), newSession(2, userID(1)), newSession(3, userID(2))}
	createSessions(t, s, sessions...)
	createTenants(t, s, newTenant(1), newTenant(2))
	grant := newEntry(1, tenantID(1), steward.LedgerGrant, 100, 100)
	deduct := newEntry(2, tenantID(1), steward.LedgerDeduct, -30, 70)
	refund := newEntry(3, tenantID(1), steward.LedgerRefund, 5, 75)
	expire := newEntry(4, tenantID(1), steward.LedgerExpire, -10, 65)
	adjust := newEntry(5, tenantID(1), steward.LedgerAdjust, -2, 63)
	insertEntries(t, s, grant, deduct, refund, expire, adjust,
		newEntry(6, tenantID(2), steward.LedgerGrant, 50, 50), newEntry(7, tenantID(2), steward.LedgerDeduct, -45, 5))
	u1, u2, u3 := newUsageEvent(1, tenantID(1)), newUsageEvent(2, tenantID(1)), newUsageEvent(3, tenantID(2))
	u1.CostMicros, u3.Metric, u3.CostMicros = 700, "images", 9
	insertUsage(t, s, u1, u2, u3)
	noDrift(t, s)

	equal(t, "totals", seriesTotals(t, s), map[string]int64{
		"signups/": 4, "sessions.started/": 3, "credits.granted/": 150, "credits.deducted/": 75,
		"credits.refunded/": 5, "credits.expired/": 10, "credits.adjusted/": -2,
		"usage.events/tokens": 2, "usage.quantity/tokens": 3, "usage.cost_micros/tokens": 700,
		"usage.events/images": 1, "usage.quantity/images": 3, "usage.cost_micros/images": 9})

	// Buckets are UTC hours: t0 is 15:09, so users 1-3 are in 15:00 and
	// user 4 in 17:00; the range is half-open.
	hour := t0.Truncate(time.Hour)
	hours, err := s.HourlySeries(ctx, []string{store.SeriesSignups}, hour, hour.Add(3*time.Hour))
	must(t, "HourlySeries", err)
	equal(t, "signups by hour", hours, []store.HourlyValue{
		{Name: store.SeriesSignups, Hour: hour, Value: 3}, {Name: store.SeriesSignups, Hour: hour.Add(2 * time.Hour), Value: 1}})
	hours, err = s.HourlySeries(ctx, []string{store.SeriesSignups}, hour.Add(time.Hour), hour.Add(2*time.Hour))
	must(t, "HourlySeries", err)
	equal(t, "signups of an empty hour", len(hours), 0)

	month := t0.Format("2006-01")
	top, err := s.TopTenants(ctx, month, store.TopByCreditsUsed, 10)
	must(t, "TopTenants", err)
	equal(t, "top by credits used", top, []store.TenantMonth{
		{TenantID: tenantID(2), CreditsGranted: 50, CreditsUsed: 45, UsageEvents: 1, UsageQuantity: 3, UsageCostMicros: 9},
		{TenantID: tenantID(1), CreditsGranted: 100, CreditsUsed: 25, UsageEvents: 2, UsageQuantity: 3, UsageCostMicros: 700}})
	top, err = s.TopTenants(ctx, month, store.TopByUsage, 1)
	must(t, "TopTenants", err)
	equal(t, "top by usage", top[0].TenantID, tenantID(1))
	totals, err := s.MonthTotals(ctx, month)
	must(t, "MonthTotals", err)
	equal(t, "month totals", totals, store.TenantMonth{CreditsGranted: 150, CreditsUsed: 70, UsageEvents: 3,
		UsageQuantity: 6, UsageCostMicros: 709})

	// A session moved to another hour moves its bucket.
	moved := *sessions[2]
	moved.CreatedAt = at(5 * time.Hour)
	update(t, s, func(tx store.Tx) error { return tx.UpdateSession(ctx, &moved) })
	hours, err = s.HourlySeries(ctx, []string{store.SeriesSessions}, at(4*time.Hour), at(6*time.Hour))
	must(t, "HourlySeries", err)
	equal(t, "sessions of the moved hour", len(hours), 1)
	noDrift(t, s)

	// Purges subtract: the user and its two sessions, then tenant 1 and
	// everything it held.
	update(t, s, func(tx store.Tx) error { return tx.PurgeUser(ctx, userID(1)) })
	update(t, s, func(tx store.Tx) error { _, err := tx.PurgeTenant(ctx, tenantID(1)); return err })
	noDrift(t, s)
	equal(t, "totals after purges", seriesTotals(t, s), map[string]int64{
		"signups/": 3, "sessions.started/": 1, "credits.granted/": 50, "credits.deducted/": 45,
		"usage.events/images": 1, "usage.quantity/images": 3, "usage.cost_micros/images": 9})
	top, err = s.TopTenants(ctx, month, store.TopByCreditsUsed, 10)
	must(t, "TopTenants", err)
	equal(t, "top after the purge", len(top), 1)

	// A rebuild writes what the recount says: the same figures.
	update(t, s, func(tx store.Tx) error { return tx.RebuildSeries(ctx) })
	noDrift(t, s)
	equal(t, "totals after rebuild", seriesTotals(t, s)["signups/"], int64(3))
}

// testSeriesActivity: activity pairs are kept once, unknown users are
// skipped, a purge erases a user's activity; closed days and billing
// snapshots are remembered.
func testSeriesActivity(t *testing.T, s store.Store) {
	ctx := t.Context()
	createUsers(t, s, newUser(1), newUser(2))
	h := t0.Truncate(time.Hour)
	record := func(users []string, hours []time.Time) {
		t.Helper()
		update(t, s, func(tx store.Tx) error { return tx.RecordActivity(ctx, users, hours) })
	}
	record([]string{userID(1), userID(2), "usr_gone"}, []time.Time{h, h, h})
	record([]string{userID(1), userID(1)}, []time.Time{h, h.Add(time.Hour)})
	n, err := s.ActiveUsers(ctx, h, h.Add(2*time.Hour))
	must(t, "ActiveUsers", err)
	equal(t, "active users", n, int64(2))
	n, err = s.ActiveUsers(ctx, h.Add(time.Hour), h.Add(2*time.Hour))
	must(t, "ActiveUsers", err)
	equal(t, "active users of the second hour", n, int64(1))
	// The latest hour only moves forward.
	record([]string{userID(1)}, []time.Time{h.Add(-time.Hour)})
	since := func(from time.Time) int64 {
		t.Helper()
		n, err := s.ActiveSince(ctx, from)
		must(t, "ActiveSince", err)
		return n
	}
	equal(t, "active since the first hour", since(h), int64(2))
	equal(t, "active since the second hour", since(h.Add(time.Hour)), int64(1))
	update(t, s, func(tx store.Tx) error { return tx.PurgeUser(ctx, userID(2)) })
	n, err = s.ActiveUsers(ctx, h, h.Add(2*time.Hour))
	must(t, "ActiveUsers", err)
	equal(t, "active users after a purge", n, int64(1))
	equal(t, "active since after a purge", since(h), int64(1))
	noDrift(t, s) // the latest-hour counts match user_last_active

	update(t, s, func(tx store.Tx) error {
		return tx.SaveActiveDays(ctx, "Asia/Kolkata", map[string]int64{"2025-03-13": 4, "2025-03-14": 2})
	})
	update(t, s, func(tx store.Tx) error {
		return tx.SaveActiveDays(ctx, "UTC", map[string]int64{"2025-03-14": 9})
	})
	days, err := s.ActiveDays(ctx, "Asia/Kolkata", "2025-03-14", "2025-03-20")
	must(t, "ActiveDays", err)
	equal(t, "active days", days, map[string]int64{"2025-03-14": 2})

	_, err = s.GetBillingSnapshot(ctx, "2025-02")
	notFound(t, "GetBillingSnapshot", err)
	for i, want := range []bool{true, false} {
		snap := &store.BillingSnapshot{Month: "2025-02", Plans: json.RawMessage(`{"free":` + string(rune('1'+i)) + `}`),
			TakenAt: at(time.Duration(i) * time.Hour)}
		var saved bool
		update(t, s, func(tx store.Tx) (err error) { saved, err = tx.SaveBillingSnapshot(ctx, snap); return err })
		equal(t, "SaveBillingSnapshot stored", saved, want)
	}
	snap, err := s.GetBillingSnapshot(ctx, "2025-02")
	must(t, "GetBillingSnapshot", err)
	var plans map[string]int
	must(t, "snapshot plans", json.Unmarshal(snap.Plans, &plans))
	equal(t, "the first snapshot stays", plans, map[string]int{"free": 1})
	equal(t, "snapshot time", snap.TakenAt, t0)
}

// testSeriesBilling: tenants by plan and status, outstanding credits and
// the capped tenants with their accounts.
func testSeriesBilling(t *testing.T, s store.Store) {
	ctx := t.Context()
	capped, uncapped, deleted, noAccount := newTenant(1), newTenant(2), newTenant(3), newTenant(4)
	capped.Plan, capped.Spending.MonthlyCap = "pro", ptr(int64(100))
	deleted.Status, deleted.Spending.DailyCap = steward.TenantDeleted, ptr(int64(5))
	noAccount.Spending.DailyCap = ptr(int64(7))
	createTenants(t, s, capped, uncapped, deleted, noAccount)
	setAccount(t, s, &steward.CreditAccount{TenantID: tenantID(1), Balance: 40, MonthSpent: 85, UpdatedAt: t0})
	setAccount(t, s, &steward.CreditAccount{TenantID: tenantID(2), Balance: 2, UpdatedAt: t0})

	n, err := s.OutstandingCredits(ctx)
	must(t, "OutstandingCredits", err)
	equal(t, "outstanding", n, int64(42))
	counts, err := s.CountTenantsByPlan(ctx)
	must(t, "CountTenantsByPlan", err)
	slices.SortFunc(counts, func(a, b store.PlanStatusCount) int {
		return cmp.Or(strings.Compare(a.Plan, b.Plan), strings.Compare(string(a.Status), string(b.Status)))
	})
	equal(t, "by plan", counts, []store.PlanStatusCount{{Plan: "free", Status: steward.TenantActive, Count: 2},
		{Plan: "free", Status: steward.TenantDeleted, Count: 1}, {Plan: "pro", Status: steward.TenantActive, Count: 1}})
	list, err := s.ListCappedTenants(ctx)
	must(t, "ListCappedTenants", err)
	if len(list) != 2 || list[0].Tenant.ID != tenantID(1) || list[1].Tenant.ID != tenantID(4) {
		t.Fatalf("ListCappedTenants = %s; want tenants 1 and 4", show(list))
	}
	if list[0].Account == nil || list[0].Account.MonthSpent != 85 || list[1].Account != nil {
		t.Errorf("ListCappedTenants accounts = %s, %s; want tenant 1's and none", show(list[0].Account), show(list[1].Account))
	}
}

// testSeriesConcurrentWriters: writers of one hour, each touching two
// metrics in opposite orders, all commit (PostgreSQL retries a deadlock),
// and the buckets match the recount, before and after folding the shards.
func testSeriesConcurrentWriters(t *testing.T, s store.Store) {
	ctx := t.Context()
	const writers, rounds = 8, 10
	for w := range writers {
		createTenants(t, s, newTenant(w+1))
	}
	errs := make(chan error, writers)
	for w := range writers {
		go func() {
			var err error
			for r := 0; r < rounds && err == nil; r++ {
				metrics := []string{"alpha", "beta"}
				if (w+r)%2 == 1 {
					metrics = []string{"beta", "alpha"}
				}
				err = s.Update(ctx, func(tx store.Tx) error {
					for i, m := range metrics {
						e := newUsageEvent(1000*w+10*r+i, tenantID(w+1))
						e.Metric, e.OccurredAt = m, at(time.Duration(i)*time.Second)
						if err := tx.InsertUsageEvent(ctx, e); err != nil {
							return err
						}
					}
					return nil
				})
			}
			errs <- err
		}()
	}
	for range writers {
		must(t, "concurrent writer", <-errs)
	}
	want := writers * rounds
	got := seriesTotals(t, s)
	if got["usage.events/alpha"] != int64(want) || got["usage.events/beta"] != int64(want) {
		t.Fatalf("events by metric = %v; want %d each", got, want)
	}
	noDrift(t, s)
	compact := func() (n int64) {
		update(t, s, func(tx store.Tx) (err error) { n, err = tx.CompactSeries(ctx, at(time.Hour)); return err })
		return n
	}
	compact()
	noDrift(t, s)
	equal(t, "totals after folding", seriesTotals(t, s), got)
	equal(t, "rows a second fold finds", compact(), int64(0))
}

// testSeriesMemo: remembered days read back, and a change to a bucket of a
// day's hours forgets that day (in every zone) and no other.
func testSeriesMemo(t *testing.T, s store.Store) {
	ctx := t.Context()
	day := func(d string, from time.Time, vals ...store.SeriesTotal) store.MemoDay {
		return store.MemoDay{DayRange: store.DayRange{Day: d, From: from, To: from.Add(24 * time.Hour)}, Values: vals}
	}
	d1 := t0.Truncate(24 * time.Hour)
	d2 := d1.Add(24 * time.Hour)
	update(t, s, func(tx store.Tx) error {
		if err := tx.LockSeriesMemo(ctx); err != nil {
			return err
		}
		if err := tx.SaveSeriesMemo(ctx, "UTC", []store.MemoDay{
			day("2025-03-14", d1, store.SeriesTotal{Name: store.SeriesSignups, Value: 3}), day("2025-03-15", d2)}); err != nil {
			return err
		}
		return tx.SaveSeriesMemo(ctx, "Europe/Paris", []store.MemoDay{day("2025-03-14", d1.Add(-time.Hour))})
	})
	memo, err := s.SeriesMemo(ctx, "UTC", "2025-03-01", "2025-03-31")
	must(t, "SeriesMemo", err)
	equal(t, "remembered", memo, map[string][]store.SeriesTotal{
		"2025-03-14": {{Name: store.SeriesSignups, Value: 3}}, "2025-03-15": {}})

	// A user created on the 14th changes that day's bucket.
	u := newUser(1)
	u.CreatedAt = d1.Add(5 * time.Hour)
	createUsers(t, s, u)
	memo, err = s.SeriesMemo(ctx, "UTC", "2025-03-01", "2025-03-31")
	must(t, "SeriesMemo", err)
	equal(t, "after a change on the 14th", memo, map[string][]store.SeriesTotal{"2025-03-15": {}})
	memo, err = s.SeriesMemo(ctx, "Europe/Paris", "2025-03-01", "2025-03-31")
	must(t, "SeriesMemo", err)
	equal(t, "Paris's 14th is forgotten too", len(memo), 0)
}
