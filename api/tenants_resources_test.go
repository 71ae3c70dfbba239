package api_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
)

// TestTenantResourcesHeldAndPurged: the tenant detail's held.resources is
// how many of its resources its suspension holds (not one an operator
// suspended, not one wanted deleted, not another tenant's), and erasing the
// tenant erases its resources, counted as resources_purged in the answer
// and in the tenant.purge audit entry.
func TestTenantResourcesHeldAndPurged(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		sys := apptest.System()
		_, root := a.Operator(steward.RoleSuperAdmin)
		a.EnsureTenant(t, "ten_a")
		a.EnsureTenant(t, "ten_b")
		for _, r := range []struct{ id, tenant string }{{"vm-1", "ten_a"}, {"vm-2", "ten_a"}, {"vm-3", "ten_a"},
			{"vm-4", "ten_a"}, {"vm-5", "ten_b"}} {
			if _, err := a.Svc.Resources.ReportResource(sys, r.id,
				&steward.ResourceReport{Kind: "computer", TenantID: r.tenant, Status: steward.ResourceRunning}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := a.Svc.Resources.SuspendResource(sys, "vm-3"); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Svc.Resources.DeleteResource(sys, "vm-4"); err != nil {
			t.Fatal(err)
		}
		held := func(when, tid string, want float64) {
			t.Helper()
			r := a.Do("GET", "/api/v1/admin/tenants/"+tid+"/detail", root, nil)
			h, _ := r.Body["held"].(map[string]any)
			if r.Status != 200 || h["resources"] != want {
				t.Fatalf("%s: held %v, want resources %v: %d %s", when, h, want, r.Status, r.Raw)
			}
		}
		held("before the suspension", "ten_a", 0)
		for _, tid := range []string{"ten_a", "ten_b"} {
			if r := a.Do("POST", "/api/v1/admin/tenants/"+tid+"/suspend", root, map[string]any{"reason": "unpaid"}); r.Status != 200 {
				t.Fatalf("suspend %s: %d %s", tid, r.Status, r.Raw)
			}
		}
		held("suspended", "ten_a", 2) // vm-1 and vm-2
		held("the other tenant", "ten_b", 1)

		r := a.Do("DELETE", "/api/v1/admin/tenants/ten_a?purge=true&confirm=true", root, map[string]any{"reason": "gone"})
		if r.Status != 200 || r.Body["resources_purged"] != 4.0 {
			t.Fatalf("purge: %d %s", r.Status, r.Raw)
		}
		for _, id := range []string{"vm-1", "vm-4"} {
			if _, err := a.Store.GetResource(context.Background(), id); err == nil {
				t.Fatalf("%s is still stored after its tenant's purge", id)
			}
		}
		if _, err := a.Store.GetResource(context.Background(), "vm-5"); err != nil {
			t.Fatalf("another tenant's resource: %v", err)
		}
		es, err := a.Store.ListAudit(context.Background(), steward.AuditFilter{Action: "tenant.purge", Limit: 10})
		if err != nil || len(es) != 1 {
			t.Fatalf("tenant.purge entries: %d, %v", len(es), err)
		}
		var meta map[string]any
		if err := json.Unmarshal(es[0].Metadata, &meta); err != nil || meta["resources_purged"] != 4.0 {
			t.Fatalf("tenant.purge metadata %s: %v", es[0].Metadata, err)
		}
	})
}
