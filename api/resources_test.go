package api_test

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
)

func resourcesKey(t *testing.T, a *apptest.App, scopes ...steward.Permission) string {
	t.Helper()
	k, err := a.Svc.Keys.CreateKey(apptest.As(a.Root), &steward.KeyCreate{Name: "resources", Type: steward.KeyPlatform, Scopes: scopes})
	if err != nil {
		t.Fatal(err)
	}
	return k.Key
}

func wantStatus(t *testing.T, what string, r *apptest.Response, status int, field string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("%s: %d %s, want %d", what, r.Status, r.Raw, status)
	}
	if field != "" && r.Get("details.fields."+field) == nil {
		t.Fatalf("%s: %s does not name %s", what, r.Raw, field)
	}
}

// TestResourcesPlatformReport: the product reports with a resources:write
// key; every bad field is 422 naming it (type errors 400 naming it); the
// answer and the platform read carry the desired state; a key without the
// scope is refused and records nothing.
func TestResourcesPlatformReport(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		pk := resourcesKey(t, a, steward.PermResourcesWrite)
		a.EnsureTenant(t, "ten_res")
		const path = "/api/v1/platform/resources/"
		ok := M{"kind": "computer", "tenant_id": "ten_res", "status": "running", "name": "Box 1", "metadata": M{"region": "eu"}}
		with := func(k string, v any) M {
			m := M{}
			for kk, vv := range ok {
				m[kk] = vv
			}
			m[k] = v
			return m
		}
		for _, c := range []struct {
			id     string
			body   any
			status int
			field  string
		}{
			{url.PathEscape("a b"), ok, 422, "id"},
			{"vm-1", with("status", "on"), 422, "status"},
			{"vm-1", with("kind", ""), 422, "kind"},
			{"vm-1", with("tenant_id", "ten_missing"), 422, "tenant_id"},
			{"vm-1", with("user_id", "usr_missing"), 422, "user_id"},
			{"vm-1", with("metadata", M{"a": string(make([]byte, 70_000))}), 422, "metadata"},
			{"vm-1", with("metadata", []int{1}), 400, "metadata"},
			{"vm-1", with("status", 3), 400, "status"},
			{"vm-1", with("color", "red"), 400, "color"},
		} {
			wantStatus(t, fmt.Sprintf("PUT %s %v", c.id, c.body), a.Do("PUT", path+c.id, pk, c.body), c.status, c.field)
		}
		wantStatus(t, "GET before any report", a.Do("GET", path+"vm-1", pk, nil), 404, "")
		wantStatus(t, "GET of an id outside the class", a.Do("GET", path+url.PathEscape("a b"), pk, nil), 404, "")
		// Dots and colons are in the class, wider than Steward's own ids.
		if r := a.Do("PUT", path+"ns:pod.0", pk, ok); r.Status != 200 || r.Get("id") != "ns:pod.0" {
			t.Fatalf("PUT ns:pod.0: %d %s", r.Status, r.Raw)
		}
		if r := a.Do("GET", "/api/v1/admin/computers/ns:pod.0", a.RootToken, nil); r.Status != 200 {
			t.Fatalf("GET ns:pod.0: %d %s", r.Status, r.Raw)
		}

		r := a.Do("PUT", path+"vm-1", pk, ok)
		wantStatus(t, "first report", r, 200, "")
		if r.Get("desired_status") != "running" || r.Get("held_by_tenant") != false || r.Get("metadata.region") != "eu" ||
			r.Get("last_seen_at") != a.Clock.Now().Format(time.RFC3339) {
			t.Fatalf("first report: %s", r.Raw)
		}
		a.Clock.Advance(time.Minute)
		r = a.Do("GET", path+"vm-1", pk, nil)
		if r.Status != 200 || r.Get("status") != "running" || r.Get("desired_status") != "running" {
			t.Fatalf("platform read: %d %s", r.Status, r.Raw)
		}

		other := resourcesKey(t, a, steward.PermUsageWrite)
		wantStatus(t, "PUT without resources:write", a.Do("PUT", path+"vm-2", other, ok), 403, "")
		wantStatus(t, "GET without resources:write", a.Do("GET", path+"vm-1", other, nil), 403, "")
		wantStatus(t, "vm-2 after the refused PUT", a.Do("GET", path+"vm-2", pk, nil), 404, "")
	})
}

// TestResourcesAdminAndCascade: operators list (filters, keyset paging),
// read and act on computers; the product reads back what they set; a
// tenant's suspension wants its running resources suspended and its
// unsuspension restores exactly those; purge-stale takes the configured
// default.
func TestResourcesAdminAndCascade(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		pk := resourcesKey(t, a, steward.PermResourcesWrite)
		root := a.RootToken
		tr := a.Do("POST", "/api/v1/admin/tenants", root, M{"name": "Computers Inc"})
		wantStatus(t, "create tenant", tr, 201, "")
		tid := str(tr, "id")
		a.EnsureTenant(t, "ten_other")
		for _, c := range []struct{ id, tenant, status string }{
			{"c-1", tid, "running"}, {"c-2", tid, "stopped"}, {"c-3", tid, "running"}, {"c-4", "ten_other", "running"},
		} {
			wantStatus(t, "report "+c.id, a.Do("PUT", "/api/v1/platform/resources/"+c.id, pk,
				M{"kind": "computer", "tenant_id": c.tenant, "status": c.status}), 200, "")
		}
		const admin = "/api/v1/admin/computers"
		ids := func(r *apptest.Response) []string {
			var out []string
			for _, d := range r.Get("data").([]any) {
				out = append(out, d.(map[string]any)["id"].(string))
			}
			return out
		}
		p1 := a.Do("GET", admin+"?tenant_id="+tid+"&limit=2", root, nil)
		wantStatus(t, "first page", p1, 200, "")
		if fmt.Sprint(ids(p1)) != "[c-1 c-2]" || p1.Get("has_more") != true {
			t.Fatalf("first page: %s", p1.Raw)
		}
		p2 := a.Do("GET", admin+"?tenant_id="+tid+"&limit=2&cursor="+str(p1, "next_cursor"), root, nil)
		if fmt.Sprint(ids(p2)) != "[c-3]" || p2.Get("has_more") != false {
			t.Fatalf("second page: %s", p2.Raw)
		}
		if r := a.Do("GET", admin+"?status=running&kind=computer", root, nil); fmt.Sprint(ids(r)) != "[c-1 c-3 c-4]" {
			t.Fatalf("running computers: %s", r.Raw)
		}
		wantStatus(t, "unknown status", a.Do("GET", admin+"?status=on", root, nil), 422, "status")
		wantStatus(t, "undeclared query", a.Do("GET", admin+"?colour=red", root, nil), 400, "")

		wantStatus(t, "suspend c-3", a.Do("POST", admin+"/c-3/suspend", root, nil), 200, "")
		sus := a.Do("POST", "/api/v1/admin/tenants/"+tid+"/suspend", root, M{"reason": "unpaid"})
		if sus.Status != 200 || num(sus, "resources_suspended") != 2 {
			t.Fatalf("tenant suspend: %s", sus.Raw)
		}
		if r := a.Do("GET", "/api/v1/platform/resources/c-1", pk, nil); r.Get("desired_status") != "suspended" || r.Get("held_by_tenant") != true {
			t.Fatalf("c-1 under the suspended tenant: %s", r.Raw)
		}
		wantStatus(t, "resume under a suspended tenant", a.Do("POST", admin+"/c-1/resume", root, nil), 409, "")
		un := a.Do("POST", "/api/v1/admin/tenants/"+tid+"/unsuspend", root, nil)
		if un.Status != 200 || num(un, "resources_restored") != 2 {
			t.Fatalf("tenant unsuspend: %s", un.Raw)
		}
		for id, want := range map[string]string{"c-1": "running", "c-2": "running", "c-3": "suspended", "c-4": "running"} {
			if r := a.Do("GET", "/api/v1/platform/resources/"+id, pk, nil); r.Get("desired_status") != want {
				t.Errorf("%s after unsuspend: %s, want desired %s", id, r.Raw, want)
			}
		}

		rs := a.Do("POST", admin+"/c-1/restart", root, nil)
		if rs.Status != 200 || str(rs, "restart_id") == "" {
			t.Fatalf("restart: %s", rs.Raw)
		}
		if r := a.Do("GET", "/api/v1/platform/resources/c-1", pk, nil); str(r, "restart_id") != str(rs, "restart_id") {
			t.Fatalf("the product reads restart_id %v, want %s", r.Get("restart_id"), str(rs, "restart_id"))
		}
		wantStatus(t, "delete c-2", a.Do("DELETE", admin+"/c-2", root, nil), 200, "")
		if r := a.Do("GET", admin+"/c-2", root, nil); r.Get("desired_status") != "deleted" {
			t.Fatalf("c-2 after delete: %s", r.Raw)
		}
		wantStatus(t, "delete twice", a.Do("DELETE", admin+"/c-2", root, nil), 409, "")
		wantStatus(t, "missing", a.Do("GET", admin+"/nope", root, nil), 404, "")

		wantStatus(t, "bad older_than", a.Do("POST", admin+"/purge-stale", root, M{"older_than": "a while"}), 422, "older_than")
		a.Clock.Advance(8 * 24 * time.Hour) // past the default 168h
		wantStatus(t, "heartbeat c-4", a.Do("PUT", "/api/v1/platform/resources/c-4", pk,
			M{"kind": "computer", "tenant_id": "ten_other", "status": "running"}), 200, "")
		pr := a.Do("POST", admin+"/purge-stale", root, nil)
		if pr.Status != 200 || num(pr, "purged") != 3 || fmt.Sprint(pr.Get("ids")) != "[c-1 c-2 c-3]" {
			t.Fatalf("purge-stale: %s", pr.Raw)
		}
		if r := a.Do("GET", admin, root, nil); fmt.Sprint(ids(r)) != "[c-4]" {
			t.Fatalf("left after the purge: %s", r.Raw)
		}
	})
}
