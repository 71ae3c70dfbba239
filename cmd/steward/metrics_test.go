package main

import (
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeExposesStatsGauges: steward serve registers the stats gauges on
// /metrics, read from the database it serves.
func TestServeExposesStatsGauges(t *testing.T) {
	env := map[string]string{
		"STEWARD_DB":                 "sqlite:" + filepath.Join(t.TempDir(), "s.db"),
		"STEWARD_BOOTSTRAP_EMAIL":    "ops@example.com",
		"STEWARD_BOOTSTRAP_PASSWORD": "a-chosen-password",
	}
	url, _, stop := boot(t, env)
	defer stop()
	if code := login(t, url, "ops@example.com", "a-chosen-password"); code != 200 {
		t.Fatalf("login: %d", code)
	}
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, line := range []string{`steward_stats_up 1`, `steward_users{status="active"} 1`, `steward_users{status="banned"} 0`,
		`steward_users_by_role{role="super_admin"} 1`, `steward_tenants_by_plan{plan="free"} 0`, `steward_api_keys{status="revoked"} 0`,
		`steward_sessions_active 1`, `steward_impersonations_active 0`, `steward_credits_outstanding 0`} {
		if !strings.Contains(string(body), "\n"+line+"\n") {
			t.Fatalf("/metrics lacks %q:\n%s", line, body)
		}
	}
}
