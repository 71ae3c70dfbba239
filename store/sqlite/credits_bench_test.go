package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
	"github.com/stewardhq/steward/store/sqlite"
)

// BenchmarkLedgerWrite is the store's part of a deduct (read the tenant,
// lock its account, read its blocks, write the block, the account and the
// entry with one draw), one or 20 to a commit, with each synchronous
// setting. It reports the time a deduct takes, the setting in its name.
func BenchmarkLedgerWrite(b *testing.B) {
	for _, sync := range []string{sqlite.SynchronousFull, sqlite.SynchronousNormal} {
		for _, perCommit := range []int{1, 20} {
			b.Run(fmt.Sprintf("synchronous=%s/per_commit=%d", sync, perCommit), func(b *testing.B) {
				benchLedgerWrite(b, sync, perCommit)
			})
		}
	}
}

func benchLedgerWrite(b *testing.B, sync string, perCommit int) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "ledger.db")+"?synchronous="+sync)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	if got := s.Synchronous(); got != sync {
		b.Fatalf("Synchronous() = %q, want %q", got, sync)
	}
	now := time.Now()
	err = s.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateTenant(ctx, &steward.Tenant{ID: "ten_1", Name: "One", Slug: "one", Plan: "free",
			Status: steward.TenantActive, BillingPeriodStart: now, CreatedAt: now, UpdatedAt: now}); err != nil {
			return err
		}
		return tx.InsertCreditBlock(ctx, &steward.CreditBlock{ID: "blk_1", TenantID: "ten_1", Amount: 1 << 40,
			Remaining: 1 << 40, CreatedAt: now})
	})
	if err != nil {
		b.Fatal(err)
	}
	deducts := 0
	for b.Loop() {
		err := s.Update(ctx, func(tx store.Tx) error {
			for range perCommit {
				deducts++
				if _, err := tx.GetTenant(ctx, "ten_1"); err != nil {
					return err
				}
				a, err := tx.LockCreditAccount(ctx, "ten_1", now)
				if err != nil {
					return err
				}
				blocks, err := tx.ListCreditBlocks(ctx, "ten_1")
				if err != nil {
					return err
				}
				if err := tx.SetBlockRemaining(ctx, blocks[0].ID, blocks[0].Remaining-1); err != nil {
					return err
				}
				a.Balance, a.LastSeq = a.Balance-1, a.LastSeq+1
				if err := tx.UpdateCreditAccount(ctx, a); err != nil {
					return err
				}
				err = tx.InsertLedgerEntry(ctx, &steward.LedgerEntry{ID: fmt.Sprintf("cre_%012d", deducts),
					TenantID: "ten_1", Seq: a.LastSeq, Kind: steward.LedgerDeduct, Amount: -1, BalanceAfter: a.Balance,
					IdempotencyKey: fmt.Sprintf("req-%d", deducts), CreatedAt: now,
					Draws: []steward.Draw{{BlockID: blocks[0].ID, Amount: -1}}})
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(deducts), "µs/deduct")
}
