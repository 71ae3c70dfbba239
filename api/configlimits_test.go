package api_test

import (
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
)

const configPath = "/api/v1/admin/config"

// TestConfigLimitsScenarios: the quotas, spending and switches sections of
// GET|PUT /admin/config, what they feed (tenants' effective limits and
// caps), and per-user caps over HTTP. Each runs on a fresh app: the
// platform configuration is global.
func TestConfigLimitsScenarios(t *testing.T) { runScenarios(t, configLimitsScenarios()) }

func configLimitsScenarios() []scenario {
	return []scenario{
		{Name: "config: GET shows the quotas, spending and switches defaults", Fresh: true, Method: get, Path: configPath, Token: "{sup_tok}",
			Setup: func(f *fix) { f.op("sup", steward.RoleSupport) }, Status: 200,
			Want: M{"quotas": M{"max_users": nil, "max_concurrent_tasks": nil, "max_daily_tasks": nil},
				"spending": M{"monthly_cap": nil, "daily_cap": nil, "alert_threshold_percent": 80,
					"user_monthly_cap": nil, "user_daily_cap": nil, "user_session_cap": nil},
				"switches": M{"allow_impersonation": true, "allow_user_creation": true, "allow_user_deletion": true}}},
		{Name: "config: PUT sets platform defaults that tenants inherit, audited per key", Fresh: true, Method: put, Path: configPath,
			Token: "{own_tok}",
			Setup: func(f *fix) {
				f.op("own", steward.RoleOwner)
				f.tenant("t", M{"plan": "scale", "spending": M{"daily_cap": 5}})
			},
			Body: M{"quotas": M{"max_users": 12}, "spending": M{"monthly_cap": 500, "alert_threshold_percent": 70, "user_daily_cap": 9},
				"switches": M{"allow_user_deletion": false}},
			Status: 200,
			Want: M{"quotas.max_users": 12, "spending.monthly_cap": 500, "spending.alert_threshold_percent": 70,
				"spending.user_daily_cap": 9, "switches.allow_user_deletion": false, "switches.allow_impersonation": true},
			After: func(f *fix, r *apptest.Response) {
				tn := f.must(200, get, tenantsPath+"/{t}", "{root}", nil)
				want := M{"effective_limits.max_users": 12, "effective_limits.max_concurrent_tasks": 50,
					"spending.monthly_cap": nil, "spending.daily_cap": 5, "effective_spending.monthly_cap": 500,
					"effective_spending.daily_cap": 5, "effective_spending.alert_threshold_percent": 70,
					"effective_spending.user_daily_cap": 9}
				for path, w := range want {
					f.checkField(tn, path, w)
				}
				e := f.audit("", "config.update")
				if len(e) != 1 {
					f.t.Fatalf("config.update entries: %v", e)
				}
				ch, _ := e[0]["changes"].(map[string]any)
				if len(ch) != 5 || ch["quotas.max_users"].(map[string]any)["after"] != 12.0 {
					f.t.Errorf("changes %v", ch)
				}
			}},
		{Name: "config: a bad value in each section is 422 naming section.key, nothing stored", Fresh: true, Method: put, Path: configPath,
			Token: "{root}",
			Body: M{"quotas": M{"max_users": -1}, "spending": M{"alert_threshold_percent": 101, "monthly_cap": 5},
				"switches": M{"allow_impersonation": "off"}},
			Status: 422,
			Want:   validation("quotas.max_users", "spending.alert_threshold_percent", "switches.allow_impersonation"),
			After: func(f *fix, r *apptest.Response) {
				f.checkField(f.must(200, get, configPath, "{root}", nil), "spending.monthly_cap", nil)
			}},
		{Name: "config: an admin may read but not change the configuration", Fresh: true, Method: put, Path: configPath,
			Token: "{adm_tok}", Setup: func(f *fix) { f.op("adm", steward.RoleAdmin) },
			Body: M{"switches": M{"allow_impersonation": false}}, Status: 403, Want: code(steward.CodeForbidden)},

		{Name: "tenants: spending.user_* defaults are set, merged and validated", Method: patch, Path: tenantsPath + "/{t}",
			Token: "{root}",
			Setup: func(f *fix) { f.tenant("t", M{"spending": M{"user_monthly_cap": 100, "user_session_cap": 3}}) },
			Body:  M{"spending": M{"user_daily_cap": 10, "user_session_cap": nil}}, Status: 200,
			Want: M{"spending.user_monthly_cap": 100, "spending.user_daily_cap": 10, "spending.user_session_cap": nil,
				"effective_spending.user_daily_cap": 10},
			After: func(f *fix, r *apptest.Response) {
				bad := f.do(patch, tenantsPath+"/{t}", "{root}", M{"spending": M{"user_daily_cap": -1}})
				f.expectErr(bad, 422, steward.CodeValidation)
				f.checkField(bad, "details.fields.spending.user_daily_cap", present())
			}},
		{Name: "user spending: PUT merges the user's caps and answers effective with explain", Fresh: true, Method: put,
			Path: usersPath + "/{u}/spending", Token: "{adm_tok}",
			Setup: func(f *fix) {
				f.op("adm", steward.RoleAdmin)
				f.tenant("t", M{"spending": M{"user_session_cap": 3}})
				f.user("u", steward.RoleUser, withTenant(f.e["t"]))
				f.must(200, put, configPath, "{root}", M{"spending": M{"user_monthly_cap": 40}})
			},
			Body: M{"daily_cap": 20}, Status: 200,
			Want: M{"user_id": "{u}", "tenant_id": "{t}", "caps": M{"monthly_cap": nil, "daily_cap": 20, "session_cap": nil},
				"effective": M{"monthly_cap": 40, "daily_cap": 20, "session_cap": 3},
				"explain":   M{"monthly_cap": "platform", "daily_cap": "user", "session_cap": "tenant"},
				"spent":     M{"monthly": 0, "daily": 0}},
			After: func(f *fix, r *apptest.Response) {
				e := f.audit("{u}", "user.spending_update")
				if len(e) != 1 || e[0]["actor_id"] != f.e["adm"] {
					f.t.Fatalf("user.spending_update entries: %v", e)
				}
				g := f.must(200, get, usersPath+"/{u}/spending", "{root}", nil)
				f.checkField(g, "caps.daily_cap", 20)
				f.expectErr(f.do(put, usersPath+"/{u}/spending", "{root}", M{"daily_cap": -1}), 422, steward.CodeValidation)
				f.expectErr(f.do(put, usersPath+"/{u}/spending", "{root}", M{"weekly_cap": 1}), 400, steward.CodeBadRequest)
				f.expectErr(f.do(get, usersPath+"/{unknown}/spending", "{root}", nil), 404, steward.CodeNotFound)
			}},
		{Name: "user spending: a deduct naming the user over its cap is 402 naming the tier", Fresh: true, Method: post,
			Path: creditsPath + "/deduct", Token: "{root}",
			Setup: func(f *fix) {
				f.tenant("t", M{"spending": M{"user_daily_cap": 5}})
				f.grant("g", "t", 100, "")
				f.user("u", steward.RoleUser, withTenant(f.e["t"]))
				f.must(201, post, creditsPath+"/deduct", "{root}", M{"tenant_id": "{t}", "user_id": "{u}", "amount": 4, "description": "use"})
			},
			Body: M{"tenant_id": "{t}", "user_id": "{u}", "amount": 2, "description": "use"}, Status: 402,
			Want: M{"code": steward.CodeSpendingCapReached, "details.scope": "user", "details.tier": "tenant", "details.cap": "daily",
				"details.limit": 5, "details.spent": 4, "details.requested": 2, "details.user_id": "{u}"},
			After: func(f *fix, r *apptest.Response) {
				if b := f.balance("t"); b != 96 {
					f.t.Errorf("balance %v, want 96: a refused deduct takes nothing", b)
				}
				f.checkLedger()
			}},
		{Name: "user spending: a usage event over the user's session cap is rejected alone", Fresh: true, Method: post,
			Path: usagePath, Token: "{up_key}",
			Setup: func(f *fix) {
				f.key("up", "{root}", M{"name": "usage", "key_type": "platform", "scopes": []string{"usage:write"}})
				f.tenant("t", nil)
				f.grant("g", "t", 100, "")
				f.must(200, put, configPath, "{root}", M{"spending": M{"user_session_cap": 5}})
			},
			Body: M{"events": []M{
				{"id": "s-1", "tenant_id": "{t}", "user_id": "usr_x", "session_id": "ses-1", "metric": "tokens", "credits": 4, "occurred_at": "2026-03-01T11:00:00Z"},
				{"id": "s-2", "tenant_id": "{t}", "user_id": "usr_x", "session_id": "ses-1", "metric": "tokens", "credits": 4, "occurred_at": "2026-03-01T11:00:00Z"},
				{"id": "s-3", "tenant_id": "{t}", "user_id": "usr_x", "session_id": "ses-2", "metric": "tokens", "credits": 4, "occurred_at": "2026-03-01T11:00:00Z"},
				{"id": "s-4", "tenant_id": "{t}", "user_id": "usr_x", "session_id": "bad id!", "metric": "tokens", "credits": 1, "occurred_at": "2026-03-01T11:00:00Z"},
			}},
			Status: 200,
			Want: M{"recorded": 2, "rejected": 2, "results.0.status": "recorded", "results.1.status": "rejected",
				"results.1.code": steward.CodeSpendingCapReached, "results.2.status": "recorded", "results.3.code": steward.CodeValidation},
			After: func(f *fix, r *apptest.Response) {
				if b := f.balance("t"); b != 92 {
					f.t.Errorf("balance %v, want 92", b)
				}
			}},
	}
}
