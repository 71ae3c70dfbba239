package service

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"sync"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// maxLedgerBatch bounds how many ledger writes share one transaction.
const maxLedgerBatch = 256

// ledgerOp is one ledger write waiting to be committed.
type ledgerOp struct {
	ctx     context.Context
	tenants []string // every tenant whose account fn touches
	fn      func(ctx context.Context, tx store.Tx, lk *ledgerLocks) error
	err     error
	done    chan error
}

// ledgerBatcher is group commit for the ledger. Writes that arrive while a
// transaction is committing wait, and the next transaction takes all of
// them: one commit (one fsync with SQLite's synchronous=FULL, one WAL flush
// on PostgreSQL) for many writes, so a durable ledger is not limited to one
// write per fsync. There is no background goroutine: the caller that finds
// no batch running runs batches until its own write is done, then hands the
// queue to a goroutine that runs until it is empty.
type ledgerBatcher struct {
	mu      sync.Mutex
	pending []*ledgerOp
	running bool
}

// ledgerWrite runs fn in a write transaction shared with other ledger writes.
// fn gets ctx without its cancellation (its values kept): the statements it
// runs belong to the others' transaction too, so a caller that gives up must
// not cancel them. fn runs after the accounts of tenants (and their tenant
// rows) are locked in id order. It must return a *steward.Error only before
// it has written anything that is not true on its own (an expiry entry is
// true on its own): the batch commits the other writes whatever one of them
// answers. Any other error fails the whole batch.
func (s *Credits) ledgerWrite(ctx context.Context, tenants []string, fn func(ctx context.Context, tx store.Tx, lk *ledgerLocks) error) error {
	op := &ledgerOp{ctx: context.WithoutCancel(ctx), tenants: tenants, fn: fn, done: make(chan error, 1)}
	b := &s.ledger
	b.mu.Lock()
	b.pending = append(b.pending, op)
	lead := !b.running
	b.running = true
	b.mu.Unlock()
	if lead {
		s.runLedgerBatches(op)
	}
	return <-op.done
}

// runLedgerBatches commits batches until until's write is done, then hands
// what is left to a goroutine (until nil: until the queue is empty).
func (s *Credits) runLedgerBatches(until *ledgerOp) {
	b := &s.ledger
	for {
		b.mu.Lock()
		if len(b.pending) == 0 {
			b.running = false
			b.mu.Unlock()
			return
		}
		if until != nil && !slices.Contains(b.pending, until) {
			b.mu.Unlock()
			go s.runLedgerBatches(nil)
			return
		}
		n := min(len(b.pending), maxLedgerBatch)
		batch := slices.Clone(b.pending[:n])
		b.pending = slices.Delete(b.pending, 0, n)
		b.mu.Unlock()
		s.commitLedgerBatch(batch)
	}
}

func (s *Credits) commitLedgerBatch(batch []*ledgerOp) {
	var tenants []string
	for _, op := range batch {
		tenants = append(tenants, op.tenants...)
	}
	slices.Sort(tenants)
	tenants = slices.Compact(tenants)
	err := s.updateRecovering(func(tx store.Tx) error {
		lk := &ledgerLocks{s: s.core, tx: tx, ledgers: map[string]*tenantLedger{}}
		// Lock in one order, so two processes' batches on PostgreSQL
		// cannot deadlock over the same accounts.
		for _, tid := range tenants {
			if _, err := lk.load(context.Background(), tid); err != nil {
				return err
			}
		}
		for _, op := range batch {
			op.err = op.fn(op.ctx, tx, lk)
			var e *steward.Error
			if op.err != nil && !errors.As(op.err, &e) {
				return op.err
			}
		}
		return lk.flush(context.Background())
	})
	for _, op := range batch {
		if err != nil {
			op.done <- err
		} else {
			op.done <- op.err
		}
	}
}

// updateRecovering is store.Update that turns a panic into an error, so one
// broken write cannot leave the other writers of its batch waiting for ever
// nor the batcher marked as running.
func (s *Credits) updateRecovering(fn func(tx store.Tx) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("ledger batch panicked", "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("ledger batch panicked: %v", r)
		}
	}()
	return s.store.Update(context.Background(), fn)
}
