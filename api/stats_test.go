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
