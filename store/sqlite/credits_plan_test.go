package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
)

// TestCreditPlans pins the indexes of 00004_credits.sql: every read of one
// tenant's or one entry's rows, and the purge's cascade, walks an index
// range (the deduct path and a tenant's purge cost that tenant's size, not
// the database's); a ledger page reads its range in page order; usage is
// aggregated from the window's range of occurred_at.
func TestCreditPlans(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "plan.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}

	noScan := func(what, plan string) {
		t.Helper()
		if strings.Contains(plan, "SCAN ") && !strings.Contains(plan, "SCAN CONSTANT ROW") {
			t.Errorf("%s:\n plan %q reads a whole table", what, plan)
		}
	}
	for _, tc := range []struct {
		query string
		want  []string // each a step of the plan
	}{
		{getCreditAccountSQL, []string{"SEARCH credit_accounts USING INDEX sqlite_autoindex_credit_accounts_1 (tenant_id=?)"}},
		{listCreditBlocksSQL, []string{"SEARCH credit_blocks USING INDEX credit_blocks_open (tenant_id=?)"}},
		{listLapsedBlocksSQL, []string{"SEARCH credit_blocks USING INDEX credit_blocks_lapsing (expires_at>? AND expires_at<?)"}},
		{getCreditBlockSQL, []string{"SEARCH credit_blocks USING INDEX sqlite_autoindex_credit_blocks_1 (id=?)"}},
		{setBlockRemainingSQL, []string{"SEARCH credit_blocks USING INDEX sqlite_autoindex_credit_blocks_1 (id=?)"}},
		{getLedgerEntrySQL, []string{"SEARCH e USING INDEX sqlite_autoindex_credit_entries_1 (id=?)",
			"SEARCH d USING PRIMARY KEY (entry_id=?)"}},
		{getLedgerEntryByKeySQL, []string{"SEARCH e USING INDEX credit_entries_idempotency (tenant_id=? AND idempotency_key=?)",
			"SEARCH d USING PRIMARY KEY (entry_id=?)"}},
		{refundedAmountSQL, []string{"SEARCH credit_entries USING INDEX credit_entries_related (related_id=?)"}},
		{getUsageEventSQL, []string{"SEARCH usage_events USING PRIMARY KEY (tenant_id=? AND id=?)"}},
		{purgeCountsSQL, []string{"SEARCH credit_entries USING COVERING INDEX", "(tenant_id=?)",
			"SEARCH usage_events USING COVERING INDEX"}},
		// What the tenant's delete cascades to.
		{"DELETE FROM credit_accounts WHERE tenant_id = ?", []string{"sqlite_autoindex_credit_accounts_1 (tenant_id=?)"}},
		{"DELETE FROM credit_blocks WHERE tenant_id = ?", []string{"credit_blocks_tenant (tenant_id=?)"}},
		{"DELETE FROM credit_entries WHERE tenant_id = ?", []string{"(tenant_id=?)"}},
		{"DELETE FROM credit_draws WHERE entry_id = ?", []string{"PRIMARY KEY (entry_id=?)"}},
		{"DELETE FROM credit_draws WHERE block_id = ?", []string{"credit_draws_block (block_id=?)"}},
		{"DELETE FROM usage_events WHERE tenant_id = ?", []string{"(tenant_id=?)"}},
	} {
		plan := explain(t, s, tc.query, params(tc.query)...)
		for _, step := range tc.want {
			if !strings.Contains(plan, step) {
				t.Errorf("%s:\n plan %q\n lacks %q", tc.query, plan, step)
			}
		}
		noScan(tc.query, plan)
	}

	now := time.Now()
	for _, tc := range []struct {
		f     steward.LedgerFilter
		index string
	}{
		{steward.LedgerFilter{TenantID: "ten_1"}, "credit_entries_seq (tenant_id=?)"},
		{steward.LedgerFilter{TenantID: "ten_1", BeforeSeq: 5}, "credit_entries_seq (tenant_id=? AND seq<?)"},
		{steward.LedgerFilter{TenantID: "ten_1", Kind: steward.LedgerDeduct, BeforeSeq: 5},
			"credit_entries_kind (tenant_id=? AND kind=? AND seq<?)"},
		{steward.LedgerFilter{TenantID: "ten_1", Since: &now, Until: &now, BeforeSeq: 5},
			"credit_entries_seq (tenant_id=? AND seq<?)"},
	} {
		query, args := listLedgerSQL(tc.f)
		plan := explain(t, s, query, args...)
		// The draws of each entry are sorted by ord, not the page.
		if !strings.Contains(plan, tc.index) || strings.Contains(plan, "TEMP B-TREE FOR ORDER BY") {
			t.Errorf("%+v: plan %q, want a search of %s and no sort of the page", tc.f, plan, tc.index)
		}
		noScan(query, strings.ReplaceAll(plan, "SCAN e", ""))
	}

	for _, group := range []steward.UsageGroup{steward.UsageByTenant, steward.UsageByUser, steward.UsageByMetric,
		steward.UsageByModel} {
		for tenant, index := range map[string]string{
			"":      "usage_events_occurred (occurred_at>? AND occurred_at<?)",
			"ten_1": "usage_events_tenant_occurred (tenant_id=? AND occurred_at>? AND occurred_at<?)",
		} {
			query, args, err := aggregateUsageSQL(steward.UsageQuery{Start: now, End: now, GroupBy: group, TenantID: tenant})
			if err != nil {
				t.Fatal(err)
			}
			if plan := explain(t, s, query, args...); !strings.Contains(plan, index) {
				t.Errorf("usage by %s (tenant %q): plan %q, want a search of %s", group, tenant, plan, index)
			}
		}
	}
}
