package postgres_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/testdb"
	"github.com/stewardhq/steward/store"
	"github.com/stewardhq/steward/store/postgres"
)

// TestDeferredWrites: writes a transaction defers (pipeline.go) run before
// the next statement, so a read sees them; the writes of one kind go as one
// statement (Store.Statements), an update's last value for a row winning;
// a deferred write that fails poisons the
// transaction: the read that surfaced the failure does not report "not
// found", every later statement fails too, nothing commits, and Update
// returns the write's own error. (That they share one round trip is what
// BenchmarkLedgerDeducts measures, not a test.)
func TestDeferredWrites(t *testing.T) {
	s := open(t)
	ctx := t.Context()
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	tn := &steward.Tenant{ID: "ten_pipe", Name: "Pipe", Slug: "pipe", Plan: "free", Status: steward.TenantActive,
		CreatedAt: at, UpdatedAt: at}
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.CreateTenant(ctx, tn) }); err != nil {
		t.Fatal(err)
	}
	block := &steward.CreditBlock{ID: "blk_pipe", TenantID: tn.ID, Amount: 10, Remaining: 10, CreatedAt: at}
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.InsertCreditBlock(ctx, block); err != nil {
			return err
		}
		if err := tx.SetBlockRemaining(ctx, block.ID, 4); err != nil {
			return err
		}
		list, err := tx.ListCreditBlocks(ctx, tn.ID) // flushes the two writes first
		if err != nil {
			return err
		}
		if len(list) != 1 || list[0].Remaining != 4 {
			t.Errorf("a read after deferred writes saw %+v, want the block with 4 left", list)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	before := s.Statements()
	if err := s.Update(ctx, func(tx store.Tx) error {
		for i := range 50 {
			if err := tx.SetBlockRemaining(ctx, block.ID, int64(53-i)); err != nil { // 53 … 4, then 3
				return err
			}
		}
		return tx.SetBlockRemaining(ctx, block.ID, 3)
	}); err != nil {
		t.Fatal(err)
	}
	if n := s.Statements() - before; n != 1 {
		t.Errorf("51 deferred updates of one kind were sent as %d statements, want 1", n)
	}
	if list, err := s.ListCreditBlocks(ctx, tn.ID); err != nil || len(list) != 1 || list[0].Remaining != 3 {
		t.Errorf("after 51 updates the block is %+v (%v), want the last one's 3", list, err)
	}

	err = s.Update(ctx, func(tx store.Tx) error {
		if err := tx.SetBlockRemaining(ctx, block.ID, 1); err != nil {
			return err
		}
		if err := tx.SetBlockRemaining(ctx, "blk_missing", 2); err != nil {
			return err
		}
		_, err := tx.GetTenant(ctx, tn.ID)
		if err == nil || errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), "blk_missing") {
			t.Errorf("the read that surfaced a deferred write's failure returned %v, want that failure "+
				"naming blk_missing, not not-found", err)
		}
		if _, err := tx.ListCreditBlocks(ctx, tn.ID); err == nil {
			t.Error("a statement after a failed deferred write succeeded")
		}
		return nil // as if the caller had shrugged it off: the commit must still fail
	})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Update after a deferred write found no row = %v, want ErrNotFound", err)
	}
	list, err := s.ListCreditBlocks(ctx, tn.ID)
	if err != nil || len(list) != 1 || list[0].Remaining != 3 {
		t.Errorf("after the poisoned transaction the block is %+v (%v), want 3 left: nothing committed", list, err)
	}
}

// TestPoolSize: a replica's pool is DefaultPoolSize unless the DSN sets
// pool_max_conns, which wins.
func TestPoolSize(t *testing.T) {
	dsn, ok := testdb.PostgresDSN(t)
	if !ok {
		t.Skip(testdb.EnvPostgres + " is not set")
	}
	for _, c := range []struct {
		dsn  string
		want int32
	}{{dsn, postgres.DefaultPoolSize()}, {dsn + "&pool_max_conns=3", 3}} {
		s, err := postgres.Open(t.Context(), c.dsn)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Pool().Config().MaxConns; got != c.want {
			t.Errorf("pool of %q = %d connections, want %d", c.dsn, got, c.want)
		}
		s.Close()
	}
	if n := postgres.DefaultPoolSize(); n < 8 {
		t.Errorf("DefaultPoolSize = %d, want at least 8", n)
	}
}
