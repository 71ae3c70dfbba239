package api_test

import (
	"strings"
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
)

// fieldMsg is details.fields[name] of an error answer (names hold dots).
func fieldMsg(r *apptest.Response, name string) string {
	fields, _ := r.Get("details.fields").(map[string]any)
	s, _ := fields[name].(string)
	return s
}

// TestFeatureEndpoints: the tenant and user features endpoints over HTTP on
// both stores — the answer's four parts, 422 naming the key with what the
// tier may set, 404 for a missing target, 400 for a body that is not an
// object — and GET /platform/features for a product.
func TestFeatureEndpoints(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		root := a.RootToken
		tn, err := a.Svc.Tenants.CreateTenant(apptest.System(), &steward.TenantCreate{Name: "Flags", Plan: "pro"})
		if err != nil {
			t.Fatal(err)
		}
		u := a.User(steward.RoleUser, func(in *steward.UserCreate) { in.TenantID = tn.ID })
		tpath, upath := "/api/v1/admin/tenants/"+tn.ID+"/features", "/api/v1/admin/users/"+u.ID+"/features"

		r := a.Do("GET", tpath, root, nil)
		if r.Status != 200 || r.Get("effective.sso") != true || r.Get("explain.sso") != "plan" ||
			r.Get("explain.audit_log_days") != "plan" || len(r.Get("toggleable").([]any)) != 4 || r.Get("overrides") == nil {
			t.Fatalf("GET tenant features: %d %s", r.Status, r.Raw)
		}
		r = a.Do("PUT", tpath, root, map[string]any{"nope": 1, "audit_log_days": "long"})
		if r.Status != 422 || !strings.Contains(fieldMsg(r, "features.nope"), "the tenant tier may set: api_access, audit_log_days, priority_support, sso") ||
			fieldMsg(r, "features.audit_log_days") != "want a whole number" {
			t.Fatalf("PUT bad tenant features: %d %s", r.Status, r.Raw)
		}
		r = a.Do("PUT", tpath, root, map[string]any{"audit_log_days": 400})
		if r.Status != 200 || r.Get("effective.audit_log_days") != 400.0 || r.Get("explain.audit_log_days") != "tenant" {
			t.Fatalf("PUT tenant features: %d %s", r.Status, r.Raw)
		}
		r = a.Do("PUT", upath, root, map[string]any{"sso": false})
		if r.Status != 422 || !strings.Contains(fieldMsg(r, "features.sso"), "cannot be set at the user tier (allowed: platform, plan, tenant)") {
			t.Fatalf("PUT user features at a tier the flag refuses: %d %s", r.Status, r.Raw)
		}
		r = a.Do("PUT", upath, root, map[string]any{"api_access": false})
		if r.Status != 200 || r.Get("effective.api_access") != false || r.Get("explain.api_access") != "user" ||
			r.Get("effective.audit_log_days") != 400.0 || r.Get("overrides.api_access") != false {
			t.Fatalf("PUT user features: %d %s", r.Status, r.Raw)
		}
		if r = a.Do("GET", upath, root, nil); r.Status != 200 || r.Get("explain.api_access") != "user" {
			t.Fatalf("GET user features: %d %s", r.Status, r.Raw)
		}
		for _, p := range []string{"/api/v1/admin/users/usr_missing/features", "/api/v1/admin/tenants/ten_missing/features"} {
			if r = a.Do("GET", p, root, nil); r.Status != 404 || r.Get("code") != steward.CodeNotFound {
				t.Fatalf("GET %s: %d %s", p, r.Status, r.Raw)
			}
		}
		if r = a.Do("PUT", upath, root, `[1]`); r.Status != 400 {
			t.Fatalf("PUT an array: %d %s", r.Status, r.Raw)
		}
		r = a.Do("PUT", "/api/v1/admin/config", root, map[string]any{"features": map[string]any{"api_access": "x"}})
		if r.Status != 422 || fieldMsg(r, "features.api_access") != "want true or false" {
			t.Fatalf("PUT /admin/config features: %d %s", r.Status, r.Raw)
		}

		k, err := a.Svc.Keys.CreateKey(apptest.System(), &steward.KeyCreate{Name: "product", Type: steward.KeyPlatform,
			UserID: a.Root.ID, Scopes: []steward.Permission{steward.PermFeaturesRead}})
		if err != nil {
			t.Fatal(err)
		}
		r = a.Do("GET", "/api/v1/platform/features?user_id="+u.ID, k.Key, nil)
		if r.Status != 200 || r.Get("tenant_id") != tn.ID || r.Get("plan") != "pro" || r.Get("features.api_access") != false ||
			r.Get("features.audit_log_days") != 400.0 || r.Get("features.sso") != true {
			t.Fatalf("platform features of a user: %d %s", r.Status, r.Raw)
		}
		r = a.Do("GET", "/api/v1/platform/features?tenant_id="+tn.ID, k.Key, nil)
		if r.Status != 200 || r.Get("features.api_access") != true || r.Get("user_id") != nil {
			t.Fatalf("platform features of a tenant: %d %s", r.Status, r.Raw)
		}
		for q, status := range map[string]int{"?tenant_id=ten_missing": 404, "?user_id=usr_missing": 404, "": 422,
			"?user_id=" + u.ID + "&tenant_id=" + tn.ID: 422, "?team=x": 400} {
			if r = a.Do("GET", "/api/v1/platform/features"+q, k.Key, nil); r.Status != status {
				t.Errorf("platform features%s: %d %s, want %d", q, r.Status, r.Raw, status)
			}
		}
	})
}

// TestUserFeaturesRankRule: writing a user's flags follows the rank rule of
// every change to a user: an admin may not change an owner's; a super_admin may.
func TestUserFeaturesRankRule(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		_, adminTok := a.Operator(steward.RoleAdmin)
		owner2 := a.User(steward.RoleOwner)
		path := "/api/v1/admin/users/" + owner2.ID + "/features"
		if r := a.Do("PUT", path, adminTok, map[string]any{"api_access": false}); r.Status != 403 || r.Get("code") != "INSUFFICIENT_ROLE" {
			t.Fatalf("admin writing an owner's flags: %d %s", r.Status, r.Raw)
		}
		if r := a.Do("GET", path, adminTok, nil); r.Status != 200 || r.Get("effective.api_access") != true {
			t.Fatalf("the refused write changed something, or reading is refused: %d %s", r.Status, r.Raw)
		}
		if r := a.Do("PUT", path, a.RootToken, map[string]any{"api_access": false}); r.Status != 200 {
			t.Fatalf("super_admin writing an owner's flags: %d %s", r.Status, r.Raw)
		}
	})
}
