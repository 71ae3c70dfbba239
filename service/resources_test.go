package service_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
	"github.com/stewardhq/steward/service"
)

func report(tid string, status steward.ResourceStatus) *steward.ResourceReport {
	return &steward.ResourceReport{Kind: "computer", TenantID: tid, Status: status}
}

// wantErr fails unless err has code and, when field is not "", names field.
func wantResourceErr(t *testing.T, what string, err error, code, field string) {
	t.Helper()
	e, ok := err.(*steward.Error)
	if !ok || e.Code != code {
		t.Fatalf("%s: %v, want %s", what, err, code)
	}
	if field != "" {
		fields, _ := e.Details["fields"].(map[string]any)
		if _, ok := fields[field]; !ok {
			t.Fatalf("%s: %v names %v, want %s", what, err, e.Details, field)
		}
	}
}

func resourceAudits(t *testing.T, a *apptest.App, action, target string) int {
	t.Helper()
	es, err := a.Store.ListAudit(context.Background(), steward.AuditFilter{Action: action, TargetID: target, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return len(es)
}

// TestResourceReportRules: every field is validated, naming it; the first
// report creates the resource wanted running; a heartbeat moves
// last_seen_at without an audit entry, a change of status is audited; the
// tenant cannot change and the user must be a member of it.
func TestResourceReportRules(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		sys, res := apptest.System(), a.Svc.Resources
		a.EnsureTenant(t, "ten_a")
		a.EnsureTenant(t, "ten_b")
		member := a.User(steward.RoleUser, func(in *steward.UserCreate) { in.TenantID = "ten_a" })
		stranger := a.User(steward.RoleUser, func(in *steward.UserCreate) { in.TenantID = "ten_b" })

		deep := map[string]any{}
		for cur, i := deep, 0; i < 40; i++ {
			next := map[string]any{}
			cur["x"], cur = next, next
		}
		for _, c := range []struct {
			id    string
			mod   func(*steward.ResourceReport)
			field string
		}{
			{"a/b", nil, "id"},
			{strings.Repeat("a", 129), nil, "id"},
			{"vm-1", func(r *steward.ResourceReport) { r.Kind = "" }, "kind"},
			{"vm-1", func(r *steward.ResourceReport) { r.Kind = "Big Box" }, "kind"},
			{"vm-1", func(r *steward.ResourceReport) { r.TenantID = "" }, "tenant_id"},
			{"vm-1", func(r *steward.ResourceReport) { r.TenantID = "ten_nope" }, "tenant_id"},
			{"vm-1", func(r *steward.ResourceReport) { r.Status = "" }, "status"},
			{"vm-1", func(r *steward.ResourceReport) { r.Status = "on" }, "status"},
			{"vm-1", func(r *steward.ResourceReport) { r.Name = strings.Repeat("n", 201) }, "name"},
			{"vm-1", func(r *steward.ResourceReport) { r.Name = "a\x00b" }, "name"},
			{"vm-1", func(r *steward.ResourceReport) { r.Metadata = deep }, "metadata"},
			{"vm-1", func(r *steward.ResourceReport) { r.Metadata = map[string]any{"s": strings.Repeat("x", 70_000)} }, "metadata"},
			{"vm-1", func(r *steward.ResourceReport) { r.UserID = "usr_nope" }, "user_id"},
			{"vm-1", func(r *steward.ResourceReport) { r.UserID = stranger.ID }, "user_id"},
		} {
			in := report("ten_a", steward.ResourceRunning)
			if c.mod != nil {
				c.mod(in)
			}
			_, err := res.ReportResource(sys, c.id, in)
			wantResourceErr(t, fmt.Sprintf("report %s %+v", c.id, in), err, steward.CodeValidation, c.field)
		}

		in := report("ten_a", steward.ResourceProvisioning)
		in.UserID, in.Name, in.Metadata = member.ID, "Box", map[string]any{"cpu": 2.0}
		r, err := res.ReportResource(sys, "vm-1", in)
		if err != nil {
			t.Fatal(err)
		}
		if r.DesiredStatus != steward.DesiredRunning || r.HeldByTenant || !r.LastSeenAt.Equal(a.Clock.Now()) || r.UserID != member.ID {
			t.Fatalf("first report: %+v", r)
		}
		if n := resourceAudits(t, a, "resource.reported", "vm-1"); n != 1 {
			t.Fatalf("%d resource.reported entries after the first report, want 1", n)
		}
		a.Clock.Advance(time.Minute)
		in.Metadata = map[string]any{"cpu": 3.0} // metadata alone: a heartbeat
		if r, err = res.ReportResource(sys, "vm-1", in); err != nil {
			t.Fatal(err)
		}
		if !r.LastSeenAt.Equal(a.Clock.Now().Truncate(time.Microsecond)) || r.Metadata["cpu"] != 3.0 {
			t.Fatalf("heartbeat: %+v", r)
		}
		if n := resourceAudits(t, a, "resource.reported", "vm-1"); n != 1 {
			t.Fatalf("%d resource.reported entries after a heartbeat, want still 1", n)
		}
		in.Status = steward.ResourceRunning
		if _, err = res.ReportResource(sys, "vm-1", in); err != nil {
			t.Fatal(err)
		}
		if n := resourceAudits(t, a, "resource.reported", "vm-1"); n != 2 {
			t.Fatalf("%d resource.reported entries after a status change, want 2", n)
		}
		in.TenantID = "ten_b"
		in.UserID = ""
		_, err = res.ReportResource(sys, "vm-1", in)
		wantResourceErr(t, "moving the resource to another tenant", err, steward.CodeValidation, "tenant_id")

		// The platform read is the stored row, desired state included.
		got, err := res.PlatformResource(sys, "vm-1")
		if err != nil || got.Status != steward.ResourceRunning || got.DesiredStatus != steward.DesiredRunning {
			t.Fatalf("PlatformResource: %+v, %v", got, err)
		}
		_, err = res.PlatformResource(sys, "vm-2")
		wantResourceErr(t, "reading a missing resource", err, steward.CodeNotFound, "")

		// A support operator may read but not report or act.
		sup := apptest.As(a.User(steward.RoleSupport))
		if _, err := res.GetResource(sup, "vm-1"); err != nil {
			t.Fatal(err)
		}
		_, err = res.ReportResource(sup, "vm-1", in)
		wantResourceErr(t, "support reports", err, steward.CodeForbidden, "")
		_, err = res.SuspendResource(sup, "vm-1")
		wantResourceErr(t, "support suspends", err, steward.CodeForbidden, "")
	})
}

// TestResourceDesiredState: suspend, resume, restart and delete set the
// desired state beside the reported one, each audited with its action;
// a request that does not apply is INVALID_STATE and changes nothing.
func TestResourceDesiredState(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		res := a.Svc.Resources
		admin := a.User(steward.RoleAdmin)
		ctx := apptest.As(admin)
		a.EnsureTenant(t, "ten_a")
		if _, err := res.ReportResource(apptest.System(), "vm-1", report("ten_a", steward.ResourceRunning)); err != nil {
			t.Fatal(err)
		}
		_, err := res.ResumeResource(ctx, "vm-1")
		wantResourceErr(t, "resume a running resource", err, steward.CodeInvalidState, "")
		r, err := res.RestartResource(ctx, "vm-1")
		if err != nil || r.RestartID == "" || r.RestartRequestedAt == nil || !r.RestartRequestedAt.Equal(a.Clock.Now()) {
			t.Fatalf("restart: %+v, %v", r, err)
		}
		first := r.RestartID
		a.Clock.Advance(time.Second)
		if r, err = res.RestartResource(ctx, "vm-1"); err != nil || r.RestartID == first {
			t.Fatalf("a second restart keeps id %s: %+v, %v", first, r, err)
		}
		if r, err = res.SuspendResource(ctx, "vm-1"); err != nil || r.DesiredStatus != steward.DesiredSuspended ||
			r.Status != steward.ResourceRunning || r.DesiredBy != admin.ID {
			t.Fatalf("suspend: %+v, %v", r, err)
		}
		_, err = res.SuspendResource(ctx, "vm-1")
		wantResourceErr(t, "suspend twice", err, steward.CodeInvalidState, "")
		_, err = res.RestartResource(ctx, "vm-1")
		wantResourceErr(t, "restart a suspended resource", err, steward.CodeInvalidState, "")
		if r, err = res.ResumeResource(ctx, "vm-1"); err != nil || r.DesiredStatus != steward.DesiredRunning {
			t.Fatalf("resume: %+v, %v", r, err)
		}
		if r, err = res.DeleteResource(ctx, "vm-1"); err != nil || r.DesiredStatus != steward.DesiredDeleted {
			t.Fatalf("delete: %+v, %v", r, err)
		}
		for what, f := range map[string]func(context.Context, string) (*steward.Resource, error){
			"suspend": res.SuspendResource, "resume": res.ResumeResource, "restart": res.RestartResource, "delete": res.DeleteResource,
		} {
			_, err = f(ctx, "vm-1")
			wantResourceErr(t, what+" a deleted resource", err, steward.CodeInvalidState, "")
			_, err = f(ctx, "vm-404")
			wantResourceErr(t, what+" a missing resource", err, steward.CodeNotFound, "")
		}
		for action, want := range map[string]int{"resource.restart_requested": 2, "resource.suspend_requested": 1,
			"resource.resume_requested": 1, "resource.delete_requested": 1} {
			if n := resourceAudits(t, a, action, "vm-1"); n != want {
				t.Errorf("%d %s entries, want %d", n, action, want)
			}
		}
		// The product still reports; the desired state stays deleted.
		if r, err = res.ReportResource(apptest.System(), "vm-1", report("ten_a", steward.ResourceTerminated)); err != nil ||
			r.DesiredStatus != steward.DesiredDeleted {
			t.Fatalf("report after delete: %+v, %v", r, err)
		}
	})
}

// TestResourceTenantCascade: suspending a tenant wants its running
// resources suspended; unsuspending wants running exactly those it
// suspended (not one an operator suspended before, nor one an operator
// suspended meanwhile); a resource first reported while the tenant is
// suspended is held too; delete and restore alike; purge erases them.
func TestResourceTenantCascade(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		sys, res := apptest.System(), a.Svc.Resources
		tn, err := a.Svc.Tenants.CreateTenant(sys, &steward.TenantCreate{Name: "Cascade", Plan: "scale"})
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"run", "own", "later", "gone"} {
			if _, err := res.ReportResource(sys, id, report(tn.ID, steward.ResourceRunning)); err != nil {
				t.Fatal(err)
			}
		}
		mustR := func(r *steward.Resource, err error) *steward.Resource {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		mustR(res.SuspendResource(sys, "own"))
		mustR(res.DeleteResource(sys, "gone"))
		c, err := a.Svc.Tenants.SuspendTenant(sys, tn.ID, "unpaid")
		if err != nil || c.ResourcesSuspended != 2 {
			t.Fatalf("suspend tenant: %+v, %v; want 2 resources suspended", c, err)
		}
		desired := func(id string) (steward.ResourceDesired, bool) {
			t.Helper()
			r := mustR(res.GetResource(sys, id))
			return r.DesiredStatus, r.HeldByTenant
		}
		check := func(what string, want map[string]steward.ResourceDesired) {
			t.Helper()
			for id, w := range want {
				if d, _ := desired(id); d != w {
					t.Errorf("%s: %s wanted %s, want %s", what, id, d, w)
				}
			}
		}
		check("suspended", map[string]steward.ResourceDesired{"run": "suspended", "own": "suspended", "later": "suspended", "gone": "deleted"})
		if _, held := desired("own"); held {
			t.Error("the tenant holds a resource an operator suspended before")
		}
		// First reported while suspended: held.
		if r := mustR(res.ReportResource(sys, "new", report(tn.ID, steward.ResourceProvisioning))); r.DesiredStatus != steward.DesiredSuspended || !r.HeldByTenant {
			t.Fatalf("reported while suspended: %+v", r)
		}
		_, err = res.ResumeResource(sys, "run")
		wantResourceErr(t, "resume under a suspended tenant", err, steward.CodeInvalidState, "")
		// An operator suspends a held one: it becomes their own.
		mustR(res.SuspendResource(sys, "later"))
		c, err = a.Svc.Tenants.UnsuspendTenant(sys, tn.ID)
		if err != nil || c.ResourcesRestored != 2 {
			t.Fatalf("unsuspend: %+v, %v; want 2 resources restored", c, err)
		}
		check("unsuspended", map[string]steward.ResourceDesired{"run": "running", "new": "running", "own": "suspended",
			"later": "suspended", "gone": "deleted"})

		if c, err = a.Svc.Tenants.DeleteTenant(sys, tn.ID, "closed"); err != nil || c.ResourcesSuspended != 2 {
			t.Fatalf("delete tenant: %+v, %v", c, err)
		}
		check("deleted", map[string]steward.ResourceDesired{"run": "suspended", "new": "suspended", "own": "suspended"})
		if c, err = a.Svc.Tenants.RestoreTenant(sys, tn.ID); err != nil || c.ResourcesRestored != 2 {
			t.Fatalf("restore tenant: %+v, %v", c, err)
		}
		check("restored", map[string]steward.ResourceDesired{"run": "running", "new": "running", "own": "suspended"})
		es, err := a.Store.ListAudit(context.Background(), steward.AuditFilter{Action: "tenant.suspend", TargetID: tn.ID, Limit: 1})
		if err != nil || len(es) != 1 || !strings.Contains(string(es[0].Metadata), `"resources_suspended":2`) {
			t.Fatalf("tenant.suspend entry: %v, %v", es, err)
		}

		if _, err := a.Svc.Tenants.PurgeTenant(sys, tn.ID, "gdpr"); err != nil {
			t.Fatal(err)
		}
		_, err = res.GetResource(sys, "run")
		wantResourceErr(t, "a purged tenant's resource", err, steward.CodeNotFound, "")
	})
}

// TestResourcePurgeStale: the configured default decides what is stale
// unless older_than says; each resource erased is audited; a bad
// older_than is 422 naming it; only tenants:delete may purge.
func TestResourcePurgeStale(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		sys, res := apptest.System(), a.Svc.Resources
		a.EnsureTenant(t, "ten_a")
		for _, id := range []string{"old-1", "old-2"} {
			if _, err := res.ReportResource(sys, id, report("ten_a", steward.ResourceRunning)); err != nil {
				t.Fatal(err)
			}
		}
		a.Clock.Advance(90 * time.Minute)
		if _, err := res.ReportResource(sys, "fresh", report("ten_a", steward.ResourceRunning)); err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"soon", "-1h", "30s", "0"} {
			_, err := res.PurgeStaleResources(sys, bad)
			wantResourceErr(t, "older_than "+bad, err, steward.CodeValidation, "older_than")
		}
		_, err := res.PurgeStaleResources(apptest.As(a.User(steward.RoleAdmin)), "")
		wantResourceErr(t, "an admin purges", err, steward.CodeForbidden, "")

		out, err := res.PurgeStaleResources(sys, "") // the configured 2h: nothing
		if err != nil || out.Purged != 0 || len(out.IDs) != 0 {
			t.Fatalf("purge with the default: %+v, %v", out, err)
		}
		a.Clock.Advance(time.Hour) // old-* unseen 150m, fresh 60m
		if out, err = res.PurgeStaleResources(sys, ""); err != nil || out.Purged != 2 || strings.Join(out.IDs, ",") != "old-1,old-2" {
			t.Fatalf("purge with the default: %+v, %v", out, err)
		}
		if out, err = res.PurgeStaleResources(sys, "59m"); err != nil || strings.Join(out.IDs, ",") != "fresh" {
			t.Fatalf("purge older_than 59m: %+v, %v", out, err)
		}
		for _, id := range []string{"old-1", "old-2", "fresh"} {
			if n := resourceAudits(t, a, "resource.purged", id); n != 1 {
				t.Errorf("%s: %d resource.purged entries, want 1", id, n)
			}
		}
	}, apptest.Options{Service: func(c *service.Config) { c.ResourceStaleAfter = 2 * time.Hour }})
}
