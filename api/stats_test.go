package api_test

import (
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
)

// TestStatsEndpoint: GET /admin/stats answers the figures with every status
// present, in the zone asked for; a bad or unsupported tz is a 422 naming
// tz; an undeclared parameter is a 400.
func TestStatsEndpoint(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		_, support := a.Operator(steward.RoleSupport)
		a.User(steward.RoleUser)
		r := a.Do("GET", "/api/v1/admin/stats?tz=Asia/Tokyo", support, nil)
		if r.Status != 200 {
			t.Fatalf("GET stats: %d %s", r.Status, r.Raw)
		}
		users := r.Body["users"].(map[string]any)
		byStatus := users["by_status"].(map[string]any)
		keys := r.Body["api_keys"].(map[string]any)["by_status"].(map[string]any)
		if users["total"] != 3.0 || byStatus["active"] != 3.0 || byStatus["banned"] != 0.0 || keys["revoked"] != 0.0 ||
			r.Body["tz"] != "Asia/Tokyo" || r.Body["month"] != "2026-03" ||
			r.Body["sessions"].(map[string]any)["active"] != 2.0 {
			t.Fatalf("stats: %s", r.Raw)
		}
		if r := a.Do("GET", "/api/v1/admin/stats", support, nil); r.Status != 200 || r.Body["tz"] != "UTC" {
			t.Fatalf("default tz: %d %s", r.Status, r.Raw)
		}
		for _, tz := range []string{"Mars/Olympus", "Local", "../../etc/passwd", "%00"} {
			r := a.Do("GET", "/api/v1/admin/stats?tz="+tz, support, nil)
			fields, _ := r.Body["details"].(map[string]any)["fields"].(map[string]any)
			if r.Status != 422 || r.Body["code"] != steward.CodeValidation || fields["tz"] == nil {
				t.Fatalf("tz=%s: %d %s", tz, r.Status, r.Raw)
			}
		}
		if r := a.Do("GET", "/api/v1/admin/stats?zone=UTC", support, nil); r.Status != 400 {
			t.Fatalf("an undeclared parameter: %d %s", r.Status, r.Raw)
		}
	})
}

// TestStatsMonthFigures: the month's ledger movements, usage and today's
// sessions come from the hourly buckets, beside the gauges' outstanding.
func TestStatsMonthFigures(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		a.EnsureTenant(t, "ten_month")
		for _, c := range []struct {
			path string
			body map[string]any
		}{
			{"/api/v1/admin/credits/grant", map[string]any{"tenant_id": "ten_month", "amount": 100, "description": "top up"}},
			{"/api/v1/admin/credits/deduct", map[string]any{"tenant_id": "ten_month", "amount": 30, "description": "job"}},
		} {
			if r := a.Do("POST", c.path, a.RootToken, c.body); r.Status != 200 && r.Status != 201 {
				t.Fatalf("%s: %d %s", c.path, r.Status, r.Raw)
			}
		}
		recordUsageEvents(t, a, "ten_month", []steward.UsageEventInput{
			{Metric: "tokens", Quantity: 7, CostMicros: 250}, {Metric: "tokens", Quantity: 3}, {Metric: "images", Quantity: 1}})
		r := a.Do("GET", "/api/v1/admin/stats", a.RootToken, nil)
		if r.Status != 200 {
			t.Fatalf("stats: %d %s", r.Status, r.Raw)
		}
		want := map[string]any{"credits.granted": 100.0, "credits.deducted": 30.0, "credits.used": 30.0,
			"credits.outstanding": 70.0, "usage.events": 3.0, "usage.quantity": 11.0, "usage.cost_micros": 250.0,
			"usage.by_metric.tokens.events": 2.0, "usage.by_metric.images.quantity": 1.0, "sessions.started_today": 1.0}
		for path, v := range want {
			if got := r.Get(path); got != v {
				t.Errorf("%s = %v, want %v: %s", path, got, v, r.Raw)
			}
		}
	})
}
