package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

func newResource(n int, tenantID string) *steward.Resource {
	return &steward.Resource{ID: fmt.Sprintf("vm-%02d", n), Kind: "computer", TenantID: tenantID,
		Name: fmt.Sprintf("Machine %d", n), Status: steward.ResourceRunning, Metadata: map[string]any{},
		LastSeenAt: at(time.Duration(n) * time.Minute), DesiredStatus: steward.DesiredRunning, DesiredAt: at(0),
		CreatedAt: at(0), UpdatedAt: at(0)}
}

func putResources(t *testing.T, s store.Store, rs ...*steward.Resource) {
	t.Helper()
	update(t, s, func(tx store.Tx) error {
		for _, r := range rs {
			if err := tx.PutResource(t.Context(), r); err != nil {
				return err
			}
		}
		return nil
	})
}

func resourceIDs(rs []*steward.Resource) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

// testResources: a resource round-trips every column (user_id NULL as "",
// metadata as JSON, the restart request's time), a second put replaces
// it, reads inside a transaction work, and a missing one is ErrNotFound.
func testResources(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := newUser(1)
	u.TenantID = tenantID(1)
	createTenants(t, s, newTenant(1))
	createUsers(t, s, u)
	r := newResource(1, tenantID(1))
	putResources(t, s, r)
	got, err := s.GetResource(ctx, r.ID)
	must(t, "GetResource", err)
	equal(t, "resource", got, r)

	ra := at(time.Hour)
	r.UserID, r.Name, r.Status, r.Metadata = u.ID, "", steward.ResourceRestarting, map[string]any{"cpu": 2.0, "tags": []any{"a"}}
	r.DesiredStatus, r.DesiredAt, r.DesiredBy, r.HeldByTenant = steward.DesiredSuspended, ra, u.ID, true
	r.RestartID, r.RestartRequestedAt, r.LastSeenAt, r.UpdatedAt = "rst_1", &ra, ra, ra
	update(t, s, func(tx store.Tx) error {
		if _, err := tx.GetResource(ctx, r.ID); err != nil {
			return err
		}
		return tx.PutResource(ctx, r)
	})
	got, err = s.GetResource(ctx, r.ID)
	must(t, "GetResource", err)
	equal(t, "resource replaced", got, r)

	if _, err := s.GetResource(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetResource of a missing id: %v, want ErrNotFound", err)
	}

	// Purging the user unlinks the resource; purging the tenant erases it.
	update(t, s, func(tx store.Tx) error { return tx.PurgeUser(ctx, u.ID) })
	got, err = s.GetResource(ctx, r.ID)
	must(t, "GetResource after the user's purge", err)
	equal(t, "user_id after the user's purge", got.UserID, "")
	update(t, s, func(tx store.Tx) error { _, err := tx.PurgeTenant(ctx, tenantID(1)); return err })
	if _, err := s.GetResource(ctx, r.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetResource after the tenant's purge: %v, want ErrNotFound", err)
	}
}

// testResourceList: each filter alone and together, id ascending, paged
// by the last id.
func testResourceList(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenants(t, s, newTenant(1), newTenant(2))
	var all []*steward.Resource
	for i := 1; i <= 6; i++ {
		r := newResource(i, tenantID(1+i%2))
		if i%3 == 0 {
			r.Status, r.Kind = steward.ResourceStopped, "sandbox"
		}
		all = append(all, r)
	}
	putResources(t, s, all...)
	for _, c := range []struct {
		f    steward.ResourceFilter
		want []string
	}{
		{steward.ResourceFilter{}, []string{"vm-01", "vm-02", "vm-03", "vm-04", "vm-05", "vm-06"}},
		{steward.ResourceFilter{TenantID: tenantID(1)}, []string{"vm-02", "vm-04", "vm-06"}},
		{steward.ResourceFilter{Status: steward.ResourceStopped}, []string{"vm-03", "vm-06"}},
		{steward.ResourceFilter{Kind: "sandbox", TenantID: tenantID(2)}, []string{"vm-03"}},
		{steward.ResourceFilter{Kind: "nothing"}, []string{}},
	} {
		got, err := s.ListResources(ctx, c.f, "", 100)
		must(t, "ListResources", err)
		equal(t, fmt.Sprintf("ListResources(%+v)", c.f), resourceIDs(got), c.want)
	}
	page, err := s.ListResources(ctx, steward.ResourceFilter{}, "", 4)
	must(t, "ListResources", err)
	equal(t, "first page", resourceIDs(page), []string{"vm-01", "vm-02", "vm-03", "vm-04"})
	equal(t, "first page's rows", page[0], all[0])
	page, err = s.ListResources(ctx, steward.ResourceFilter{}, "vm-04", 4)
	must(t, "ListResources", err)
	equal(t, "second page", resourceIDs(page), []string{"vm-05", "vm-06"})
}

// testResourcePurgeStale: rows last seen before the cutoff go, the longest
// unseen first, at most limit per call.
func testResourcePurgeStale(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenants(t, s, newTenant(1))
	var rs []*steward.Resource
	for i := 1; i <= 5; i++ {
		rs = append(rs, newResource(i, tenantID(1))) // last seen at i minutes
	}
	rs[0].LastSeenAt = at(4 * time.Minute) // vm-01 is as stale as vm-04: id breaks the tie
	putResources(t, s, rs...)
	var gone []*steward.Resource
	update(t, s, func(tx store.Tx) (err error) {
		gone, err = tx.PurgeStaleResources(ctx, at(4*time.Minute+time.Second), 3)
		return err
	})
	equal(t, "first purge", resourceIDs(gone), []string{"vm-02", "vm-03", "vm-01"})
	equal(t, "a purged row as it was", gone[0], rs[1])
	update(t, s, func(tx store.Tx) (err error) {
		gone, err = tx.PurgeStaleResources(ctx, at(4*time.Minute+time.Second), 3)
		return err
	})
	equal(t, "second purge", resourceIDs(gone), []string{"vm-04"})
	left, err := s.ListResources(ctx, steward.ResourceFilter{}, "", 10)
	must(t, "ListResources", err)
	equal(t, "left", resourceIDs(left), []string{"vm-05"})
}

// testResourceHolds: the tenant hold moves only resources wanted running
// (an operator's own suspension and a deletion stay), release moves back
// only held rows still suspended, and clears every hold of the tenant.
func testResourceHolds(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenants(t, s, newTenant(1), newTenant(2))
	run, own, gone, other := newResource(1, tenantID(1)), newResource(2, tenantID(1)), newResource(3, tenantID(1)), newResource(4, tenantID(2))
	own.DesiredStatus, gone.DesiredStatus = steward.DesiredSuspended, steward.DesiredDeleted
	putResources(t, s, run, own, gone, other)
	var n int64
	update(t, s, func(tx store.Tx) (err error) {
		n, err = tx.HoldTenantResources(ctx, tenantID(1), "usr_op", at(time.Hour))
		return err
	})
	equal(t, "held", n, int64(1))
	get := func(id string) *steward.Resource {
		t.Helper()
		r, err := s.GetResource(ctx, id)
		must(t, "GetResource", err)
		return r
	}
	r := get(run.ID)
	equal(t, "held resource", [4]any{r.DesiredStatus, r.HeldByTenant, r.DesiredAt, r.DesiredBy},
		[4]any{steward.DesiredSuspended, true, at(time.Hour), "usr_op"})
	equal(t, "own suspension", get(own.ID).HeldByTenant, false)
	equal(t, "deleted", get(gone.ID).DesiredStatus, steward.DesiredDeleted)
	equal(t, "other tenant", get(other.ID).DesiredStatus, steward.DesiredRunning)

	// A held resource deleted meanwhile is not brought back, and loses its hold.
	r.DesiredStatus = steward.DesiredDeleted
	putResources(t, s, r, func() *steward.Resource {
		x := newResource(5, tenantID(1))
		x.DesiredStatus, x.HeldByTenant = steward.DesiredSuspended, true
		return x
	}())
	update(t, s, func(tx store.Tx) (err error) {
		n, err = tx.ReleaseTenantResources(ctx, tenantID(1), "usr_op", at(2*time.Hour))
		return err
	})
	equal(t, "released", n, int64(1))
	equal(t, "deleted while held", [2]any{get(run.ID).DesiredStatus, get(run.ID).HeldByTenant}, [2]any{steward.DesiredDeleted, false})
	r5 := get("vm-05")
	equal(t, "released resource", [3]any{r5.DesiredStatus, r5.HeldByTenant, r5.DesiredAt}, [3]any{steward.DesiredRunning, false, at(2 * time.Hour)})
	equal(t, "own suspension after release", get(own.ID).DesiredStatus, steward.DesiredSuspended)
}
