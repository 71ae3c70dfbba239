package postgres_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// held runs a transaction that appends a pending entry for target, then
// waits for release before it commits; in is closed once the entry is
// written (the transaction has its xid), and the result arrives on done.
func held(s store.Store, target string) (in, release chan struct{}, done chan error) {
	in, release, done = make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		done <- s.Update(context.Background(), func(tx store.Tx) error {
			err := tx.InsertAudit(context.Background(), &steward.AuditEntry{ID: "aud_" + target,
				Time: time.Now().UTC().Truncate(time.Microsecond), Action: "test", TargetID: target, Pending: true})
			if err == nil {
				// A pending insert is deferred (pipeline.go): the next
				// statement sends it, and the transaction takes its xid.
				if _, gerr := tx.GetUser(context.Background(), "usr_none"); !errors.Is(gerr, store.ErrNotFound) {
					err = gerr
				}
			}
			close(in)
			<-release
			return err
		})
	}()
	return in, release, done
}

// sealable lists the targets SealableAudit returns now, in order.
func sealable(t *testing.T, s store.Store) []string {
	t.Helper()
	var out []string
	err := s.Update(t.Context(), func(tx store.Tx) error {
		if _, _, err := tx.LockAuditHead(t.Context()); err != nil {
			return err
		}
		list, err := tx.SealableAudit(t.Context(), 100)
		for _, e := range list {
			out = append(out, e.TargetID)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSealableHorizon is the argument of docs/audit-log.md#sealing on the
// store: an entry is sealable once every transaction older than its
// writer has ended. "old" takes its xid first and stays open; "young",
// written after it, commits but waits for it; "older", whose transaction
// took its xid before "old", is sealable at once when it commits. Once
// "old" commits, both follow, in insertion order. Other clients of the
// server may hold the horizon back too, briefly: each expectation that
// something becomes sealable is polled until a deadline; one that
// something is not sealable holds whatever they do.
func TestSealableHorizon(t *testing.T) {
	s := open(t)
	olderIn, olderRelease, olderDone := held(s, "older")
	<-olderIn
	oldIn, oldRelease, oldDone := held(s, "old")
	<-oldIn
	_, youngRelease, youngDone := held(s, "young")
	close(youngRelease)
	if err := <-youngDone; err != nil {
		t.Fatal(err)
	}
	if got := sealable(t, s); slices.Contains(got, "young") || slices.Contains(got, "old") {
		t.Fatalf("sealable while old is open = %v: young must wait for old, old is not committed", got)
	}
	close(olderRelease)
	if err := <-olderDone; err != nil {
		t.Fatal(err)
	}
	until := func(want []string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			got := sealable(t, s)
			if slices.Equal(got, want) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("sealable = %v, want %v", got, want)
			}
		}
	}
	until([]string{"older"}) // older than old: not held back by it
	close(oldRelease)
	if err := <-oldDone; err != nil {
		t.Fatal(err)
	}
	until([]string{"older", "old", "young"}) // insertion order
}
