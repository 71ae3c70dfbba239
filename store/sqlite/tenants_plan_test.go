package sqlite

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stewardhq/steward"
)

// TestTenantPlans pins the indexes of 00003_tenants.sql: every statement of
// the suspend cascade, the release and the purge walks one index range (no
// statement reads a whole table, so its cost is the tenant's size, not the
// database's), and each list filter alone is a range scan in page order.
func TestTenantPlans(t *testing.T) {
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
		want  []string // each a step of the plan
	}{
		{holdTenantUsersSQL, []string{"SEARCH users USING INDEX users_tenant_id (tenant_id=?)"}},
		{suspendTenantUsersSQL, []string{"SEARCH users USING INDEX users_tenant_id (tenant_id=?)"}},
		{revokeHeldSessionsSQL, []string{"SEARCH sessions USING INDEX sessions_user_id (user_id=?)",
			"SEARCH tenant_held_users USING PRIMARY KEY (tenant_id=?)"}},
		{holdTenantKeysSQL, []string{"SEARCH api_keys USING INDEX api_keys_tenant_id (tenant_id=?)"}},
		{disableTenantKeysSQL, []string{"SEARCH api_keys USING INDEX api_keys_tenant_id (tenant_id=?)"}},
		{releaseUsersSQL, []string{"SEARCH users USING INDEX sqlite_autoindex_users_1 (id=?)",
			"SEARCH tenant_held_users USING PRIMARY KEY (tenant_id=?)"}},
		{releaseKeysSQL, []string{"SEARCH api_keys USING INDEX sqlite_autoindex_api_keys_1 (id=?)",
			"SEARCH tenant_held_keys USING PRIMARY KEY (tenant_id=?)"}},
		{dropUserHoldsSQL, []string{"SEARCH tenant_held_users USING PRIMARY KEY (tenant_id=?)"}},
		{dropKeyHoldsSQL, []string{"SEARCH tenant_held_keys USING PRIMARY KEY (tenant_id=?)"}},
		{countTenantHoldsSQL, []string{"SEARCH tenant_held_users USING PRIMARY KEY (tenant_id=?)",
			"SEARCH tenant_held_keys USING PRIMARY KEY (tenant_id=?)"}},
		{countTenantMembersSQL, []string{"SEARCH users USING INDEX users_tenant_id (tenant_id=?)"}},
		{purgeCountsSQL, []string{"sqlite_autoindex_tenants_1 (id=?)", "users_tenant_id (tenant_id=?)",
			"sessions_user_id (user_id=?)", "api_keys_user_id (user_id=?)", "SEARCH k USING INDEX api_keys_tenant_id (tenant_id=?)",
			"SEARCH u USING INDEX sqlite_autoindex_users_1 (id=?)", "tenant_plan_changes_tenant (tenant_id=?)"}},
		{purgeTenantUsersSQL, []string{"users_tenant_id (tenant_id=?)"}},
		{purgeTenantKeysSQL, []string{"api_keys_tenant_id (tenant_id=?)"}}, // covering since api_keys has delete triggers (00008)
		{purgeTenantSQL, []string{"SEARCH tenants USING INDEX sqlite_autoindex_tenants_1 (id=?)"}},
		{getTenantSQL, []string{"SEARCH tenants USING INDEX sqlite_autoindex_tenants_1 (id=?)"}},
		{getTenantBySlugSQL, []string{"SEARCH tenants USING INDEX sqlite_autoindex_tenants_2 (slug=?)"}},
		// Verification: one lookup in each table.
		{getAPIKeyForVerifySQL, []string{"SEARCH k USING INDEX sqlite_autoindex_api_keys_2 (secret_hash=?)",
			"SEARCH u USING INDEX sqlite_autoindex_users_1 (id=?)", "SEARCH t USING INDEX sqlite_autoindex_tenants_1 (id=?)"}},
	} {
		plan := explain(t, s, tc.query, params(tc.query)...)
		for _, step := range tc.want {
			if !strings.Contains(plan, step) {
				t.Errorf("%s:\n plan %q\n lacks %q", tc.query, plan, step)
			}
		}
		if strings.Contains(plan, "SCAN ") && !strings.Contains(plan, "SCAN CONSTANT ROW") {
			t.Errorf("%s:\n plan %q reads a whole table", tc.query, plan)
		}
	}

	const before = "ten_5"
	for _, tc := range []struct {
		f     steward.TenantFilter
		index string
	}{
		{steward.TenantFilter{Before: before}, "sqlite_autoindex_tenants_1"},
		{steward.TenantFilter{Status: steward.TenantSuspended, Before: before}, "tenants_status_id"},
		{steward.TenantFilter{Plan: "pro", Before: before}, "tenants_plan_id"},
		// q reads the tenants newest first, and stops at a full page.
		{steward.TenantFilter{Q: "acme", Before: before}, "sqlite_autoindex_tenants_1"},
	} {
		query, args := listTenantsSQL(tc.f)
		plan := explain(t, s, query, args...)
		if !strings.Contains(plan, tc.index) || strings.Contains(plan, "TEMP B-TREE") || strings.Contains(plan, "SCAN ") {
			t.Errorf("%+v: plan %q, want a search of %s and no sort", tc.f, plan, tc.index)
		}
	}
	query, args := listPlanChangesSQL("ten_1", "tpc_5", 10)
	if plan := explain(t, s, query, args...); !strings.Contains(plan, "tenant_plan_changes_tenant (tenant_id=? AND id<?)") ||
		strings.Contains(plan, "TEMP B-TREE") {
		t.Errorf("plan changes plan %q, want a range of (tenant_id, id) and no sort", plan)
	}
}

// params returns an argument for each parameter of query: as many as the
// highest ?N, or else one a ?.
func params(query string) []any {
	n := strings.Count(query, "?")
	for i := 9; i >= 1; i-- {
		if strings.Contains(query, "?"+strconv.Itoa(i)) {
			n = i
			break
		}
	}
	args := make([]any, n)
	for i := range args {
		args[i] = "x"
	}
	return args
}
