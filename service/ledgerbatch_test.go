package service

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/testdb"
	"github.com/stewardhq/steward/store"
)

// gatedStore holds its first Update until gate is closed, so the test can
// queue writes behind it, and counts Updates.
type gatedStore struct {
	store.Store
	gate    chan struct{}
	entered chan struct{}
	updates atomic.Int32
}

func (g *gatedStore) Update(ctx context.Context, fn func(store.Tx) error) error {
	if g.updates.Add(1) == 1 {
		close(g.entered)
		<-g.gate
	}
	return g.Store.Update(ctx, fn)
}

// TestLedgerBatching: writes queued while a transaction commits share the
// next one; a refusal in the batch leaves the others committed; a panic
// fails only its batch, and the batcher keeps working.
func TestLedgerBatching(t *testing.T) {
	be := testdb.Backends(t)[0]
	g := &gatedStore{Store: be.Open(t), gate: make(chan struct{}), entered: make(chan struct{})}
	s := New(Config{Store: g})
	ctx := steward.WithActor(context.Background(), steward.SystemActor)
	var written atomic.Int32
	write := func(fn func() error) error {
		return s.Credits.ledgerWrite(ctx, nil, func(ctx context.Context, tx store.Tx, _ *ledgerLocks) error {
			if err := fn(); err != nil {
				return err
			}
			written.Add(1)
			return s.audit(ctx, tx, event{Action: "test.write"})
		})
	}

	var first error
	done := make(chan struct{})
	go func() { first = write(func() error { return nil }); close(done) }()
	<-g.entered // the first batch is committing (held at the gate)

	const queued = 20
	var wg sync.WaitGroup
	errs := make([]error, queued)
	for i := range queued {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = write(func() error {
				if i == 7 {
					return steward.Errorf(steward.CodeInsufficientCredits, "refused")
				}
				return nil
			})
		}()
	}
	// Wait until all of them are queued behind the gate.
	for {
		s.Credits.ledger.mu.Lock()
		n := len(s.Credits.ledger.pending)
		s.Credits.ledger.mu.Unlock()
		if n == queued {
			break
		}
		runtime.Gosched()
	}
	close(g.gate)
	<-done
	wg.Wait()
	if first != nil {
		t.Fatal(first)
	}
	for i, err := range errs {
		if (i == 7) != (steward.ErrorCode(err) == steward.CodeInsufficientCredits) || i != 7 && err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	if got := g.updates.Load(); got != 2 {
		t.Fatalf("%d transactions for %d writes, want 2 (the first, then one batch)", got, queued+1)
	}
	if got := written.Load(); got != queued {
		t.Fatalf("%d writes applied, want %d", got, queued)
	}

	err := write(func() error { panic("boom") })
	if err == nil {
		t.Fatal("a panicking write must fail")
	}
	if err := write(func() error { return nil }); err != nil {
		t.Fatalf("after a panic: %v", err)
	}
	v, err := s.Audit.VerifyChain(ctx)
	if err != nil || !v.OK || v.Entries != queued+1 {
		t.Fatalf("audit chain %+v %v: the refused and the panicked writes must have left no entry", v, err)
	}
}

// stallingStore runs a ledger batch's writes, then holds the transaction
// open (before its commit) while armed, until release is closed or the
// batch's context ends: a database that stopped answering.
type stallingStore struct {
	store.Store
	armed   atomic.Bool
	entered chan struct{} // one signal per stalled transaction
	release chan struct{}
}

func (g *stallingStore) Update(ctx context.Context, fn func(store.Tx) error) error {
	if !g.armed.Load() {
		return g.Store.Update(ctx, fn)
	}
	return g.Store.Update(ctx, func(tx store.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		g.entered <- struct{}{}
		select {
		case <-g.release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
}

func newStalling(t *testing.T, be testdb.Backend) (*Credits, *stallingStore, func(ctx context.Context) error, func() int) {
	g := &stallingStore{Store: be.Open(t), entered: make(chan struct{}, 1), release: make(chan struct{})}
	svc := New(Config{Store: g})
	s := svc.Credits
	write := func(ctx context.Context) error {
		return s.ledgerWrite(ctx, nil, func(ctx context.Context, tx store.Tx, _ *ledgerLocks) error {
			return s.audit(ctx, tx, event{Action: "test.write"})
		})
	}
	applied := func() int {
		t.Helper()
		v, err := svc.Audit.VerifyChain(steward.WithActor(context.Background(), steward.SystemActor))
		if err != nil || !v.OK {
			t.Fatalf("audit chain %+v %v", v, err)
		}
		return int(v.Entries)
	}
	return s, g, write, applied
}

// TestLedgerCallersWatchTheirContext: with the database stalled mid-batch, a
// caller that gives up returns its context error at once. A write no batch
// had reached is never applied; one inside the stalled batch commits with it
// when the database answers again.
func TestLedgerCallersWatchTheirContext(t *testing.T) {
	for _, be := range testdb.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			s, g, write, applied := newStalling(t, be)
			actor := steward.WithActor(context.Background(), steward.SystemActor)
			g.armed.Store(true)

			inCtx, giveUpIn := context.WithCancel(actor)
			inErr := make(chan error, 1)
			go func() { inErr <- write(inCtx) }()
			<-g.entered // its write ran; the transaction is held before commit

			queuedCtx, giveUpQueued := context.WithCancel(actor)
			queuedErr := make(chan error, 1)
			go func() { queuedErr <- write(queuedCtx) }()
			for { // wait until it is queued behind the stalled batch
				s.ledger.mu.Lock()
				n := len(s.ledger.pending)
				s.ledger.mu.Unlock()
				if n == 1 {
					break
				}
				runtime.Gosched()
			}

			giveUpQueued()
			if err := <-queuedErr; !errors.Is(err, context.Canceled) {
				t.Fatalf("queued caller that gave up: %v, want context.Canceled", err)
			}
			giveUpIn()
			if err := <-inErr; !errors.Is(err, context.Canceled) {
				t.Fatalf("caller inside the stalled batch that gave up: %v, want context.Canceled", err)
			}

			g.armed.Store(false)
			close(g.release) // the database answers again: the held batch commits
			if err := write(actor); err != nil {
				t.Fatalf("a write after the stall: %v", err)
			}
			// The batch commits before the batcher takes the next write, so
			// the chain now holds the stalled batch's write and the last one.
			if got := applied(); got != 2 {
				t.Fatalf("%d writes applied, want 2: the one inside the batch commits with it, the queued one never runs", got)
			}
		})
	}
}

// TestLedgerBatchDeadline: a batch the database never finishes rolls back at
// its deadline; its callers, which did not give up, get DeadlineExceeded
// instead of waiting for ever (so shutdown cannot hang on them), and the
// batcher keeps working.
func TestLedgerBatchDeadline(t *testing.T) {
	for _, be := range testdb.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			s, g, write, applied := newStalling(t, be)
			s.ledger.timeout = 50 * time.Millisecond
			actor := steward.WithActor(context.Background(), steward.SystemActor)
			g.armed.Store(true)
			errs := make(chan error, 1)
			go func() { errs <- write(actor) }()
			// The gate is never released: only the deadline ends the write.
			// On a loaded machine the deadline may pass before the batch
			// reaches the gate, so the answer may come first.
			var err error
			select {
			case <-g.entered:
				err = <-errs
			case err = <-errs:
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("caller of a stalled batch: %v, want context.DeadlineExceeded", err)
			}
			g.armed.Store(false)
			if err := write(actor); err != nil {
				t.Fatalf("a write after the deadline: %v", err)
			}
			if got := applied(); got != 1 {
				t.Fatalf("%d writes applied, want 1: the timed-out batch must have rolled back", got)
			}
		})
	}
}

// TestIdempotentForgetsAHangUp: an answer recorded as 499 (the client hung
// up, so it never learnt the outcome) is not kept: the retry with the same
// key runs again, and its answer is the one kept.
func TestIdempotentForgetsAHangUp(t *testing.T) {
	for _, be := range testdb.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			s := New(Config{Store: be.Open(t)}).Idempotency
			ctx := steward.WithActor(context.Background(), steward.SystemActor)
			runs := 0
			run := func(status int) steward.Answer {
				ans, _, err := s.Idempotent(ctx, "scope", "k", []byte("{}"), func() steward.Answer {
					runs++
					return steward.Answer{Status: status, Body: []byte("{}")}
				})
				if err != nil {
					t.Fatal(err)
				}
				return ans
			}
			run(499)
			if ans := run(201); ans.Status != 201 || runs != 2 {
				t.Fatalf("retry after a hang-up: status %d after %d runs, want 201 after 2", ans.Status, runs)
			}
			if ans := run(500); ans.Status != 201 || runs != 2 {
				t.Fatalf("a third call: status %d after %d runs, want the kept 201", ans.Status, runs)
			}
		})
	}
}
