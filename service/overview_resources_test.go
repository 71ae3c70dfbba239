package service_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
	"github.com/stewardhq/steward/service"
)

// allResources lists every stored resource through the ordinary list query
// (no counter).
func allResources(t *testing.T, a *apptest.App) []*steward.Resource {
	t.Helper()
	var out []*steward.Resource
	after := ""
	for {
		page, err := a.Store.ListResources(context.Background(), steward.ResourceFilter{}, after, 500)
		must(t, err)
		out = append(out, page...)
		if len(page) < 500 {
			return out
		}
		after = page[len(page)-1].ID
	}
}

// recountResources is the oracle for Stats' resources, from the rows; Stale
// is left for staleResources.
func recountResources(t *testing.T, a *apptest.App) steward.ResourceStats {
	t.Helper()
	rs := steward.ResourceStats{ByStatus: map[steward.ResourceStatus]int64{}, ByDesired: map[steward.ResourceDesired]int64{
		steward.DesiredRunning: 0, steward.DesiredSuspended: 0, steward.DesiredDeleted: 0}}
	for _, s := range steward.ResourceStatuses {
		rs.ByStatus[s] = 0
	}
	for _, r := range allResources(t, a) {
		rs.Total++
		rs.ByStatus[r.Status]++
		rs.ByDesired[r.DesiredStatus]++
		if r.HeldByTenant {
			rs.HeldByTenant++
		}
	}
	return rs
}

// staleResources counts the rows last seen before cutoff, from the rows.
func staleResources(t *testing.T, a *apptest.App, cutoff time.Time) int64 {
	t.Helper()
	var n int64
	for _, r := range allResources(t, a) {
		if r.LastSeenAt.Before(cutoff) {
			n++
		}
	}
	return n
}

// TestStatsResources: Stats counts resources by reported and desired
// status, those held by their tenant's suspension, and those unseen for
// the configured stale age (STEWARD_RESOURCE_STALE_AFTER) at the time of
// the read, with no write in between; every status is present with 0 where
// none; a stale purge and a tenant's purge subtract; doctor finds no drift.
func TestStatsResources(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		sys, res := apptest.System(), a.Svc.Resources
		stats := func(when string) steward.ResourceStats {
			t.Helper()
			return checkStats(t, a, when).Resources
		}
		rs := stats("no resources")
		if rs.Total != 0 || len(rs.ByStatus) != len(steward.ResourceStatuses) || len(rs.ByDesired) != 3 || rs.StaleAfter != "2h0m0s" {
			t.Fatalf("empty: %+v", rs)
		}
		a.EnsureTenant(t, "ten_a")
		a.EnsureTenant(t, "ten_b")
		for _, r := range []struct {
			id, tenant string
			status     steward.ResourceStatus
		}{{"vm-1", "ten_a", steward.ResourceRunning}, {"vm-2", "ten_a", steward.ResourceRunning},
			{"vm-3", "ten_a", steward.ResourceStopped}, {"vm-4", "ten_b", steward.ResourceProvisioning}} {
			_, err := res.ReportResource(sys, r.id, report(r.tenant, r.status))
			must(t, err)
		}
		_, err := res.SuspendResource(sys, "vm-3")
		must(t, err)
		_, err = res.DeleteResource(sys, "vm-4")
		must(t, err)
		_, err = a.Svc.Tenants.SuspendTenant(sys, "ten_a", "unpaid")
		must(t, err)
		rs = stats("after the tenant's suspension")
		want := steward.ResourceStats{Total: 4, HeldByTenant: 2, Stale: 0, StaleAfter: "2h0m0s",
			ByStatus: map[steward.ResourceStatus]int64{steward.ResourceProvisioning: 1, steward.ResourceRunning: 2,
				steward.ResourceStopped: 1, steward.ResourceSuspended: 0, steward.ResourceRestarting: 0,
				steward.ResourceError: 0, steward.ResourceTerminated: 0},
			ByDesired: map[steward.ResourceDesired]int64{steward.DesiredRunning: 0, steward.DesiredSuspended: 3,
				steward.DesiredDeleted: 1}}
		equalStats(t, "after the tenant's suspension", rs, want)

		// Time alone makes resources stale: vm-1 reports again, the rest not.
		a.Clock.Advance(90 * time.Minute)
		_, err = res.ReportResource(sys, "vm-1", report("ten_a", steward.ResourceSuspended))
		must(t, err)
		a.Clock.Advance(31 * time.Minute)
		want.Stale = 3
		want.ByStatus[steward.ResourceRunning], want.ByStatus[steward.ResourceSuspended] = 1, 1
		equalStats(t, "2h01m later", stats("2h01m later"), want)

		// The stale purge and the tenant's purge subtract.
		purged, err := res.PurgeStaleResources(sys, "")
		must(t, err)
		if purged.Purged != 3 {
			t.Fatalf("purged %+v", purged)
		}
		want = steward.ResourceStats{Total: 1, HeldByTenant: 1, StaleAfter: "2h0m0s",
			ByStatus:  map[steward.ResourceStatus]int64{steward.ResourceSuspended: 1},
			ByDesired: map[steward.ResourceDesired]int64{steward.DesiredSuspended: 1}}
		equalStats(t, "after the stale purge", stats("after the stale purge"), want)
		_, err = a.Svc.Tenants.DeleteTenant(sys, "ten_a", "gone")
		must(t, err)
		_, err = a.Svc.Tenants.PurgeTenant(sys, "ten_a", "gone")
		must(t, err)
		if rs := stats("after the tenant's purge"); rs.Total != 0 || rs.HeldByTenant != 0 || rs.ByDesired[steward.DesiredSuspended] != 0 {
			t.Fatalf("after the tenant's purge: %+v", rs)
		}
	}, apptest.Options{Service: func(c *service.Config) { c.ResourceStaleAfter = 2 * time.Hour }})
}

// equalStats compares resource figures, a status absent from want counting
// as 0.
func equalStats(t *testing.T, when string, got, want steward.ResourceStats) {
	t.Helper()
	same := got.Total == want.Total && got.HeldByTenant == want.HeldByTenant && got.Stale == want.Stale &&
		got.StaleAfter == want.StaleAfter
	for _, s := range steward.ResourceStatuses {
		same = same && got.ByStatus[s] == want.ByStatus[s]
	}
	for _, d := range []steward.ResourceDesired{steward.DesiredRunning, steward.DesiredSuspended, steward.DesiredDeleted} {
		same = same && got.ByDesired[d] == want.ByDesired[d]
	}
	if !same {
		t.Fatalf("%s: resources %+v, want %+v", when, got, want)
	}
}

// TestCheckCountersCoversResources: a resource counter corrupted in the
// database is found by the doctor's check and set back to its recount by
// the repair, after which Stats agrees with the rows again.
func TestCheckCountersCoversResources(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		ctx := context.Background()
		a.EnsureTenant(t, "ten_a")
		_, err := a.Svc.Resources.ReportResource(apptest.System(), "vm-1", report("ten_a", steward.ResourceRunning))
		must(t, err)
		_, err = a.Svc.Tenants.SuspendTenant(apptest.System(), "ten_a", "r")
		must(t, err)
		a.Backend.Exec(t, a.Store, "INSERT INTO stat_counters (name, key, shard, value) VALUES ('resources.held', '', 99, 4)")
		a.Backend.Exec(t, a.Store, "INSERT INTO stat_counters (name, key, shard, value) VALUES ('resources.status', 'error', 98, 2)")
		want := "[{resources.held  5 1} {resources.status error 2 0}]"
		got, err := a.Svc.Overview.CheckCounters(ctx, false)
		must(t, err)
		if fmt.Sprint(got) != want {
			t.Fatalf("CheckCounters = %v, want %v", got, want)
		}
		got, err = a.Svc.Overview.CheckCounters(ctx, true)
		must(t, err)
		if fmt.Sprint(got) != want {
			t.Fatalf("CheckCounters(repair) = %v, want %v", got, want)
		}
		if rs := checkStats(t, a, "after the repair").Resources; rs.HeldByTenant != 1 || rs.ByStatus[steward.ResourceError] != 0 {
			t.Fatalf("after the repair: %+v", rs)
		}
	})
}
