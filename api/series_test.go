package api_test

import (
	"testing"

	"github.com/stewardhq/steward/internal/apptest"
)

// TestDashboardAndBillingHTTP: the answers' shape, and every bad query
// value a 422 naming its parameter (never a 5xx).
func TestDashboardAndBillingHTTP(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		r := a.Do("GET", "/api/v1/admin/dashboard?days=3&tz=Pacific/Auckland", a.RootToken, nil)
		if r.Status != 200 || r.Get("days") != 3.0 || r.Get("tz") != "Pacific/Auckland" {
			t.Fatalf("dashboard: %d %s", r.Status, r.Raw)
		}
		signups, _ := r.Get("series.signups").([]any)
		if len(signups) != 3 {
			t.Fatalf("3 days of signups: %s", r.Raw)
		}
		// The bootstrap owner signed up at 2026-03-01 12:00Z: 03-02 01:00 in Auckland, today.
		if last, _ := signups[2].(map[string]any); last["date"] != "2026-03-02" || last["value"] != 1.0 {
			t.Errorf("today in Auckland = %v", last)
		}
		// The stats beside the series are the same figures, in the same zone.
		if r.Get("stats.users.total") != 1.0 || r.Get("stats.sessions.started_today") != 1.0 ||
			r.Get("stats.month") != "2026-03" || r.Get("stats.tz") != "Pacific/Auckland" {
			t.Errorf("stats: %s", r.Raw)
		}
		r = a.Do("GET", "/api/v1/admin/dashboard", a.RootToken, nil)
		if r.Status != 200 || r.Get("days") != 30.0 || r.Get("tz") != "UTC" {
			t.Fatalf("dashboard defaults: %d %s", r.Status, r.Raw)
		}
		r = a.Do("GET", "/api/v1/admin/billing?month=2026-03", a.RootToken, nil)
		if r.Status != 200 || r.Get("plans_source") != "live" || r.Get("plans.free.in_catalogue") != true {
			t.Fatalf("billing: %d %s", r.Status, r.Raw)
		}
		for _, c := range []struct{ query, field string }{
			{"dashboard?days=abc", "days"}, {"dashboard?days=0", "days"}, {"dashboard?days=366", "days"},
			{"dashboard?days=99999999999999999999", "days"}, {"dashboard?tz=Nowhere/City", "tz"},
			{"dashboard?tz=Local", "tz"}, {"billing?month=2026-13", "month"}, {"billing?month=2027-01", "month"},
			{"billing?month=x", "month"},
		} {
			r := a.Do("GET", "/api/v1/admin/"+c.query, a.RootToken, nil)
			if r.Status != 422 || r.Get("details.fields."+c.field) == nil {
				t.Errorf("%s: %d %s; want 422 naming %s", c.query, r.Status, r.Raw, c.field)
			}
		}
		if r := a.Do("GET", "/api/v1/admin/billing?months=2026-03", a.RootToken, nil); r.Status != 400 {
			t.Errorf("an undeclared parameter: %d", r.Status)
		}
	})
}
