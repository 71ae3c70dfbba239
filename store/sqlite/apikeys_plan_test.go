package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stewardhq/steward"
)

// TestAPIKeyPlans pins the indexes of 00002_api_keys.sql: verification finds
// a key with one unique-index lookup, each list filter alone is a range scan
// already in page order, and ids look users up one by one.
func TestAPIKeyPlans(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "plan.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}

	for query, index := range map[string]string{
		getAPIKeyByHashSQL: "sqlite_autoindex_api_keys_2",
		getAPIKeySQL:       "sqlite_autoindex_api_keys_1",
	} {
		plan := explain(t, s, query, "x")
		if !strings.HasPrefix(plan, "SEARCH api_keys USING INDEX "+index) || strings.Contains(plan, ";") {
			t.Errorf("%s: plan %q, want one search of %s", query, plan, index)
		}
	}

	const before = "key_5"
	for _, tc := range []struct {
		f     steward.KeyFilter
		index string
	}{
		{steward.KeyFilter{Before: before}, "sqlite_autoindex_api_keys_1"},
		{steward.KeyFilter{TenantID: "ten_1", Before: before}, "api_keys_tenant_id"},
		{steward.KeyFilter{UserID: "usr_1", Before: before}, "api_keys_user_id"},
		{steward.KeyFilter{Status: steward.KeyActive, Before: before}, "api_keys_status_id"},
		// revoked includes scheduled revocations that have come (an OR over
		// two columns): it walks the id index, still in order, no sort.
		{steward.KeyFilter{Status: steward.KeyRevoked, Before: before}, "sqlite_autoindex_api_keys_1"},
		{steward.KeyFilter{Type: steward.KeyAdmin, Before: before}, "api_keys_type_id"},
	} {
		query, args := listAPIKeysSQL(tc.f)
		plan := explain(t, s, query, args...)
		if !strings.Contains(plan, tc.index) || strings.Contains(plan, "TEMP B-TREE") || strings.Contains(plan, "SCAN api_keys") {
			t.Errorf("%+v: plan %q, want a search of %s and no sort", tc.f, plan, tc.index)
		}
	}

	if plan := explain(t, s, usersByIDsSQL, `["usr_1"]`); !strings.Contains(plan, "SEARCH u USING INDEX sqlite_autoindex_users_1 (id=?)") {
		t.Errorf("users by ids plan %q, want a lookup of each id", plan)
	}
	// The stats' recent windows: one index range each, never the table.
	if plan := explain(t, s, apiKeyRecentSQL, 3, 2, 1); strings.Contains(plan, "SCAN api_keys") ||
		!strings.Contains(plan, "api_keys_created_at") || !strings.Contains(plan, "api_keys_last_used_at") {
		t.Errorf("recent keys plan %q, want the created_at and last_used_at indexes", plan)
	}
	if plan := explain(t, s, "DELETE FROM idempotency WHERE expires_at <= ?", 0); !strings.Contains(plan, "idempotency_expires_at") {
		t.Errorf("expired idempotency plan %q, want the expires_at index", plan)
	}
}
