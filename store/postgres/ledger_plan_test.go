package postgres_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// TestLedgerChecksUseIndexes: in a transaction that writes the ledger (it
// has locked accounts, by LockCreditLedgers or LockCreditAccount), the
// foreign-key checks of a draw's insert, the lookup of its entry and of its
// block by id, are planned as index scans even when the tables are small
// enough for a sequential scan to look cheaper. PostgreSQL keeps the plan
// of such a check for the life of the connection, so one made while the
// table was small would scan the whole table for every draw once it is big.
func TestLedgerChecksUseIndexes(t *testing.T) {
	s := open(t)
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	err := s.Update(ctx, func(tx store.Tx) error {
		return tx.CreateTenant(ctx, &steward.Tenant{ID: "ten_p", Name: "P", Slug: "p", Plan: "free",
			Status: steward.TenantActive, BillingPeriodStart: now, CreatedAt: now, UpdatedAt: now})
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Raw().ExecRaw(ctx, "ANALYZE credit_entries, credit_blocks, tenants"); err != nil {
		t.Fatal(err)
	}
	checks := []string{
		`SELECT 1 FROM ONLY credit_entries x WHERE id = $1 FOR KEY SHARE OF x`,
		`SELECT 1 FROM ONLY credit_blocks x WHERE id = $1 FOR KEY SHARE OF x`,
		`SELECT 1 FROM ONLY tenants x WHERE id = $1 FOR KEY SHARE OF x`,
	}
	for name, lock := range map[string]func(tx store.Tx) error{
		"LockCreditLedgers": func(tx store.Tx) error {
			_, err := tx.LockCreditLedgers(ctx, []string{"ten_p"}, now)
			return err
		},
		"LockCreditAccount": func(tx store.Tx) error {
			_, err := tx.LockCreditAccount(ctx, "ten_p", now)
			return err
		},
	} {
		err = s.Update(ctx, func(tx store.Tx) error {
			if err := lock(tx); err != nil {
				return err
			}
			for _, q := range checks {
				text, err := explain(ctx, tx, q, "x")
				if err != nil {
					return err
				}
				if !strings.Contains(text, "Index Scan") {
					t.Errorf("after %s, %s is planned as:\n%s", name, q, text)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
}
