package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestStatsPlans pins what keeps GET /admin/stats constant-time: the time
// corrections and the sweeper read only the partial indexes of rows not yet
// swept (migration 00008), never a whole table.
func TestStatsPlans(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "plan.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{readCountersSQL, []string{"SCAN stat_counters"}},
		{lapsedSessionsSQL, []string{"SEARCH sessions USING INDEX sessions_lapsing (expires_at<?)"}},
		{lapsedImpersonationsSQL, []string{"SEARCH impersonations USING INDEX impersonations_open (expires_at<?)"}},
		{lapsedBansSQL, []string{"SEARCH users USING COVERING INDEX users_ban_expires (ban_expires_at<?)"}},
		{lapsedKeysSQL, []string{"SEARCH api_keys USING INDEX api_keys_revoking (revoked_at>? AND revoked_at<?)",
			"SEARCH api_keys USING INDEX api_keys_expiring (expires_at>? AND expires_at<?)"}},
		{readGaugesSQL, []string{"SCAN stat_counters", "sessions_lapsing (expires_at<?)", "impersonations_open (expires_at<?)",
			"users_ban_expires (ban_expires_at<?)", "api_keys_revoking", "api_keys_expiring"}},
		{sweepSessionsSQL, []string{"sessions_lapsing (expires_at<?)"}},
		{sweepRevokedKeysSQL, []string{"api_keys_revoking (revoked_at>? AND revoked_at<?)"}},
		{sweepExpiredKeysSQL, []string{"api_keys_expiring (expires_at>? AND expires_at<?)"}},
	} {
		plan := explain(t, s, tc.query, params(tc.query)...)
		for _, step := range tc.want {
			if !strings.Contains(plan, step) {
				t.Errorf("%s:\n plan %q\n lacks %q", tc.query, plan, step)
			}
		}
		// Allowed: the counters themselves (a few dozen rows), the key moves'
		// subquery (k, itself index searches) and the constant rows of the
		// scalar counts.
		rest := strings.NewReplacer("SCAN stat_counters", "", "SCAN k", "", "SCAN CONSTANT ROW", "").Replace(plan)
		if strings.Contains(rest, "SCAN ") {
			t.Errorf("%s:\n plan %q reads a whole table", tc.query, plan)
		}
	}
}
