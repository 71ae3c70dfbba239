package postgres_test

import (
	"fmt"
	"regexp"
	"testing"
)

// TestLedgerUpdatesStayOffIndexes: the columns every ledger batch rewrites
// are in no index of their table, key or predicate, so PostgreSQL can
// update those rows in place (HOT: no new index entries) instead of adding
// an entry to every index of the table per write (00025).
func TestLedgerUpdatesStayOffIndexes(t *testing.T) {
	s := open(t)
	hot := map[string][]string{
		"credit_blocks":   {"remaining"},
		"credit_accounts": {"balance", "last_seq", "day_spent", "month_spent", "updated_at"},
		"tenant_monthly":  {"credits_granted", "credits_used"},
	}
	for table, cols := range hot {
		_, rows, err := s.Raw().QueryRaw(t.Context(),
			"SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = $1::regclass", table)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) == 0 {
			t.Fatalf("%s has no indexes: the query found nothing to check", table)
		}
		for _, r := range rows {
			def := fmt.Sprint(r[0])
			for _, c := range cols {
				if regexp.MustCompile(`\b` + c + `\b`).MatchString(def) {
					t.Errorf("%s: %s reads %s, which every ledger write changes", table, def, c)
				}
			}
		}
	}
}
