package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// testResourceCounters moves resources through first reports, reports
// that change the status, heartbeats that change nothing counted, a
// tenant's hold and release, a stale purge, a rolled-back write and the
// tenant's purge: after each step the resource counters hold the expected
// figures and equal their recount (deletes subtract).
func testResourceCounters(t *testing.T, s store.Store) {
	ctx := t.Context()
	figures := func(when string, want map[store.Counter]int64) {
		t.Helper()
		got := checkCounters(t, s, when)
		res := map[store.Counter]int64{}
		for c, n := range got {
			switch c.Name {
			case store.CounterResourceStatus, store.CounterResourceDesired, store.CounterResourceHeld:
				res[c] = n
			}
		}
		equal(t, when, res, want)
	}
	status, desired, held := store.CounterResourceStatus, store.CounterResourceDesired, store.CounterResourceHeld
	createTenants(t, s, newTenant(1), newTenant(2))
	figures("no resources", map[store.Counter]int64{})

	var rs []*steward.Resource
	for i := 1; i <= 4; i++ {
		rs = append(rs, newResource(i, tenantID(1+i%2))) // vm-01, vm-03 of tenant 2
	}
	rs[3].Status, rs[3].DesiredStatus = steward.ResourceStopped, steward.DesiredSuspended
	putResources(t, s, rs...)
	figures("first reports", map[store.Counter]int64{
		c(status, "running"): 3, c(status, "stopped"): 1, c(desired, "running"): 3, c(desired, "suspended"): 1})

	// A heartbeat: the same status, a new last_seen_at and metadata.
	rs[0].LastSeenAt, rs[0].Metadata = at(time.Hour), map[string]any{"load": 1.0}
	rs[1].Status, rs[1].LastSeenAt = steward.ResourceError, at(time.Hour)
	putResources(t, s, rs[0], rs[1])
	figures("a heartbeat and a status change", map[store.Counter]int64{
		c(status, "running"): 2, c(status, "error"): 1, c(status, "stopped"): 1,
		c(desired, "running"): 3, c(desired, "suspended"): 1})

	// Tenant 1 holds vm-02 (running); vm-04 is suspended on its own.
	update(t, s, func(tx store.Tx) error {
		_, err := tx.HoldTenantResources(ctx, tenantID(1), "usr_op", at(time.Hour))
		return err
	})
	figures("tenant hold", map[store.Counter]int64{
		c(status, "running"): 2, c(status, "error"): 1, c(status, "stopped"): 1,
		c(desired, "running"): 2, c(desired, "suspended"): 2, c(held, ""): 1})

	// A write that rolls back moves nothing.
	errUndo := errors.New("undo")
	if err := s.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.ReleaseTenantResources(ctx, tenantID(1), "usr_op", at(time.Hour)); err != nil {
			return err
		}
		return errUndo
	}); !errors.Is(err, errUndo) {
		t.Fatalf("rolled back release: %v", err)
	}
	figures("rolled back release", map[store.Counter]int64{
		c(status, "running"): 2, c(status, "error"): 1, c(status, "stopped"): 1,
		c(desired, "running"): 2, c(desired, "suspended"): 2, c(held, ""): 1})

	// The stale purge erases vm-03 (last seen at 3m; vm-01 and vm-02 at 1h).
	update(t, s, func(tx store.Tx) error {
		_, err := tx.PurgeStaleResources(ctx, at(3*time.Minute+time.Second), 10)
		return err
	})
	figures("stale purge", map[store.Counter]int64{
		c(status, "running"): 1, c(status, "error"): 1, c(status, "stopped"): 1,
		c(desired, "running"): 1, c(desired, "suspended"): 2, c(held, ""): 1})

	// Purging tenant 1 erases vm-02 (held) and vm-04 with it.
	update(t, s, func(tx store.Tx) error { _, err := tx.PurgeTenant(ctx, tenantID(1)); return err })
	figures("tenant purge", map[store.Counter]int64{c(status, "running"): 1, c(desired, "running"): 1})
}

// testCountStaleResources: resources last seen strictly before the cutoff.
func testCountStaleResources(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenants(t, s, newTenant(1))
	for i := 1; i <= 5; i++ {
		putResources(t, s, newResource(i, tenantID(1))) // last seen at i minutes
	}
	for _, tc := range []struct {
		cutoff time.Time
		want   int64
	}{{at(0), 0}, {at(time.Minute), 0}, {at(3*time.Minute + time.Second), 3}, {at(time.Hour), 5}} {
		n, err := s.CountStaleResources(ctx, tc.cutoff)
		must(t, "CountStaleResources", err)
		equal(t, "stale before "+tc.cutoff.Sub(t0).String(), n, tc.want)
	}
}

// testTenantResourceCounts: CountTenantHolds counts the tenant's resources
// held by its suspension (not an operator's own suspension, not another
// tenant's), and PurgeTenant counts the resources it erases, whatever
// their state, and only the tenant's.
func testTenantResourceCounts(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenants(t, s, newTenant(1), newTenant(2))
	run, own, gone, other := newResource(1, tenantID(1)), newResource(2, tenantID(1)), newResource(3, tenantID(1)), newResource(4, tenantID(2))
	run2 := newResource(5, tenantID(1))
	own.DesiredStatus, gone.DesiredStatus = steward.DesiredSuspended, steward.DesiredDeleted
	putResources(t, s, run, run2, own, gone, other)
	equal(t, "holds before the hold", holds(t, s, tenantID(1)), steward.TenantHoldCounts{})
	update(t, s, func(tx store.Tx) error {
		for _, tn := range []string{tenantID(1), tenantID(2)} {
			if _, err := tx.HoldTenantResources(ctx, tn, "usr_op", at(time.Hour)); err != nil {
				return err
			}
		}
		return nil
	})
	equal(t, "holds of tenant 1", holds(t, s, tenantID(1)), steward.TenantHoldCounts{Resources: 2})
	equal(t, "holds of tenant 2", holds(t, s, tenantID(2)), steward.TenantHoldCounts{Resources: 1})

	var c steward.TenantPurgeCounts
	update(t, s, func(tx store.Tx) (err error) {
		c, err = tx.PurgeTenant(ctx, tenantID(1))
		return err
	})
	equal(t, "PurgeTenant counts", c, steward.TenantPurgeCounts{Resources: 4})
	left, err := s.ListResources(ctx, steward.ResourceFilter{}, "", 10)
	must(t, "ListResources", err)
	equal(t, "resources left", resourceIDs(left), []string{"vm-04"})
	equal(t, "holds after the purge", holds(t, s, tenantID(1)), steward.TenantHoldCounts{})
}
