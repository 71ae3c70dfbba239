package sqlite_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// Statements counts what write transactions run, and nothing else.
func TestStatements(t *testing.T) {
	s := openStore(t)
	ctx := t.Context()
	if n := s.Statements(); n != 0 {
		t.Fatalf("Statements after Open and Migrate = %d, want 0", n)
	}
	step := func(what string, want uint64, fn func(tx store.Tx) error) {
		t.Helper()
		before := s.Statements()
		_ = s.Update(ctx, fn)
		if got := s.Statements() - before; got != want {
			t.Errorf("%s: %d statements, want %d", what, got, want)
		}
	}
	u := user(1, "One")
	now := time.Now()
	step("a user and two keys", 3, func(tx store.Tx) error {
		if err := tx.CreateUser(ctx, u); err != nil {
			return err
		}
		for _, id := range []string{"key_1", "key_2"} {
			if err := tx.CreateAPIKey(ctx, &steward.APIKey{ID: id, Type: steward.KeyUser, UserID: u.ID,
				Status: steward.KeyActive, SecretHash: []byte(id), CreatedAt: now, UpdatedAt: now}); err != nil {
				return err
			}
		}
		return nil
	})
	step("reads inside, and a transaction that fails", 2, func(tx store.Tx) error {
		if _, err := tx.GetUser(ctx, u.ID); err != nil {
			return err
		}
		if _, err := tx.ListUsers(ctx, steward.UserFilter{}); err != nil {
			return err
		}
		return errors.New("rolled back")
	})
	step("a prepared statement run per key", 2, func(tx store.Tx) error {
		return tx.RecordKeyUses(ctx, []steward.KeyUse{{KeyID: "key_1", At: now}, {KeyID: "key_2", At: now},
			{KeyID: "key_1", At: now.Add(-time.Second)}})
	})
	if _, err := s.ListUsers(ctx, steward.UserFilter{}); err != nil {
		t.Fatal(err)
	}
	step("a read outside a transaction, then nothing", 0, func(tx store.Tx) error { return nil })

	// The store's part of suspending, releasing and purging a tenant.
	seedTenant(t, s, 100)
	before := s.Statements()
	if users, _, _, n := suspend(t, s, now); users != 100 || n != 5 {
		t.Errorf("suspend: %d users in %d statements, want 100 in 5", users, n)
	}
	if u, k := release(t, s, now); u != 100 || k != 100 {
		t.Errorf("release: %d users, %d keys; want 100 of each", u, k)
	}
	if n := s.Statements() - before; n != 5+4 {
		t.Errorf("suspend and release: %d statements, want 9", n)
	}
	step("a purge", 4, func(tx store.Tx) error {
		_, err := tx.PurgeTenant(ctx, "ten_big")
		return err
	})

	// The store's part of a ledger write: a lock reads the account (and
	// creates it on a miss); an entry is one statement, its draws one more.
	step("a tenant and two blocks", 3, func(tx store.Tx) error {
		if err := tx.CreateTenant(ctx, &steward.Tenant{ID: "ten_c", Name: "C", Slug: "c", Plan: "free",
			Status: steward.TenantActive, BillingPeriodStart: now, CreatedAt: now, UpdatedAt: now}); err != nil {
			return err
		}
		for _, id := range []string{"blk_1", "blk_2"} {
			if err := tx.InsertCreditBlock(ctx, &steward.CreditBlock{ID: id, TenantID: "ten_c", Amount: 10, Remaining: 10,
				CreatedAt: now}); err != nil {
				return err
			}
		}
		return nil
	})
	lock := func(tx store.Tx) error {
		_, err := tx.LockCreditAccount(ctx, "ten_c", now)
		return err
	}
	step("the first lock, which creates the account", 2, lock)
	step("a lock", 1, lock)
	step("a lock and a deduct drawing from two blocks", 3, func(tx store.Tx) error {
		if err := lock(tx); err != nil {
			return err
		}
		return tx.InsertLedgerEntry(ctx, &steward.LedgerEntry{ID: "cre_1", TenantID: "ten_c", Seq: 1, Kind: steward.LedgerDeduct,
			Amount: -12, BalanceAfter: 8, IdempotencyKey: "req-1", CreatedAt: now,
			Draws: []steward.Draw{{BlockID: "blk_1", Amount: -10}, {BlockID: "blk_2", Amount: -2}}})
	})
	step("an entry without draws", 1, func(tx store.Tx) error {
		return tx.InsertLedgerEntry(ctx, &steward.LedgerEntry{ID: "cre_2", TenantID: "ten_c", Seq: 2, Kind: steward.LedgerAdjust,
			Amount: -1, BalanceAfter: 7, CreatedAt: now})
	})
	if e, err := s.GetLedgerEntry(ctx, "cre_1"); err != nil || len(e.Draws) != 2 {
		t.Errorf("the deduct: %+v, %v; want it with two draws", e, err)
	}
	if _, err := s.GetLedgerEntry(ctx, "cre_2"); err != nil {
		t.Errorf("the entry without draws: %v", err)
	}
}
