package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestResourceCountPlans pins the indexes GET /admin/stats and the tenant
// detail and purge read resources through: the stale count walks
// resources_last_seen's stale range, a tenant's held resources are
// resources_held's entries for it (migration 00021), and the purge count
// the tenant's range of resources_tenant_id. None reads the whole table.
func TestResourceCountPlans(t *testing.T) {
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
		want  string
	}{
		{countStaleResourcesSQL, "SEARCH resources USING COVERING INDEX resources_last_seen (last_seen_at<?)"},
		{countTenantHoldsSQL, "SEARCH resources USING COVERING INDEX resources_held (tenant_id=?)"},
		{purgeCountsSQL, "SEARCH resources USING COVERING INDEX resources_tenant_id (tenant_id=?)"},
	} {
		plan := explain(t, s, tc.query, params(tc.query)...)
		if !strings.Contains(plan, tc.want) {
			t.Errorf("%s:\n plan %q\n lacks %q", tc.query, plan, tc.want)
		}
		if strings.Contains(plan, "SCAN resources") {
			t.Errorf("%s:\n plan %q reads the whole table", tc.query, plan)
		}
	}
}
