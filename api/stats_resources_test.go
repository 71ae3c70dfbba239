package api_test

import (
	"encoding/json"
	"os"
	"slices"
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
)

// TestStatsResourcesShape: GET /admin/stats carries the resource figures
// under the names openapi.json declares (every required key, and no other
// at each level), with every reported and desired status present.
func TestStatsResourcesShape(t *testing.T) {
	raw, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	type schema struct {
		Required   []string           `json:"required"`
		Properties map[string]*schema `json:"properties"`
	}
	var spec struct {
		Components struct {
			Schemas map[string]*schema `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &spec); err != nil {
		t.Fatal(err)
	}
	res := spec.Components.Schemas["Stats"].Properties["resources"]
	if res == nil || !slices.Contains(spec.Components.Schemas["Stats"].Required, "resources") {
		t.Fatal("openapi.json: Stats.resources is not a required property")
	}
	keys := func(m map[string]any) []string {
		var out []string
		for k := range m {
			out = append(out, k)
		}
		slices.Sort(out)
		return out
	}
	sorted := func(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		_, support := a.Operator(steward.RoleSupport)
		a.EnsureTenant(t, "ten_a")
		if _, err := a.Svc.Resources.ReportResource(apptest.System(), "vm-1",
			&steward.ResourceReport{Kind: "computer", TenantID: "ten_a", Status: steward.ResourceError}); err != nil {
			t.Fatal(err)
		}
		r := a.Do("GET", "/api/v1/admin/stats", support, nil)
		got, _ := r.Body["resources"].(map[string]any)
		if r.Status != 200 || !slices.Equal(keys(got), sorted(res.Required)) {
			t.Fatalf("resources %v, want the keys %v: %d %s", got, res.Required, r.Status, r.Raw)
		}
		for _, field := range []string{"by_status", "by_desired_status"} {
			m, _ := got[field].(map[string]any)
			if !slices.Equal(keys(m), sorted(res.Properties[field].Required)) {
				t.Fatalf("%s %v, want the keys %v", field, m, res.Properties[field].Required)
			}
		}
		if got["total"] != 1.0 || got["by_status"].(map[string]any)["error"] != 1.0 ||
			got["by_desired_status"].(map[string]any)["running"] != 1.0 || got["stale"] != 0.0 || got["stale_after"] != "168h0m0s" {
			t.Fatalf("resources: %s", r.Raw)
		}
	})
}
