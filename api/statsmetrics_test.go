package api_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/api"
)

type fakeStats struct {
	calls int
	err   error
	actor steward.Actor
}

func (f *fakeStats) Stats(ctx context.Context, _ *time.Location) (*steward.Stats, error) {
	f.calls++
	f.actor, _ = steward.ActorFrom(ctx)
	if f.err != nil {
		return nil, f.err
	}
	return &steward.Stats{
		Users: steward.UserStats{Total: 5, ByStatus: map[steward.UserStatus]int64{"active": 4, "banned": 1},
			ByRole: map[steward.Role]int64{"user": 4, "owner": 1}},
		Tenants: steward.TenantStats{Total: 2, ByStatus: map[steward.TenantStatus]int64{"active": 2},
			ByPlan: map[string]int64{"free": 1, "pro": 1}},
		APIKeys: steward.KeyCounts{Total: 3, ByStatus: map[steward.KeyStatus]int64{"active": 2, "expired": 1},
			ByType: map[steward.KeyType]int64{"user": 3}},
		Sessions:       steward.SessionStats{Active: 7, StartedToday: 3},
		Impersonations: steward.ImpersonationStats{Active: 1},
		Credits: steward.CreditStats{Outstanding: 12345, Granted: 500, Deducted: 120, Refunded: 20, Used: 100,
			Expired: 5, Adjusted: -2},
		Usage: steward.UsageStats{Events: 9, ByMetric: map[string]steward.MetricUsage{"tokens": {Events: 9, Quantity: 40}}},
		Resources: steward.ResourceStats{Total: 3, ByStatus: map[steward.ResourceStatus]int64{"running": 2, "error": 1},
			ByDesired: map[steward.ResourceDesired]int64{"running": 1, "suspended": 2}, HeldByTenant: 1, Stale: 1},
	}, nil
}

// TestStatsCollector: the exposition of every gauge, read as the system;
// scrapes within StatsCacheTTL share one read; a failed read shows
// steward_stats_up 0 and no stale figures.
func TestStatsCollector(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f := &fakeStats{}
	c := api.NewStatsCollector(f, func() time.Time { return now }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	want := `
# HELP steward_api_keys API keys by their own state now.
# TYPE steward_api_keys gauge
steward_api_keys{status="active"} 2
steward_api_keys{status="expired"} 1
# HELP steward_api_keys_by_type API keys by type.
# TYPE steward_api_keys_by_type gauge
steward_api_keys_by_type{type="user"} 3
# HELP steward_credits_month_to_date Credits moved by the ledger since the start of the UTC month, by kind (used is deducted less refunded).
# TYPE steward_credits_month_to_date gauge
steward_credits_month_to_date{kind="adjusted"} -2
steward_credits_month_to_date{kind="deducted"} 120
steward_credits_month_to_date{kind="expired"} 5
steward_credits_month_to_date{kind="granted"} 500
steward_credits_month_to_date{kind="refunded"} 20
steward_credits_month_to_date{kind="used"} 100
# HELP steward_credits_outstanding The sum of every tenant's credit balance.
# TYPE steward_credits_outstanding gauge
steward_credits_outstanding 12345
# HELP steward_impersonations_active Impersonations neither ended nor expired.
# TYPE steward_impersonations_active gauge
steward_impersonations_active 1
# HELP steward_resources Stored resources by reported status.
# TYPE steward_resources gauge
steward_resources{status="error"} 1
steward_resources{status="running"} 2
# HELP steward_resources_by_desired_status Stored resources by desired status.
# TYPE steward_resources_by_desired_status gauge
steward_resources_by_desired_status{desired_status="running"} 1
steward_resources_by_desired_status{desired_status="suspended"} 2
# HELP steward_resources_held Resources held suspended by their tenant's suspension or deletion.
# TYPE steward_resources_held gauge
steward_resources_held 1
# HELP steward_resources_stale Resources not reported for STEWARD_RESOURCE_STALE_AFTER.
# TYPE steward_resources_stale gauge
steward_resources_stale 1
# HELP steward_sessions_active Sessions neither revoked nor expired.
# TYPE steward_sessions_active gauge
steward_sessions_active 7
# HELP steward_sessions_started_today Sessions started since the start of the UTC day.
# TYPE steward_sessions_started_today gauge
steward_sessions_started_today 3
# HELP steward_stats_up 1 when the stats were read, 0 when reading them failed.
# TYPE steward_stats_up gauge
steward_stats_up 1
# HELP steward_tenants Tenants by status.
# TYPE steward_tenants gauge
steward_tenants{status="active"} 2
# HELP steward_tenants_by_plan Tenants by plan.
# TYPE steward_tenants_by_plan gauge
steward_tenants_by_plan{plan="free"} 1
steward_tenants_by_plan{plan="pro"} 1
# HELP steward_usage_events_month_to_date Usage events that occurred since the start of the UTC month, by metric.
# TYPE steward_usage_events_month_to_date gauge
steward_usage_events_month_to_date{metric="tokens"} 9
# HELP steward_users Stored users by status (soft-deleted ones under deleted).
# TYPE steward_users gauge
steward_users{status="active"} 4
steward_users{status="banned"} 1
# HELP steward_users_by_role Stored users by role.
# TYPE steward_users_by_role gauge
steward_users_by_role{role="owner"} 1
steward_users_by_role{role="user"} 4
`
	scrape := func() string {
		t.Helper()
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(c)
		rec := httptest.NewRecorder()
		promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		return "\n" + rec.Body.String()
	}
	if got := scrape(); got != want {
		t.Fatalf("exposition:%s\nwant:%s", got, want)
	}
	if f.actor.Type != steward.ActorSystem || f.actor.ID != steward.SystemActor.ID {
		t.Fatalf("read as %+v, want the system", f.actor)
	}
	now = now.Add(StatsCacheTTLForTest - time.Millisecond)
	scrape()
	if f.calls != 1 {
		t.Fatalf("%d reads within the cache's second, want 1", f.calls)
	}
	now = now.Add(time.Millisecond)
	f.err = errors.New("database down")
	if got := scrape(); got != `
# HELP steward_stats_up 1 when the stats were read, 0 when reading them failed.
# TYPE steward_stats_up gauge
steward_stats_up 0
` || f.calls != 2 {
		t.Fatalf("a failed read (%d reads):%s", f.calls, got)
	}
}

// StatsCacheTTLForTest pins the documented cache length.
const StatsCacheTTLForTest = time.Second

func init() {
	if api.StatsCacheTTL != StatsCacheTTLForTest {
		panic("docs/overview.md states a one-second metrics cache")
	}
}
