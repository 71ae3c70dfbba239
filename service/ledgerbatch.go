package service

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// maxLedgerBatch bounds how many ledger writes share one transaction.
const maxLedgerBatch = 256

// LedgerBatchTimeout bounds one ledger batch, its retries included: a
// database that stalls fails the batch (every write in it rolls back) instead
// of holding every ledger caller, and shutdown, for ever. A healthy batch
// takes milliseconds; this is far above any, and below the server's 15 s
// shutdown grace.
const LedgerBatchTimeout = 10 * time.Second

// ledgerOp is one ledger write waiting to be committed.
type ledgerOp struct {
	caller  context.Context // the caller's own context, to notice it gave up
	tenants []string        // every tenant whose account fn touches
	fn      func(ctx context.Context, tx store.Tx, lk *ledgerLocks) error
	err     error
	done    chan error
}

// ledgerBatcher is group commit for the ledger. Writes that arrive while a
// transaction is committing wait, and the next transaction takes all of
// them: one commit (one fsync with SQLite's synchronous=FULL, one WAL flush
// on PostgreSQL) for many writes, so a durable ledger is not limited to one
// write per fsync. The first write of a busy period starts a goroutine that
// commits batches until the queue is empty; every caller waits for its own
// write or its own context, whichever ends first.
type ledgerBatcher struct {
	mu      sync.Mutex
	pending []*ledgerOp
	running bool
	timeout time.Duration // 0 is LedgerBatchTimeout; tests shorten it
}

// ledgerWrite runs fn in a write transaction shared with other ledger writes.
// fn gets a context with ctx's values and the batch's deadline, not ctx's
// cancellation: the statements it runs belong to the others' transaction
// too, so a caller that gives up must not cancel them. fn runs after the
// accounts of tenants (and their tenant rows) are locked in id order. It must
// return a *steward.Error only before it has written anything that is not
// true on its own (an expiry entry is true on its own): the batch commits the
// other writes whatever one of them answers. Any other error fails the whole
// batch.
//
// A caller whose ctx ends gets ctx.Err() at once, and its write has a
// definite fate: if no batch had reached it yet, it is never applied; if one
// had, it commits or rolls back with that batch, all or nothing (a retry with
// the same Idempotency-Key replays it if it committed, applies it if not).
// A batch that outlives its deadline rolls back, and its callers get
// context.DeadlineExceeded.
func (s *Credits) ledgerWrite(ctx context.Context, tenants []string, fn func(ctx context.Context, tx store.Tx, lk *ledgerLocks) error) error {
	op := &ledgerOp{caller: ctx, tenants: tenants, fn: fn, done: make(chan error, 1)}
	b := &s.ledger
	b.mu.Lock()
	b.pending = append(b.pending, op)
	start := !b.running
	b.running = true
	b.mu.Unlock()
	if start {
		go s.runLedgerBatches()
	}
	select {
	case err := <-op.done:
		return err
	case <-ctx.Done():
		b.mu.Lock()
		if i := slices.Index(b.pending, op); i >= 0 {
			b.pending = slices.Delete(b.pending, i, i+1) // never reached: never applied
		}
		b.mu.Unlock()
		return ctx.Err()
	}
}

// runLedgerBatches commits batches until the queue is empty.
func (s *Credits) runLedgerBatches() {
	b := &s.ledger
	for {
		b.mu.Lock()
		if len(b.pending) == 0 {
			b.running = false
			b.mu.Unlock()
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
	timeout := s.ledger.timeout
	if timeout <= 0 {
		timeout = LedgerBatchTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := s.updateRecovering(ctx, func(tx store.Tx) error {
		lk := &ledgerLocks{s: s.core, tx: tx, ledgers: map[string]*tenantLedger{}}
		// Lock in one order, so two processes' batches on PostgreSQL
		// cannot deadlock over the same accounts.
		if err := lk.loadAll(ctx, tenants); err != nil {
			return err
		}
		for _, op := range batch {
			if err := op.caller.Err(); err != nil {
				op.err = err // it gave up before its turn: not applied
				continue
			}
			op.err = op.fn(batchContext{Context: ctx, values: op.caller}, tx, lk)
			var e *steward.Error
			if op.err != nil && !errors.As(op.err, &e) {
				return op.err
			}
		}
		return lk.flush(ctx)
	})
	if err == nil {
		s.nudgeSealer() // the batch's audit entries: seal them soon
	}
	for _, op := range batch {
		if err != nil {
			op.done <- err
		} else {
			op.done <- op.err
		}
	}
}

// batchContext is the batch's context (deadline, cancellation) carrying one
// caller's values (actor, request info for the audit entry).
type batchContext struct {
	context.Context
	values context.Context
}

func (c batchContext) Value(key any) any { return c.values.Value(key) }

// updateRecovering is store.Update that turns a panic into an error, so one
// broken write cannot leave the other writers of its batch waiting for ever
// nor the batcher marked as running.
func (s *Credits) updateRecovering(ctx context.Context, fn func(tx store.Tx) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("ledger batch panicked", "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("ledger batch panicked: %v", r)
		}
	}()
	return s.store.Update(ctx, fn)
}
