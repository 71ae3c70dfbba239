package service_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
)

// putConfig sends a PUT /admin/config body through the service as root.
func putConfig(t *testing.T, a *apptest.App, body string) error {
	t.Helper()
	var p steward.PlatformConfigPatch
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatal(err)
	}
	_, err := a.Svc.PlatformConfig.UpdatePlatformConfig(apptest.System(), p)
	return err
}

func mustPutConfig(t *testing.T, a *apptest.App, body string) {
	t.Helper()
	if err := putConfig(t, a, body); err != nil {
		t.Fatalf("PUT %s: %v", body, err)
	}
}

// configJSON is GET /admin/config as JSON reads it back.
func configJSON(t *testing.T, a *apptest.App) map[string]map[string]any {
	t.Helper()
	c, err := a.Svc.PlatformConfig.PlatformConfig(apptest.System())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(c)
	var out map[string]map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestQuotasSpendingSwitchesSections: GET fills in every key's default
// (quotas and caps null, the alert threshold 80, switches true); PUT
// merge-patches, null resets a key; a bad value or an unknown key is 422
// naming section.key with nothing stored; a change is audited per key.
func TestQuotasSpendingSwitchesSections(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		want := map[string]map[string]any{
			"quotas": {"max_users": nil, "max_concurrent_tasks": nil, "max_daily_tasks": nil},
			"spending": {"monthly_cap": nil, "daily_cap": nil, "alert_threshold_percent": 80.0,
				"user_monthly_cap": nil, "user_daily_cap": nil, "user_session_cap": nil},
			"switches": {"allow_impersonation": true, "allow_user_creation": true, "allow_user_deletion": true},
		}
		check := func(what string) {
			t.Helper()
			got := configJSON(t, a)
			for sec, keys := range want {
				if len(got[sec]) != len(keys) {
					t.Fatalf("%s: %s = %v, want %v", what, sec, got[sec], keys)
				}
				for k, v := range keys {
					if got[sec][k] != v {
						t.Fatalf("%s: %s.%s = %v, want %v", what, sec, k, got[sec][k], v)
					}
				}
			}
		}
		check("defaults")
		mustPutConfig(t, a, `{"quotas": {"max_users": 5, "max_daily_tasks": 0},
			"spending": {"monthly_cap": 1000000000000, "alert_threshold_percent": 1, "user_session_cap": 7},
			"switches": {"allow_impersonation": false}}`)
		want["quotas"]["max_users"], want["quotas"]["max_daily_tasks"] = 5.0, 0.0
		want["spending"]["monthly_cap"], want["spending"]["alert_threshold_percent"] = 1e12, 1.0
		want["spending"]["user_session_cap"] = 7.0
		want["switches"]["allow_impersonation"] = false
		check("after a PUT")

		for body, field := range map[string]string{
			`{"quotas": {"max_users": -1}}`:                    "quotas.max_users",
			`{"quotas": {"max_users": 1000000000001}}`:         "quotas.max_users",
			`{"quotas": {"max_users": 1.5}}`:                   "quotas.max_users",
			`{"quotas": {"max_users": "5"}}`:                   "quotas.max_users",
			`{"quotas": {"max_seats": 5}}`:                     "quotas.max_seats",
			`{"spending": {"alert_threshold_percent": 0}}`:     "spending.alert_threshold_percent",
			`{"spending": {"alert_threshold_percent": 101}}`:   "spending.alert_threshold_percent",
			`{"spending": {"daily_cap": true}}`:                "spending.daily_cap",
			`{"spending": {"user_daily_cap": -3}}`:             "spending.user_daily_cap",
			`{"switches": {"allow_user_creation": "no"}}`:      "switches.allow_user_creation",
			`{"switches": {"allow_user_creation": 0}}`:         "switches.allow_user_creation",
			`{"switches": {"allow_everything": true}}`:         "switches.allow_everything",
			`{"quotas": {"max_users": 9}, "switches": [true]}`: "switches",
		} {
			err := putConfig(t, a, body)
			var se *steward.Error
			if !errors.As(err, &se) || se.Code != steward.CodeValidation {
				t.Fatalf("PUT %s: %v, want VALIDATION_FAILED", body, err)
			}
			fields, _ := se.Details["fields"].(map[string]any)
			if _, ok := fields[field]; !ok || len(fields) != 1 {
				t.Fatalf("PUT %s: fields %v, want only %s", body, fields, field)
			}
		}
		check("after refused PUTs")

		mustPutConfig(t, a, `{"quotas": {"max_users": null}, "spending": null, "switches": {"allow_impersonation": null}}`)
		want["quotas"]["max_users"] = nil
		want["spending"] = map[string]any{"monthly_cap": nil, "daily_cap": nil, "alert_threshold_percent": 80.0,
			"user_monthly_cap": nil, "user_daily_cap": nil, "user_session_cap": nil}
		want["switches"]["allow_impersonation"] = true
		check("after nulls")

		entries, err := a.Store.ListAudit(apptest.System(), steward.AuditFilter{Action: "config.update", Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 2 {
			t.Fatalf("%d config.update entries, want 2", len(entries))
		}
		var ch map[string]struct{ Before, After any }
		if err := json.Unmarshal(entries[0].Changes, &ch); err != nil {
			t.Fatal(err)
		}
		if c := ch["spending.user_session_cap"]; c.Before != 7.0 || c.After != nil || len(ch) != 5 {
			t.Fatalf("latest changes %+v: want the 5 keys the nulls reset, user_session_cap 7 → null", ch)
		}
	})
}

// TestQuotaResolution: a tenant's effective limits are platform → plan →
// tenant, each tier's value winning over the one before; the member limit
// on create follows the resolution.
func TestQuotaResolution(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		sys := apptest.System()
		n := func(v int64) *int64 { return &v }
		for _, c := range []struct {
			name     string
			platform string // quotas patch
			plan     string
			own      steward.TenantLimits
			want     steward.TenantLimits
		}{
			{"none: the plan's", `null`, "free", steward.TenantLimits{},
				steward.TenantLimits{MaxUsers: n(3), MaxConcurrentTasks: n(1), MaxDailyTasks: n(100)}},
			{"a plan without a limit takes the platform's", `{"max_users": 5, "max_daily_tasks": 7}`, "scale", steward.TenantLimits{},
				steward.TenantLimits{MaxUsers: n(5), MaxConcurrentTasks: n(50), MaxDailyTasks: n(7)}},
			{"the plan's wins over the platform's", `{"max_users": 5, "max_concurrent_tasks": 9}`, "free", steward.TenantLimits{},
				steward.TenantLimits{MaxUsers: n(3), MaxConcurrentTasks: n(1), MaxDailyTasks: n(100)}},
			{"the tenant's wins over both", `{"max_users": 5, "max_daily_tasks": 7}`, "scale", steward.TenantLimits{MaxUsers: n(0), MaxConcurrentTasks: n(2)},
				steward.TenantLimits{MaxUsers: n(0), MaxConcurrentTasks: n(2), MaxDailyTasks: n(7)}},
			{"nothing anywhere is unlimited", `null`, "scale", steward.TenantLimits{},
				steward.TenantLimits{MaxConcurrentTasks: n(50)}},
		} {
			mustPutConfig(t, a, `{"quotas": `+c.platform+`}`)
			own := c.own
			tn, err := a.Svc.Tenants.CreateTenant(sys, &steward.TenantCreate{Name: c.name, Plan: c.plan, Limits: &own})
			if err != nil {
				t.Fatal(err)
			}
			got, err := a.Svc.Tenants.GetTenant(sys, tn.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range []struct {
				name      string
				got, want *int64
			}{{"max_users", got.EffectiveLimits.MaxUsers, c.want.MaxUsers},
				{"max_concurrent_tasks", got.EffectiveLimits.MaxConcurrentTasks, c.want.MaxConcurrentTasks},
				{"max_daily_tasks", got.EffectiveLimits.MaxDailyTasks, c.want.MaxDailyTasks}} {
				if (x.got == nil) != (x.want == nil) || x.got != nil && *x.got != *x.want {
					t.Errorf("%s: effective %s = %v, want %v", c.name, x.name, deref(x.got), deref(x.want))
				}
			}
		}

		// The member limit: a scale tenant (no max_users) takes the
		// platform's 1 seat.
		mustPutConfig(t, a, `{"quotas": {"max_users": 1}}`)
		tn, err := a.Svc.Tenants.CreateTenant(sys, &steward.TenantCreate{Name: "Seats", Plan: "scale"})
		if err != nil {
			t.Fatal(err)
		}
		a.User(steward.RoleUser, func(in *steward.UserCreate) { in.TenantID = tn.ID })
		_, err = a.Svc.Users.CreateUser(sys, &steward.UserCreate{Email: "second@example.com", TenantID: tn.ID})
		if code(err) != steward.CodeTenantUserLimit {
			t.Fatalf("second member: %v, want TENANT_USER_LIMIT", err)
		}
		mustPutConfig(t, a, `{"quotas": {"max_users": 2}}`)
		if _, err := a.Svc.Users.CreateUser(sys, &steward.UserCreate{Email: "second@example.com", TenantID: tn.ID}); err != nil {
			t.Fatalf("second member once the platform allows 2: %v", err)
		}
	})
}

func deref(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

// TestSpendingDefaults: a tenant without its own cap is held to the
// platform's (402 naming tier platform); its own cap wins (tier tenant); the
// alert threshold is inherited likewise; the tenant shows both its own
// values and the effective ones; billing's near-cap list includes tenants
// capped by the platform only.
func TestSpendingDefaults(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		sys := apptest.System()
		fund := func(name string, sp *steward.SpendingCaps) *steward.Tenant {
			tn, err := a.Svc.Tenants.CreateTenant(sys, &steward.TenantCreate{Name: name, Spending: sp})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := a.Svc.Credits.Grant(sys, &steward.GrantInput{TenantID: tn.ID, Amount: 1000, Description: "funds"}); err != nil {
				t.Fatal(err)
			}
			return tn
		}
		deduct := func(tid string, n steward.Credits) error {
			_, err := a.Svc.Credits.Deduct(sys, &steward.DeductInput{TenantID: tid, Amount: n, Description: "use"})
			return err
		}
		inherits := fund("Inherits", nil)
		c20 := int64(20)
		own := fund("Own", &steward.SpendingCaps{MonthlyCap: &c20, AlertThresholdPercent: 90})
		mustPutConfig(t, a, `{"spending": {"monthly_cap": 10, "alert_threshold_percent": 50}}`)

		got, err := a.Svc.Tenants.GetTenant(sys, inherits.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Spending.MonthlyCap != nil || got.EffectiveSpending.MonthlyCap == nil || *got.EffectiveSpending.MonthlyCap != 10 ||
			got.EffectiveSpending.AlertThresholdPercent != 50 || got.Spending.AlertThresholdPercent != 50 {
			t.Fatalf("inheriting tenant: spending %+v effective %+v", got.Spending, got.EffectiveSpending)
		}

		if err := deduct(inherits.ID, 6); err != nil { // 60%: past the platform's 50% alert
			t.Fatal(err)
		}
		err = deduct(inherits.ID, 5)
		var se *steward.Error
		if !errors.As(err, &se) || se.Code != steward.CodeSpendingCapReached || se.Details["tier"] != "platform" ||
			se.Details["scope"] != "tenant" || se.Details["cap"] != "monthly" || se.Details["limit"] != int64(10) || se.Details["spent"] != int64(6) {
			t.Fatalf("over the platform's cap: %v %+v", err, se)
		}
		if err := deduct(own.ID, 19); err != nil { // its own 20 wins over the platform's 10
			t.Fatal(err)
		}
		err = deduct(own.ID, 2)
		if !errors.As(err, &se) || se.Details["tier"] != "tenant" || se.Details["limit"] != int64(20) {
			t.Fatalf("over its own cap: %v", err)
		}
		alerts, err := a.Store.ListAudit(sys, steward.AuditFilter{Action: "credits.spending_alert", Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		thresholds := map[string]float64{}
		for _, e := range alerts {
			var md map[string]any
			_ = json.Unmarshal(e.Metadata, &md)
			thresholds[e.TargetID] = md["threshold_percent"].(float64)
		}
		if len(alerts) != 2 || thresholds[inherits.ID] != 50 || thresholds[own.ID] != 90 {
			t.Fatalf("alerts: %v, want the platform's 50%% for %s and its own 90%% for %s", thresholds, inherits.ID, own.ID)
		}

		// Billing lists the tenant capped by the platform only.
		b, err := a.Svc.Series.Billing(sys, "")
		if err != nil {
			t.Fatal(err)
		}
		var found bool
		for _, c := range b.SpendingCaps {
			if c.TenantID == inherits.ID && c.Cap == "monthly" && c.Limit == 10 && c.Spent == 6 && c.ThresholdPercent == 50 {
				found = true
			}
		}
		if !found {
			t.Fatalf("billing near caps %+v: want %s at 6 of the platform's 10", b.SpendingCaps, inherits.ID)
		}
	})
}
