package api_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
)

const (
	tenantsPath = "/api/v1/admin/tenants"
	plansPath   = "/api/v1/admin/plans"
)

func TestTenantScenarios(t *testing.T) { runScenarios(t, tenantScenarios()) }

func tenantScenarios() []scenario {
	var all []scenario
	for _, g := range [][]scenario{
		tenantCreateScenarios(), tenantReadScenarios(), tenantPatchScenarios(), tenantLimitScenarios(),
		tenantSuspendScenarios(), tenantPlanScenarios(), tenantDeleteScenarios(),
	} {
		all = append(all, g...)
	}
	return all
}

// tenant creates a tenant over HTTP as root: {name} is its id, {name_slug}
// its slug. A name is made unique unless body gives one.
func (f *fix) tenant(name string, body M) *apptest.Response {
	f.t.Helper()
	b := M{"name": fmt.Sprintf("Tenant %s %d", name, uniq.Add(1))}
	for k, v := range body {
		b[k] = v
	}
	r := f.must(201, post, tenantsPath, "{root}", b)
	f.e[name], f.e[name+"_slug"] = str(r, "id"), str(r, "slug")
	return r
}

// member makes user {name} in tenant {tenant} with a session {name_tok}.
func (f *fix) member(name, tenant string, role steward.Role) *steward.User {
	f.t.Helper()
	return f.op(name, role, withTenant(f.e[tenant]))
}

// status reads a user's status over HTTP.
func (f *fix) status(user string) string {
	f.t.Helper()
	return str(f.must(200, get, usersPath+"/{"+user+"}", "{root}", nil), "status")
}

// keyCode verifies key {name_key} and returns the verdict's code.
func (f *fix) keyCode(name string) string {
	f.t.Helper()
	return str(f.verify(M{"key": "{" + name + "_key}"}), "code")
}

func tenantCreateScenarios() []scenario {
	return []scenario{
		{Name: "tenants: plans list the catalogue in order", Method: get, Path: plansPath, Token: "{sup_tok}",
			Setup: func(f *fix) { f.op("sup", steward.RoleSupport) }, Status: 200,
			Want: M{"data": length(4), "data.0.id": "free", "data.1.id": "starter", "data.2.id": "pro", "data.3.id": "scale",
				"data.0.limits.max_users": 3, "data.3.limits.max_users": nil, "data.2.included_credits": 50000,
				"data.2.price_cents": 9900, "data.2.features.sso": true}},
		{Name: "tenants: create with a name only", Method: post, Path: tenantsPath, Token: "{root}",
			Setup: func(f *fix) { f.e["n"] = fmt.Sprint(uniq.Add(1)) },
			Body:  M{"name": "  Acme Corp {n} "}, Status: 201,
			Want: M{"id": prefix("ten_"), "name": "Acme Corp {n}", "slug": "acme-corp-{n}", "plan": "free", "status": "active",
				"owner_user_id": "", "limits": M{"max_users": nil, "max_concurrent_tasks": nil, "max_daily_tasks": nil},
				"effective_limits": M{"max_users": 3, "max_concurrent_tasks": 1, "max_daily_tasks": 100},
				"spending":         M{"monthly_cap": nil, "daily_cap": nil, "alert_threshold_percent": 80, "user_monthly_cap": nil, "user_daily_cap": nil, "user_session_cap": nil},
				"features":         M{}, "notes": "", "billing_period_start": "2026-03-01T12:00:00Z", "suspended_at": nil, "deleted_at": nil},
			After: func(f *fix, r *apptest.Response) {
				e := f.audit(str(r, "id"), "tenant.create")
				if len(e) != 1 || e[0]["tenant_id"] != str(r, "id") || e[0]["actor_id"] != f.e["root_id"] {
					f.t.Errorf("tenant.create entries: %v", e)
				}
			}},
		{Name: "tenants: create with every field", Method: post, Path: tenantsPath, Token: "{root}",
			Setup: func(f *fix) { f.e["n"] = fmt.Sprint(uniq.Add(1)) },
			Body: M{"name": "Full {n}", "slug": "Full-Slug-{n}", "plan": "pro", "notes": " key account ",
				"limits":   M{"max_users": 7, "max_daily_tasks": 0},
				"spending": M{"monthly_cap": 100000, "daily_cap": 5000, "alert_threshold_percent": 90},
				"features": M{"sso": false, "audit_log_days": 14}}, Status: 201,
			Want: M{"slug": "full-slug-{n}", "plan": "pro", "notes": "key account",
				"limits":           M{"max_users": 7, "max_concurrent_tasks": nil, "max_daily_tasks": 0},
				"effective_limits": M{"max_users": 7, "max_concurrent_tasks": 10, "max_daily_tasks": 0},
				"spending":         M{"monthly_cap": 100000, "daily_cap": 5000, "alert_threshold_percent": 90, "user_monthly_cap": nil, "user_daily_cap": nil, "user_session_cap": nil},
				"features":         M{"sso": false, "audit_log_days": 14}}},
		{Name: "tenants: a derived slug that is taken gets a suffix", Method: post, Path: tenantsPath, Token: "{root}",
			Setup: func(f *fix) {
				f.e["n"] = fmt.Sprint(uniq.Add(1))
				f.must(201, post, tenantsPath, "{root}", M{"name": "Twin {n}"})
				f.must(201, post, tenantsPath, "{root}", M{"name": "twin  {n}!"})
			},
			Body: M{"name": "TWIN {n}"}, Status: 201, Want: M{"slug": "twin-{n}-3"}},
		{Name: "tenants: a name without letters or digits gets slug tenant", Method: post, Path: tenantsPath, Token: "{root}",
			Body: M{"name": "日本 ★"}, Status: 201, Want: M{"slug": prefix("tenant")}},
		{Name: "tenants: an explicit slug that is taken is ALREADY_EXISTS", Method: post, Path: tenantsPath, Token: "{root}",
			Setup: func(f *fix) { f.tenant("t", nil) },
			Body:  M{"name": "Other", "slug": "{t_slug}"}, Status: 409, Want: fieldErr(409, steward.CodeAlreadyExists, "slug")},
		{Name: "tenants: an unknown plan lists the plans", Method: post, Path: tenantsPath, Token: "{root}",
			Body: M{"name": "Planless", "plan": "platinum"}, Status: 422,
			Want: M{"code": steward.CodeValidation, "details.fields.plan": "must be one of free, starter, pro, scale",
				"details.plans": []string{"free", "starter", "pro", "scale"}}},
		{Name: "tenants: every bad field is named at once", Method: post, Path: tenantsPath, Token: "{root}",
			Body: M{"name": " ", "slug": "-bad slug-", "limits": M{"max_users": -1},
				"spending": M{"daily_cap": -5, "alert_threshold_percent": 150}, "features": M{"Bad Key": 1}}, Status: 422,
			Want: validation("name", "slug", "limits.max_users", "spending.daily_cap", "spending.alert_threshold_percent", "features")},
		{Name: "tenants: unknown fields are refused", Method: post, Path: tenantsPath, Token: "{root}",
			Body: M{"name": "X", "plan_id": "pro"}, Status: 400, Want: code(steward.CodeBadRequest)},
		{Name: "tenants: a support operator cannot create", Method: post, Path: tenantsPath, Token: "{sup_tok}",
			Setup: func(f *fix) { f.op("sup", steward.RoleSupport) },
			Body:  M{"name": "Nope"}, Status: 403, Want: code(steward.CodeForbidden)},
		{Name: "tenants: the owner joins the tenant as its owner", Method: post, Path: tenantsPath, Token: "{root}",
			Setup: func(f *fix) { f.user("o", steward.RoleUser) },
			Body:  M{"name": "Owned", "owner_user_id": "{o}"}, Status: 201, Want: M{"owner_user_id": "{o}"},
			After: func(f *fix, r *apptest.Response) {
				u := f.must(200, get, usersPath+"/{o}", "{root}", nil)
				if str(u, "tenant_id") != str(r, "id") || str(u, "tenant_role") != "owner" {
					f.t.Errorf("owner not a member: %s", u.Raw)
				}
				if e := f.audit(f.e["o"], "user.update"); len(e) != 1 {
					f.t.Errorf("owner's move audited %d times", len(e))
				}
			}},
		{Name: "tenants: an owner from another tenant is refused and nothing is written", Method: post, Path: tenantsPath, Token: "{root}",
			Setup: func(f *fix) {
				f.tenant("other", nil)
				f.user("o", steward.RoleUser, withTenant(f.e["other"]))
				f.e["n"] = fmt.Sprint(uniq.Add(1))
			},
			Body: M{"name": "Poacher {n}", "owner_user_id": "{o}"}, Status: 422, Want: validation("owner_user_id"),
			After: func(f *fix, r *apptest.Response) {
				f.must(404, get, tenantsPath+"/poacher-{n}", "{root}", nil)
			}},
		{Name: "tenants: create honours Idempotency-Key", Method: get, Path: tenantsPath + "/{first}", Token: "{root}",
			Setup: func(f *fix) {
				f.e["ik"] = fmt.Sprintf("tenant-create-%d", uniq.Add(1))
				body := M{"name": "Once " + f.e["ik"]}
				r1 := f.idem(post, tenantsPath, "{root}", "{ik}", body)
				r2 := f.idem(post, tenantsPath, "{root}", "{ik}", body)
				if r1.Status != 201 || r2.Status != 201 || str(r1, "id") != str(r2, "id") {
					f.t.Fatalf("replay: %d %s / %d %s", r1.Status, r1.Raw, r2.Status, r2.Raw)
				}
				f.e["first"] = str(r1, "id")
				r3 := f.idem(post, tenantsPath, "{root}", "{ik}", M{"name": "Other body"})
				if r3.Status != 409 || r3.Get("code") != steward.CodeIdempotencyKeyReused {
					f.t.Fatalf("other body: %d %s", r3.Status, r3.Raw)
				}
			},
			Status: 200, Want: M{"id": "{first}"}},
	}
}

func tenantReadScenarios() []scenario {
	return []scenario{
		{Name: "tenants: get by id", Method: get, Path: tenantsPath + "/{t}", Token: "{sup_tok}",
			Setup:  func(f *fix) { f.op("sup", steward.RoleSupport); f.tenant("t", nil) },
			Status: 200, Want: M{"id": "{t}", "slug": "{t_slug}"}},
		{Name: "tenants: get by slug", Method: get, Path: tenantsPath + "/{t_slug}", Token: "{root}",
			Setup: func(f *fix) { f.tenant("t", nil) }, Status: 200, Want: M{"id": "{t}"}},
		{Name: "tenants: an unknown tenant is NOT_FOUND", Method: get, Path: tenantsPath + "/ten_00000000000000000000000000", Token: "{root}",
			Status: 404, Want: code(steward.CodeNotFound)},
		{Name: "tenants: list filters by status, plan and q, newest first", Method: get,
			Path: tenantsPath + "?q=Zeta-{n}&status=suspended&plan=pro&include_total=true", Token: "{root}",
			Setup: func(f *fix) {
				f.e["n"] = fmt.Sprint(uniq.Add(1))
				f.tenant("a", M{"name": "Zeta-{n} one", "plan": "pro"})
				f.tenant("b", M{"name": "zeta-{n} two", "plan": "pro"})
				f.tenant("c", M{"name": "Zeta-{n} three", "plan": "free"})
				f.tenant("d", M{"name": "Zeta-{n} four", "plan": "pro"})
				for _, n := range []string{"a", "b", "c"} {
					f.must(200, post, tenantsPath+"/{"+n+"}/suspend", "{root}", nil)
				}
			},
			// Ids made in one millisecond of the fake clock are not ordered
			// among themselves, so the test compares sets.
			Status: 200, Want: M{"data": length(2), "total": 2, "has_more": false},
			After: func(f *fix, r *apptest.Response) { f.sameSet("suspended pro", idsOf(r), "a", "b") }},
		{Name: "tenants: q matches a slug substring and an exact id", Method: get, Path: tenantsPath + "?q={a}", Token: "{root}",
			Setup: func(f *fix) {
				f.tenant("a", nil)
				r := f.walk(tenantsPath+"?limit=200&q="+f.e["a_slug"][2:], "{root}")
				if len(r) != 1 || r[0]["id"] != f.e["a"] {
					f.t.Errorf("slug substring: %v", r)
				}
			},
			Status: 200, Want: M{"data": length(1), "data.0.id": "{a}"}},
		{Name: "tenants: list pages with a cursor", Method: get, Path: tenantsPath + "?q=Pager-{n}&limit=2", Token: "{root}",
			Setup: func(f *fix) {
				f.e["n"] = fmt.Sprint(uniq.Add(1))
				for i := range 5 {
					f.tenant(fmt.Sprint("p", i), M{"name": fmt.Sprintf("Pager-%s %d", f.e["n"], i)})
				}
				all := f.walk(tenantsPath+"?q=Pager-{n}&limit=2", "{root}")
				f.sameSet("walk", idsOfItems(all), "p0", "p1", "p2", "p3", "p4")
			},
			Status: 200, Want: M{"data": length(2), "has_more": true, "next_cursor": present()}},
		{Name: "tenants: a bad status filter is named", Method: get, Path: tenantsPath + "?status=gone", Token: "{root}",
			Status: 422, Want: validation("status")},
		{Name: "tenants: detail shows no audit excerpt to a key without audit:read", Method: get,
			Path: tenantsPath + "/{t}/detail", Token: "{ro_key}",
			Setup: func(f *fix) {
				f.tenant("t", nil)
				f.key("ro", "{root}", M{"name": "tenants only", "key_type": "admin", "scopes": []string{"tenants:read"}})
			},
			Status: 200, Want: M{"tenant.id": "{t}", "recent_audit": length(0)},
			After: func(f *fix, r *apptest.Response) {
				f.expectErr(f.do(get, "/api/v1/admin/audit-log", "{ro_key}", nil), 403, steward.CodeForbidden)
			}},
		{Name: "tenants: detail counts members by status, keys, holds and shows recent audit", Method: get,
			Path: tenantsPath + "/{t}/detail", Token: "{sup_tok}",
			Setup: func(f *fix) {
				f.op("sup", steward.RoleSupport)
				f.tenant("t", M{"plan": "starter", "features": M{"sso": true}})
				f.member("a", "t", steward.RoleUser)
				f.member("b", "t", steward.RoleUser)
				f.member("c", "t", steward.RoleUser)
				f.member("d", "t", steward.RoleUser)
				f.must(200, post, usersPath+"/{b}/suspend", "{root}", nil)
				f.must(200, del, usersPath+"/{c}", "{root}", nil)
				f.userKey("k1", "a", M{})
				f.userKey("k2", "d", M{})
				f.must(200, del, keysPath+"/{k2}", "{root}", nil)
			},
			Status: 200,
			Want: M{"tenant.id": "{t}", "plan.id": "starter", "members": M{"active": 2, "suspended": 1, "deleted": 1},
				"members_total": 3, "active_api_keys": 1, "held": M{"users": 0, "api_keys": 0, "resources": 0},
				"effective_features":  M{"api_access": true, "sso": true, "priority_support": false, "audit_log_days": 30},
				"recent_plan_changes": length(0), "recent_audit.0.action": "api_key.revoke", "recent_audit.0.tenant_id": "{t}"}},
	}
}

func tenantPatchScenarios() []scenario {
	return []scenario{
		{Name: "tenants: patch is a merge patch of limits, spending, features and notes", Method: patch, Path: tenantsPath + "/{t}",
			Token: "{root}",
			Setup: func(f *fix) {
				f.tenant("t", M{"plan": "starter", "limits": M{"max_users": 4, "max_daily_tasks": 9},
					"spending": M{"monthly_cap": 10, "daily_cap": 2}, "features": M{"sso": true, "audit_log_days": 14}, "notes": "n"})
			},
			Body: M{"name": "Renamed", "limits": M{"max_users": nil, "max_concurrent_tasks": 2},
				"spending": M{"daily_cap": nil}, "features": M{"sso": nil, "priority_support": true}, "notes": ""},
			Status: 200,
			Want: M{"name": "Renamed", "limits": M{"max_users": nil, "max_concurrent_tasks": 2, "max_daily_tasks": 9},
				"effective_limits": M{"max_users": 10, "max_concurrent_tasks": 2, "max_daily_tasks": 9},
				"spending":         M{"monthly_cap": 10, "daily_cap": nil, "alert_threshold_percent": 80, "user_monthly_cap": nil, "user_daily_cap": nil, "user_session_cap": nil},
				"features":         M{"audit_log_days": 14, "priority_support": true}, "notes": ""},
			After: func(f *fix, r *apptest.Response) {
				e := f.audit(f.e["t"], "tenant.update")
				if len(e) != 1 {
					f.t.Fatalf("tenant.update entries: %v", e)
				}
				ch, _ := e[0]["changes"].(map[string]any)
				if _, ok := ch["name"]; !ok || ch["plan"] != nil || ch["slug"] != nil {
					f.t.Errorf("changes: %v", ch)
				}
			}},
		{Name: "tenants: patch features follows the flag registry, as PUT /features does", Method: patch, Path: tenantsPath + "/{t}",
			Token: "{root}", Setup: func(f *fix) { f.tenant("t", nil) },
			Body: M{"name": "Kept?", "features": M{"nope": true, "sso": "yes", "api_access": nil}}, Status: 422,
			Want: validation("features.nope", "features.sso")},
		{Name: "tenants: patch changes the slug; a taken one is ALREADY_EXISTS", Method: patch, Path: tenantsPath + "/{t}",
			Token: "{root}", Setup: func(f *fix) { f.tenant("t", nil); f.tenant("u", nil) },
			Body: M{"slug": "{u_slug}"}, Status: 409, Want: fieldErr(409, steward.CodeAlreadyExists, "slug")},
		{Name: "tenants: patch cannot clear the slug or the name", Method: patch, Path: tenantsPath + "/{t}",
			Token: "{root}", Setup: func(f *fix) { f.tenant("t", nil) },
			Body: M{"slug": nil, "name": ""}, Status: 422, Want: validation("slug", "name")},
		{Name: "tenants: patch without a change writes no audit entry", Method: patch, Path: tenantsPath + "/{t}",
			Token: "{root}", Setup: func(f *fix) { f.tenant("t", M{"notes": "same"}) },
			Body: M{"notes": "same"}, Status: 200,
			After: func(f *fix, r *apptest.Response) {
				if e := f.audit(f.e["t"], "tenant.update"); len(e) != 0 {
					f.t.Errorf("entries: %v", e)
				}
			}},
		{Name: "tenants: patch sets an owner, who joins the tenant", Method: patch, Path: tenantsPath + "/{t}",
			Token: "{root}", Setup: func(f *fix) { f.tenant("t", nil); f.user("o", steward.RoleUser) },
			Body: M{"owner_user_id": "{o}"}, Status: 200, Want: M{"owner_user_id": "{o}"},
			After: func(f *fix, r *apptest.Response) {
				u := f.must(200, get, usersPath+"/{o}", "{root}", nil)
				if str(u, "tenant_id") != f.e["t"] || str(u, "tenant_role") != "owner" {
					f.t.Errorf("owner: %s", u.Raw)
				}
			}},
		{Name: "tenants: the plan is not patchable", Method: patch, Path: tenantsPath + "/{t}",
			Token: "{root}", Setup: func(f *fix) { f.tenant("t", nil) },
			Body: M{"plan": "pro"}, Status: 400, Want: code(steward.CodeBadRequest)},
		{Name: "tenants: a deleted tenant cannot be patched", Method: patch, Path: tenantsPath + "/{t}",
			Token: "{root}", Setup: func(f *fix) { f.tenant("t", nil); f.must(200, del, tenantsPath+"/{t}", "{root}", nil) },
			Body: M{"notes": "x"}, Status: 409, Want: code(steward.CodeInvalidState)},
	}
}

func tenantLimitScenarios() []scenario {
	full := func(f *fix) {
		f.tenant("t", M{"limits": M{"max_users": 2}})
		f.user("a", steward.RoleUser, withTenant(f.e["t"]))
		f.user("b", steward.RoleUser, withTenant(f.e["t"]))
	}
	return []scenario{
		{Name: "limits: a member beyond max_users is TENANT_USER_LIMIT", Method: post, Path: usersPath, Token: "{root}",
			Setup: full, Body: M{"email": "third-{t}@example.com", "tenant_id": "{t}"}, Status: 422,
			Want: M{"code": steward.CodeTenantUserLimit, "details.max_users": 2, "details.members": 2, "details.tenant_id": "{t}"},
			After: func(f *fix, r *apptest.Response) {
				if n := len(f.walk(usersPath+"?tenant_id={t}", "{root}")); n != 2 {
					f.t.Errorf("members: %d", n)
				}
			}},
		{Name: "limits: moving a user into a full tenant is TENANT_USER_LIMIT", Method: patch, Path: usersPath + "/{c}",
			Token: "{root}", Setup: func(f *fix) { full(f); f.user("c", steward.RoleUser) },
			Body: M{"tenant_id": "{t}"}, Status: 422, Want: code(steward.CodeTenantUserLimit)},
		{Name: "limits: a deleted member frees a seat", Method: post, Path: usersPath, Token: "{root}",
			Setup: func(f *fix) { full(f); f.must(200, del, usersPath+"/{a}", "{root}", nil) },
			Body:  M{"email": "after-delete-{t}@example.com", "tenant_id": "{t}"}, Status: 201,
			After: func(f *fix, r *apptest.Response) {
				// Restoring the deleted member would take a third seat.
				f.expectErr(f.do(post, usersPath+"/{a}/restore", "{root}", nil), 422, steward.CodeTenantUserLimit)
			}},
		{Name: "limits: the plan's max_users applies without an override", Method: post, Path: usersPath, Token: "{root}",
			Setup: func(f *fix) {
				f.tenant("t", M{"plan": "free"})
				for range 3 {
					f.user("m", steward.RoleUser, withTenant(f.e["t"]))
				}
			},
			Body: M{"email": "fourth-{t}@example.com", "tenant_id": "{t}"}, Status: 422,
			Want: M{"code": steward.CodeTenantUserLimit, "details.max_users": 3}},
		{Name: "limits: an unknown tenant_id is named", Method: post, Path: usersPath, Token: "{root}",
			Body: M{"email": "ghost-member@example.com", "tenant_id": "ten_00000000000000000000000000"}, Status: 422,
			Want: validation("tenant_id")},
		{Name: "limits: a suspended tenant takes no new members", Method: post, Path: usersPath, Token: "{root}",
			Setup: func(f *fix) { f.tenant("t", nil); f.must(200, post, tenantsPath+"/{t}/suspend", "{root}", nil) },
			Body:  M{"email": "late-{t}@example.com", "tenant_id": "{t}"}, Status: 409,
			Want: M{"code": steward.CodeInvalidState, "details.tenant_status": "suspended"}},
		{Name: "limits: a suspended tenant gets no new keys", Method: post, Path: keysPath, Token: "{root}",
			Setup: func(f *fix) {
				f.tenant("t", nil)
				f.user("m", steward.RoleUser, withTenant(f.e["t"]))
				f.must(200, post, tenantsPath+"/{t}/suspend", "{root}", nil)
			},
			Body: M{"name": "late", "key_type": "platform", "scopes": []string{"keys:verify"}, "tenant_id": "{t}"}, Status: 409,
			Want: M{"code": steward.CodeInvalidState, "details.tenant_id": "{t}"}},
		{Name: "limits: a key for an unknown tenant is named", Method: post, Path: keysPath, Token: "{root}",
			Body: M{"name": "ghost", "key_type": "platform", "scopes": []string{"keys:verify"}, "tenant_id": "ten_nope"}, Status: 422,
			Want: validation("tenant_id")},
	}
}

// cascadeSetup builds tenant {t} with members in every state and keys in
// every state, plus tenant {o} that must not move:
// a, d active (d with a session); b suspended and c banned before; key ka
// (a's), kr (revoked before), kp (root's platform key for the tenant); e in
// {o} with key ke.
func cascadeSetup(f *fix) {
	if _, ok := f.e["pk"]; !ok {
		f.verifier()
	}
	f.tenant("t", M{"plan": "pro"})
	f.tenant("o", M{"plan": "pro"})
	f.member("a", "t", steward.RoleUser)
	f.member("b", "t", steward.RoleUser)
	f.member("c", "t", steward.RoleUser)
	f.member("d", "t", steward.RoleUser)
	f.member("e", "o", steward.RoleUser)
	f.userKey("ka", "a", M{})
	f.userKey("kr", "d", M{})
	f.userKey("ke", "e", M{})
	f.key("kp", "{root}", M{"name": "tenant platform", "key_type": "platform", "scopes": []string{"keys:verify"}, "tenant_id": "{t}"})
	f.must(200, post, usersPath+"/{b}/suspend", "{root}", M{"reason": "own reasons"})
	f.must(200, post, usersPath+"/{c}/ban", "{root}", M{"reason": "abuse"})
	f.must(200, del, keysPath+"/{kr}", "{root}", nil)
}

func tenantSuspendScenarios() []scenario {
	return []scenario{
		{Name: "suspend: the cascade answers its counts and takes exactly the active rows", Method: post,
			Path: tenantsPath + "/{t}/suspend", Token: "{root}", Setup: cascadeSetup, Body: M{"reason": "unpaid"}, Status: 200,
			Want: M{"users_suspended": 2, "sessions_revoked": 2, "api_keys_disabled": 2, "tenant.status": "suspended",
				"tenant.suspension_reason": "unpaid", "tenant.suspended_at": present()},
			After: func(f *fix, r *apptest.Response) {
				for u, want := range map[string]string{"a": "suspended", "b": "suspended", "c": "banned", "d": "suspended", "e": "active"} {
					if got := f.status(u); got != want {
						f.t.Errorf("%s: %s, want %s", u, got, want)
					}
				}
				if got := str(f.must(200, get, usersPath+"/{a}", "{root}", nil), "suspension_reason"); got != "tenant suspended: unpaid" {
					f.t.Errorf("a's reason %q", got)
				}
				if got := str(f.must(200, get, usersPath+"/{b}", "{root}", nil), "suspension_reason"); got != "own reasons" {
					f.t.Errorf("b's reason %q", got)
				}
				// Sessions are gone, logins refused, keys fail.
				f.expectErr(f.do(get, "/api/v1/auth/me", "{a_tok}", nil), 401, steward.CodeUnauthenticated)
				f.expectErr(f.do(post, "/api/v1/auth/login", "", M{"email": "{a_email}", "password": apptest.Password}),
					401, steward.CodeInvalidCredentials)
				for k, want := range map[string]string{"ka": "DISABLED", "kp": "DISABLED", "kr": "REVOKED", "ke": "VALID"} {
					if got := f.keyCode(k); got != want {
						f.t.Errorf("key %s: %s, want %s", k, got, want)
					}
				}
				f.must(200, get, "/api/v1/auth/me", "{e_tok}", nil)
				e := f.audit(f.e["t"], "tenant.suspend")
				if len(e) != 1 || e[0]["reason"] != "unpaid" {
					f.t.Fatalf("tenant.suspend entries: %v", e)
				}
				md, _ := e[0]["metadata"].(map[string]any)
				if md["users_suspended"] != 2.0 || md["sessions_revoked"] != 2.0 || md["api_keys_disabled"] != 2.0 {
					f.t.Errorf("metadata: %v", md)
				}
				// One entry for the tenant, none per member.
				if n := len(f.audit(f.e["a"], "user.suspend")); n != 0 {
					f.t.Errorf("per-member entries: %d", n)
				}
				d := f.must(200, get, tenantsPath+"/{t}/detail", "{root}", nil)
				if d.Get("held.users") != 2.0 || d.Get("held.api_keys") != 2.0 || d.Get("active_api_keys") != 0.0 {
					f.t.Errorf("detail: %s", d.Raw)
				}
			}},
		{Name: "suspend: unsuspend restores exactly what the suspension took", Method: post,
			Path: tenantsPath + "/{t}/unsuspend", Token: "{root}",
			Setup: func(f *fix) {
				cascadeSetup(f)
				f.must(200, post, tenantsPath+"/{t}/suspend", "{root}", nil)
			},
			Status: 200,
			Want: M{"users_restored": 2, "api_keys_restored": 2, "tenant.status": "active", "tenant.suspension_reason": "",
				"tenant.suspended_at": nil},
			After: func(f *fix, r *apptest.Response) {
				for u, want := range map[string]string{"a": "active", "b": "suspended", "c": "banned", "d": "active", "e": "active"} {
					if got := f.status(u); got != want {
						f.t.Errorf("%s: %s, want %s", u, got, want)
					}
				}
				if got := str(f.must(200, get, usersPath+"/{b}", "{root}", nil), "suspension_reason"); got != "own reasons" {
					f.t.Errorf("b's reason %q", got)
				}
				for k, want := range map[string]string{"ka": "VALID", "kp": "VALID", "kr": "REVOKED", "ke": "VALID"} {
					if got := f.keyCode(k); got != want {
						f.t.Errorf("key %s: %s, want %s", k, got, want)
					}
				}
				f.must(200, post, "/api/v1/auth/login", "", M{"email": "{a_email}", "password": apptest.Password})
				f.expectErr(f.do(post, "/api/v1/auth/login", "", M{"email": "{b_email}", "password": apptest.Password}),
					401, steward.CodeInvalidCredentials)
				if e := f.audit(f.e["t"], "tenant.unsuspend"); len(e) != 1 {
					f.t.Errorf("tenant.unsuspend entries: %v", e)
				}
				d := f.must(200, get, tenantsPath+"/{t}/detail", "{root}", nil)
				if d.Get("held.users") != 0.0 || d.Get("held.api_keys") != 0.0 {
					f.t.Errorf("holds left: %s", d.Raw)
				}
			}},
		{Name: "suspend: a member banned or a key revoked meanwhile stays so", Method: post,
			Path: tenantsPath + "/{t}/unsuspend", Token: "{root}",
			Setup: func(f *fix) {
				cascadeSetup(f)
				f.must(200, post, tenantsPath+"/{t}/suspend", "{root}", nil)
				f.must(200, post, usersPath+"/{a}/ban", "{root}", M{"reason": "found out"})
				f.must(200, del, keysPath+"/{kp}", "{root}", nil)
			},
			Status: 200, Want: M{"users_restored": 1, "api_keys_restored": 1},
			After: func(f *fix, r *apptest.Response) {
				if f.status("a") != "banned" || f.status("d") != "active" {
					f.t.Errorf("a %s, d %s", f.status("a"), f.status("d"))
				}
				if f.keyCode("kp") != "REVOKED" || f.keyCode("ka") != "OWNER_INACTIVE" {
					f.t.Errorf("kp %s, ka %s", f.keyCode("kp"), f.keyCode("ka"))
				}
			}},
		{Name: "suspend: twice is INVALID_STATE", Method: post, Path: tenantsPath + "/{t}/suspend", Token: "{root}",
			Setup:  func(f *fix) { f.tenant("t", nil); f.must(200, post, tenantsPath+"/{t}/suspend", "{root}", nil) },
			Status: 409, Want: M{"code": steward.CodeInvalidState, "details.tenant_status": "suspended"}},
		{Name: "suspend: unsuspending an active tenant is INVALID_STATE", Method: post, Path: tenantsPath + "/{t}/unsuspend",
			Token: "{root}", Setup: func(f *fix) { f.tenant("t", nil) },
			Status: 409, Want: M{"code": steward.CodeInvalidState, "details.tenant_status": "active"}},
		{Name: "suspend: a member cannot be unsuspended alone while the tenant is suspended", Method: post,
			Path: usersPath + "/{a}/unsuspend", Token: "{root}",
			Setup: func(f *fix) {
				f.tenant("t", nil)
				f.member("a", "t", steward.RoleUser)
				f.must(200, post, tenantsPath+"/{t}/suspend", "{root}", nil)
			},
			Status: 409, Want: M{"code": steward.CodeInvalidState, "details.tenant_id": "{t}"}},
		{Name: "suspend: unbanning a member of a suspended tenant keeps them held until unsuspend", Method: post,
			Path: usersPath + "/{c}/unban", Token: "{root}",
			Setup: func(f *fix) {
				f.tenant("t", nil)
				f.member("c", "t", steward.RoleUser)
				f.must(200, post, usersPath+"/{c}/ban", "{root}", M{"reason": "x"})
				f.must(200, post, tenantsPath+"/{t}/suspend", "{root}", M{"reason": "audit"})
			},
			Status: 200, Want: M{"status": "suspended", "suspension_reason": "tenant suspended: audit", "ban": nil},
			After: func(f *fix, r *apptest.Response) {
				e := f.audit(f.e["c"], "user.unban")
				if len(e) != 1 || e[0]["metadata"].(map[string]any)["held_by_tenant"] != f.e["t"] {
					f.t.Errorf("unban entry: %v", e)
				}
				r2 := f.must(200, post, tenantsPath+"/{t}/unsuspend", "{root}", nil)
				if r2.Get("users_restored") != 1.0 || f.status("c") != "active" {
					f.t.Errorf("after unsuspend: %s, c %s", r2.Raw, f.status("c"))
				}
			}},
		{Name: "suspend: a tenant holding an operator ranked like the actor is INSUFFICIENT_ROLE", Method: post,
			Path: tenantsPath + "/{t}/suspend", Token: "{adm_tok}",
			Setup: func(f *fix) {
				f.op("adm", steward.RoleAdmin)
				f.tenant("t", nil)
				f.member("peer", "t", steward.RoleAdmin)
			},
			Status: 403, Want: code(steward.CodeInsufficientRole),
			After: func(f *fix, r *apptest.Response) {
				if f.status("peer") != "active" || str(f.must(200, get, tenantsPath+"/{t}", "{root}", nil), "status") != "active" {
					f.t.Error("a refused suspension changed something")
				}
			}},
		{Name: "suspend: an operator cannot suspend their own tenant", Method: post,
			Path: tenantsPath + "/{t}/suspend", Token: "{me_tok}",
			Setup:  func(f *fix) { f.tenant("t", nil); f.member("me", "t", steward.RoleAdmin) },
			Status: 422, Want: code(steward.CodeCannotTargetSelf)},
		{Name: "suspend: an admin may suspend but not delete", Method: del, Path: tenantsPath + "/{t}", Token: "{adm_tok}",
			Setup: func(f *fix) {
				f.op("adm", steward.RoleAdmin)
				f.tenant("t", nil)
				f.must(200, post, tenantsPath+"/{t}/suspend", "{adm_tok}", nil)
			},
			Status: 403, Want: code(steward.CodeForbidden)},
	}
}

func tenantPlanScenarios() []scenario {
	return []scenario{
		{Name: "plan: a change is recorded and the new plan's limits apply under overrides", Method: post,
			Path: tenantsPath + "/{t}/plan", Token: "{root}",
			Setup: func(f *fix) { f.tenant("t", M{"limits": M{"max_daily_tasks": 5}}) },
			Body:  M{"plan": "pro"}, Status: 200,
			Want: M{"tenant.plan": "pro", "change.id": prefix("pch_"), "change.tenant_id": "{t}", "change.from_plan": "free",
				"change.to_plan": "pro", "change.prorate": true, "change.changed_by": "{root_id}", "change.changed_at": "2026-03-01T12:00:00Z",
				"tenant.effective_limits": M{"max_users": 50, "max_concurrent_tasks": 10, "max_daily_tasks": 5}, "warnings": length(0)},
			After: func(f *fix, r *apptest.Response) {
				e := f.audit(f.e["t"], "tenant.plan_change")
				if len(e) != 1 {
					f.t.Fatalf("entries: %v", e)
				}
				md := e[0]["metadata"].(map[string]any)
				if md["from"] != "free" || md["to"] != "pro" || md["prorate"] != true {
					f.t.Errorf("metadata: %v", md)
				}
				h := f.must(200, get, tenantsPath+"/{t}/plan-changes", "{root}", nil)
				if str(h, "data.0.to_plan") != "pro" || len(items(h)) != 1 {
					f.t.Errorf("history: %s", h.Raw)
				}
			}},
		{Name: "plan: prorate=false is recorded", Method: post, Path: tenantsPath + "/{t}/plan", Token: "{root}",
			Setup: func(f *fix) { f.tenant("t", nil) }, Body: M{"plan": "starter", "prorate": false}, Status: 200,
			Want: M{"change.prorate": false}},
		{Name: "plan: a downgrade below the member count warns and removes nobody", Method: post, Path: tenantsPath + "/{t}/plan",
			Token: "{root}",
			Setup: func(f *fix) {
				f.tenant("t", M{"plan": "pro"})
				for range 4 {
					f.user("m", steward.RoleUser, withTenant(f.e["t"]))
				}
			},
			Body: M{"plan": "free"}, Status: 200, Want: M{"warnings": length(1), "warnings.0": contains("4 users")},
			After: func(f *fix, r *apptest.Response) {
				if n := len(f.walk(usersPath+"?tenant_id={t}&status=active", "{root}")); n != 4 {
					f.t.Errorf("active members: %d", n)
				}
			}},
		{Name: "plan: the same plan is INVALID_STATE", Method: post, Path: tenantsPath + "/{t}/plan", Token: "{root}",
			Setup: func(f *fix) { f.tenant("t", nil) }, Body: M{"plan": "free"}, Status: 409, Want: code(steward.CodeInvalidState)},
		{Name: "plan: an unknown plan is named", Method: post, Path: tenantsPath + "/{t}/plan", Token: "{root}",
			Setup: func(f *fix) { f.tenant("t", nil) }, Body: M{"plan": "gold"}, Status: 422,
			Want: M{"code": steward.CodeValidation, "details.fields.plan": present(), "details.plans": length(4)}},
		{Name: "plan: a missing plan is named", Method: post, Path: tenantsPath + "/{t}/plan", Token: "{root}",
			Setup: func(f *fix) { f.tenant("t", nil) }, Body: M{}, Status: 422, Want: validation("plan")},
	}
}

func tenantDeleteScenarios() []scenario {
	return []scenario{
		{Name: "delete: a soft delete cascades and restore undoes it exactly", Method: del, Path: tenantsPath + "/{t}?reason=churned",
			Token: "{root}", Setup: cascadeSetup, Status: 200,
			Want: M{"tenant.status": "deleted", "tenant.deleted_at": present(), "users_suspended": 2, "api_keys_disabled": 2},
			After: func(f *fix, r *apptest.Response) {
				if got := str(f.must(200, get, usersPath+"/{a}", "{root}", nil), "suspension_reason"); got != "tenant deleted" {
					f.t.Errorf("a's reason %q", got)
				}
				if e := f.audit(f.e["t"], "tenant.delete"); len(e) != 1 || e[0]["reason"] != "churned" {
					f.t.Errorf("entries: %v", e)
				}
				f.expectErr(f.do(del, tenantsPath+"/{t}", "{root}", nil), 409, steward.CodeInvalidState)
				r2 := f.must(200, post, tenantsPath+"/{t}/restore", "{root}", nil)
				if r2.Get("tenant.status") != "active" || r2.Get("users_restored") != 2.0 || r2.Get("api_keys_restored") != 2.0 {
					f.t.Errorf("restore: %s", r2.Raw)
				}
				for u, want := range map[string]string{"a": "active", "b": "suspended", "c": "banned", "d": "active"} {
					if got := f.status(u); got != want {
						f.t.Errorf("%s: %s, want %s", u, got, want)
					}
				}
				if f.keyCode("ka") != "VALID" || f.keyCode("kr") != "REVOKED" {
					f.t.Error("keys not restored exactly")
				}
				f.expectErr(f.do(post, tenantsPath+"/{t}/restore", "{root}", nil), 409, steward.CodeInvalidState)
			}},
		{Name: "delete: a suspended tenant restores to suspended, and unsuspend then restores its members", Method: post,
			Path: tenantsPath + "/{t}/restore", Token: "{root}",
			Setup: func(f *fix) {
				f.tenant("t", nil)
				f.member("a", "t", steward.RoleUser)
				f.must(200, post, tenantsPath+"/{t}/suspend", "{root}", nil)
				r := f.must(200, del, tenantsPath+"/{t}", "{root}", nil)
				if r.Get("users_suspended") != 0.0 {
					f.t.Errorf("second cascade: %s", r.Raw)
				}
			},
			Status: 200, Want: M{"tenant.status": "suspended", "users_restored": 0},
			After: func(f *fix, r *apptest.Response) {
				r2 := f.must(200, post, tenantsPath+"/{t}/unsuspend", "{root}", nil)
				if r2.Get("users_restored") != 1.0 || f.status("a") != "active" {
					f.t.Errorf("unsuspend: %s", r2.Raw)
				}
			}},
		{Name: "delete: purge without confirm is CONFIRMATION_REQUIRED", Method: del, Path: tenantsPath + "/{t}?purge=true",
			Token: "{root}", Setup: func(f *fix) { f.tenant("t", nil) }, Status: 400,
			Want:  M{"code": steward.CodeConfirmationRequired, "details.fields.confirm": present()},
			After: func(f *fix, r *apptest.Response) { f.must(200, get, tenantsPath+"/{t}", "{root}", nil) }},
		{Name: "delete: purge erases the tenant and what hangs off it, and nothing else", Method: del,
			Path: tenantsPath + "/{t}?purge=true&confirm=true&reason=gdpr", Token: "{root}", Setup: cascadeSetup, Status: 200,
			Want: M{"tenant_id": "{t}", "purged": true, "users_purged": 4, "api_keys_purged": 3, "sessions_purged": 4},
			After: func(f *fix, r *apptest.Response) {
				f.must(404, get, tenantsPath+"/{t}", "{root}", nil)
				for _, u := range []string{"a", "b", "c", "d"} {
					f.must(404, get, usersPath+"/{"+u+"}", "{root}", nil)
				}
				f.must(404, get, keysPath+"/{kp}", "{root}", nil)
				f.must(200, get, usersPath+"/{e}", "{root}", nil)
				if f.keyCode("ke") != "VALID" {
					f.t.Error("the other tenant's key was touched")
				}
				e := f.audit(f.e["t"], "tenant.purge")
				if len(e) != 1 || e[0]["reason"] != "gdpr" {
					f.t.Errorf("entries: %v", e)
				}
				if v := f.must(200, get, "/api/v1/admin/audit-log/verify", "{root}", nil); v.Get("ok") != true {
					f.t.Errorf("chain: %s", v.Raw)
				}
			}},
	}
}

// TestTenantPurgeLeavesNoOrphans counts the rows of every table before a
// tenant exists and after it is purged: only the audit log may grow.
func TestTenantPurgeLeavesNoOrphans(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		f := newFix(t, a)
		f.verifier()
		f.key("up", "{root}", M{"name": "usage", "key_type": "platform", "scopes": []string{"usage:write"}})
		f.tenant("keep", nil)
		f.member("k", "keep", steward.RoleUser)
		before := a.Backend.RowCounts(t, a.Store)

		cascadeSetup(f)
		f.must(200, post, tenantsPath+"/{t}/plan", "{root}", M{"plan": "scale"}) // prorated credits too
		f.grant("g", "t", 50, "2026-03-20T00:00:00Z")
		d := f.must(201, post, creditsPath+"/deduct", "{root}", M{"tenant_id": "{t}", "amount": 20, "description": "x"})
		f.must(201, post, creditsPath+"/refund", "{root}", M{"tenant_id": "{t}", "amount": 5, "description": "x",
			"transaction_id": str(d, "transaction.id")})
		f.must(200, post, usagePath, "{up_key}", M{"events": []M{{"id": "purge-1", "tenant_id": "{t}", "metric": "tokens",
			"quantity": 3, "credits": 2, "occurred_at": "2026-03-01T11:00:00Z"}}})
		f.idem(post, tenantsPath+"/{t}/plan", "{root}", "purge-plan", M{"plan": "starter"})
		f.must(200, post, tenantsPath+"/{t}/suspend", "{root}", nil)
		f.must(200, post, "/api/v1/auth/login", "", M{"email": "{e_email}", "password": apptest.Password})
		f.flushUses()
		p := f.must(200, del, tenantsPath+"/{t}?purge=true&confirm=true", "{root}", nil)
		if p.Get("ledger_entries_purged") != 5.0 || p.Get("usage_events_purged") != 1.0 {
			t.Errorf("purge counts: %s", p.Raw)
		}
		// What cascadeSetup made outside the purged tenant goes by hand.
		f.must(200, del, usersPath+"/{e}?purge=true&confirm=true", "{root}", nil)
		f.must(200, del, tenantsPath+"/{o}?purge=true&confirm=true", "{root}", nil)

		after := a.Backend.RowCounts(t, a.Store)
		for table, n := range after {
			switch table {
			case "audit_log", "webhook_events", "idempotency", "users_fts_data", "users_fts_idx", "stat_counters":
				// The log, and the webhook outbox announcing its entries,
				// grow and keep the purge; the idempotency
				// record is the caller's, not the tenant's; the search
				// index's segment tables merge rather than shrink (its
				// per-row table, users_fts_docsize, is compared); stat
				// counters move to 0 rather than go (docs/overview.md).
				continue
			}
			if n != before[table] {
				t.Errorf("%s: %d rows before, %d after the purge", table, before[table], n)
			}
		}
		var sessions int64
		for _, id := range []string{f.e["a"], f.e["b"], f.e["c"], f.e["d"]} {
			p, err := a.Svc.Sessions.ListSessions(apptest.System(), steward.SessionFilter{UserID: id}, steward.ListParams{})
			f.ok(err)
			sessions += int64(len(p.Data))
		}
		if sessions != 0 {
			t.Errorf("%d sessions of purged members left", sessions)
		}
	})
}

// TestTenantSuspendRacesMemberUnsuspend runs a tenant suspension against a
// member's own unsuspension many times: whichever commits first, no member
// is active while the tenant is suspended, and after the tenant's unsuspend
// the member is active exactly when their own unsuspension succeeded.
func TestTenantSuspendRacesMemberUnsuspend(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		f := newFix(t, a)
		for i := range 8 {
			name := fmt.Sprint("t", i)
			f.tenant(name, nil)
			u := f.user(name+"m", steward.RoleUser, withTenant(f.e[name]))
			_, err := a.Svc.Users.SuspendUser(apptest.System(), u.ID, "own")
			f.ok(err)

			var wg sync.WaitGroup
			var unsuspendErr, suspendErr error
			wg.Add(2)
			go func() {
				defer wg.Done()
				_, unsuspendErr = a.Svc.Users.UnsuspendUser(apptest.System(), u.ID)
			}()
			go func() {
				defer wg.Done()
				_, suspendErr = a.Svc.Tenants.SuspendTenant(apptest.System(), f.e[name], "race")
			}()
			wg.Wait()
			f.ok(suspendErr)
			if unsuspendErr != nil && steward.ErrorCode(unsuspendErr) != steward.CodeInvalidState {
				t.Fatalf("unsuspend: %v", unsuspendErr)
			}
			got, err := a.Svc.Users.GetUser(apptest.System(), u.ID)
			f.ok(err)
			if got.Status != steward.StatusSuspended {
				t.Fatalf("round %d: member %s while the tenant is suspended", i, got.Status)
			}
			_, err = a.Svc.Tenants.UnsuspendTenant(apptest.System(), f.e[name])
			f.ok(err)
			got, err = a.Svc.Users.GetUser(apptest.System(), u.ID)
			f.ok(err)
			if want := map[bool]steward.UserStatus{true: steward.StatusActive, false: steward.StatusSuspended}[unsuspendErr == nil]; got.Status != want {
				t.Fatalf("round %d: member %s after unsuspend (own unsuspend err %v)", i, got.Status, unsuspendErr)
			}
		}
	})
}

// TestTenantLapsedBanDuringSuspension: a member whose ban runs out while the
// tenant is suspended cannot log in, and is held with the others.
func TestTenantLapsedBanDuringSuspension(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		f := newFix(t, a)
		f.tenant("t", nil)
		u := f.user("m", steward.RoleUser, withTenant(f.e["t"]))
		exp := a.Clock.Now().Add(time.Hour)
		_, err := a.Svc.Users.BanUser(apptest.System(), u.ID, steward.BanInput{Reason: "cool off", ExpiresAt: &exp})
		f.ok(err)
		f.must(200, post, tenantsPath+"/{t}/suspend", "{root}", nil)
		a.Clock.Advance(2 * time.Hour)
		f.expectErr(f.do(post, "/api/v1/auth/login", "", M{"email": "{m_email}", "password": apptest.Password}),
			401, steward.CodeInvalidCredentials)
		n, err := a.Svc.Users.SweepExpiredBans(context.Background())
		f.ok(err)
		if n != 1 || f.status("m") != "suspended" {
			t.Fatalf("sweep lifted %d; member %s", n, f.status("m"))
		}
		r := f.must(200, post, tenantsPath+"/{t}/unsuspend", "{root}", nil)
		if r.Get("users_restored") != 1.0 || f.status("m") != "active" {
			t.Fatalf("unsuspend: %s; member %s", r.Raw, f.status("m"))
		}
		f.must(200, post, "/api/v1/auth/login", "", M{"email": "{m_email}", "password": apptest.Password})
	})
}

// TestTenantCascadeLastOwner: a cascade may not take out the last active
// owner, whoever asks.
func TestTenantCascadeLastOwner(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		f := newFix(t, a)
		f.tenant("t", nil)
		_, err := a.Svc.Users.UpdateUser(apptest.System(), a.Root.ID, &steward.UserPatch{
			TenantID: steward.Optional[string]{Set: true, Value: f.e["t"]}})
		f.ok(err)
		_, err = a.Svc.Tenants.SuspendTenant(apptest.System(), f.e["t"], "")
		if steward.ErrorCode(err) != steward.CodeLastActiveOwner {
			t.Fatalf("suspend: %v", err)
		}
		_, err = a.Svc.Tenants.PurgeTenant(apptest.System(), f.e["t"], "")
		if steward.ErrorCode(err) != steward.CodeLastActiveOwner {
			t.Fatalf("purge: %v", err)
		}
		tn, err := a.Svc.Tenants.GetTenant(apptest.System(), f.e["t"])
		f.ok(err)
		if tn.Status != steward.TenantActive {
			t.Fatalf("tenant %s after refused cascades", tn.Status)
		}
	})
}
