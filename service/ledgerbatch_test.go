package service

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

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
