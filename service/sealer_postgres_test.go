package service

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/testdb"
	"github.com/stewardhq/steward/store"
	"github.com/stewardhq/steward/store/postgres"
)

var errRolledBack = errors.New("rolled back on purpose")

// openPool opens another store, its own connection pool, on dsn: to
// PostgreSQL each is a separate client, as two replicas' processes are.
func openPool(t *testing.T, dsn string, migrate bool) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if migrate {
		if err := s.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// sealedByTarget reads the sealed chain: target id → entry, and the seqs in
// order.
func sealedByTarget(t *testing.T, st store.Store) (map[string]*steward.AuditEntry, []int64) {
	t.Helper()
	byTarget := map[string]*steward.AuditEntry{}
	var seqs []int64
	err := st.ScanAudit(context.Background(), steward.AuditFilter{}, func(e *steward.AuditEntry) error {
		if _, dup := byTarget[e.TargetID]; dup {
			t.Errorf("target %s sealed twice (seq %d and %d)", e.TargetID, byTarget[e.TargetID].Seq, e.Seq)
		}
		byTarget[e.TargetID] = e
		seqs = append(seqs, e.Seq)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return byTarget, seqs
}

// TestSequencerTwoReplicasPostgres is the sequencer's acceptance test
// (docs/audit-log.md#sealing): writers on two replicas, each its own pool
// and each running RunSealer; a third sealer killed inside a pass (its
// context cancelled while it holds the sealer lock, batch computed, not
// written); older transactions that commit while a slow one is open, and
// the slow one committing last. Afterwards every committed entry is sealed
// exactly once, seqs run 1..n, the chain verifies, the slow entry follows
// everything sealed before it committed, and rolled-back changes left no
// entry.
func TestSequencerTwoReplicasPostgres(t *testing.T) {
	dsn, ok := testdb.PostgresDSN(t)
	if !ok {
		t.Skip("no PostgreSQL (" + testdb.EnvPostgres + ")")
	}
	st1 := openPool(t, dsn, true)
	st2 := openPool(t, dsn, false)
	st3 := openPool(t, dsn, false)
	r1, r2 := New(Config{Store: st1}), New(Config{Store: st2})
	killed := New(Config{Store: st3})
	ctx := steward.WithActor(context.Background(), steward.SystemActor)

	var mu sync.Mutex
	committed := map[string]bool{}
	rolledBack := map[string]bool{}
	write := func(s *Service, target string, rollback bool, inside func()) error {
		err := s.update(ctx, func(tx store.Tx) error {
			if err := s.audit(ctx, tx, event{Action: "test.write", TargetType: "test", TargetID: target}); err != nil {
				return err
			}
			if inside != nil {
				inside()
			}
			if rollback {
				return errRolledBack
			}
			return nil
		})
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil:
			committed[target] = true
		case errors.Is(err, errRolledBack):
			rolledBack[target] = true
			err = nil
		}
		return err
	}

	sealCtx, stopSealers := context.WithCancel(ctx)
	var sealers sync.WaitGroup
	sealers.Go(func() { r1.Audit.RunSealer(sealCtx) })
	sealers.Go(func() { r2.Audit.RunSealer(sealCtx) })

	var stop atomic.Bool
	var writers sync.WaitGroup
	for ri, r := range []*Service{r1, r2} {
		for g := range 3 {
			writers.Go(func() {
				for i := 0; !stop.Load(); i++ {
					if err := write(r, fmt.Sprintf("w%d-%d-%d", ri, g, i), i%7 == 3, nil); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
	}

	// A sealer killed mid-batch: it holds the sealer lock and has chained
	// a batch when its context ends; its transaction rolls back and the
	// replicas' sealers take over.
	hooked := make(chan []string, 1)
	killCtx, kill := context.WithCancel(ctx)
	killed.sealHook = func(ctx context.Context, batch []*steward.AuditEntry) {
		ids := make([]string, len(batch))
		for i, e := range batch {
			ids[i] = e.TargetID
		}
		hooked <- ids
		<-ctx.Done()
	}
	killErr := make(chan error, 1)
	go func() {
		for {
			if n, err := killed.sealPass(killCtx); n > 0 || err != nil {
				killErr <- err
				return
			}
		}
	}()
	var killedBatch []string
	select {
	case killedBatch = <-hooked:
	case <-time.After(30 * time.Second):
		t.Fatal("the sealer to kill never found a batch")
	}
	kill()
	if err := <-killErr; err == nil {
		t.Fatal("the killed sealer's pass succeeded")
	}

	// Older transactions commit while a slow one is open: the slow one
	// took its xid after theirs, so they are sealed meanwhile; writers
	// that started after it wait for it.
	const older = 3
	olderIn, gate := make(chan struct{}, older), make(chan struct{})
	olderDone := make(chan error, older)
	for i := range older {
		go func() {
			olderDone <- write(r1, fmt.Sprintf("older-%d", i), false, func() { olderIn <- struct{}{}; <-gate })
		}()
	}
	for range older {
		<-olderIn
	}
	slowIn, release, slowDone := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		slowDone <- write(r2, "slow", false, func() { close(slowIn); <-release })
	}()
	<-slowIn
	close(gate)
	for range older {
		if err := <-olderDone; err != nil {
			t.Fatal(err)
		}
	}
	// Other tests' transactions in the cluster hold the horizon back too,
	// briefly: seal until the older ones are in.
	var sealedBefore int64
	deadline := time.Now().Add(30 * time.Second)
	for {
		r1.Audit.SealNow(ctx)
		got, seqs := sealedByTarget(t, st1)
		in := 0
		for i := range older {
			if got[fmt.Sprintf("older-%d", i)] != nil {
				in++
			}
		}
		if in == older {
			sealedBefore = seqs[len(seqs)-1]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d older entries sealed while the slow transaction is open", in, older)
		}
	}
	close(release)
	if err := <-slowDone; err != nil {
		t.Fatal(err)
	}

	stop.Store(true)
	writers.Wait()
	deadline = time.Now().Add(30 * time.Second)
	for {
		r2.Audit.SealNow(ctx)
		p, err := st2.AuditPending(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if p.Count == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d entries still pending", p.Count)
		}
	}
	stopSealers()
	sealers.Wait()

	got, seqs := sealedByTarget(t, st1)
	for i, seq := range seqs {
		if seq != int64(i+1) {
			t.Fatalf("seq %d at position %d: the chain is not 1..n", seq, i+1)
		}
	}
	for target := range committed {
		if got[target] == nil {
			t.Errorf("committed entry %s not sealed", target)
		}
	}
	for target := range rolledBack {
		if got[target] != nil {
			t.Errorf("entry %s of a rolled-back transaction sealed at seq %d", target, got[target].Seq)
		}
	}
	if len(got) != len(committed) {
		t.Errorf("%d entries sealed, %d committed", len(got), len(committed))
	}
	for _, target := range killedBatch {
		if got[target] == nil {
			t.Errorf("entry %s of the killed sealer's batch never sealed", target)
		}
	}
	if s := got["slow"]; s == nil || s.Seq <= sealedBefore {
		t.Errorf("slow entry %+v, want a seq after %d, the head sealed before it committed", s, sealedBefore)
	}
	res, err := r1.Audit.VerifyChain(ctx)
	if err != nil || !res.OK || res.Pending != 0 || res.Entries != int64(len(seqs)) {
		t.Fatalf("verify: %+v %v", res, err)
	}
	t.Logf("%d entries sealed by two replicas (%d rolled back); the killed sealer's batch held %d; the slow entry sealed at %d after head %d",
		len(seqs), len(rolledBack), len(killedBatch), got["slow"].Seq, sealedBefore)
}
