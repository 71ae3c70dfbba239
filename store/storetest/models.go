package storetest

import (
	"errors"
	"strconv"
	"sync"
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// testActiveModel: no active model until one is set (read and locked alike);
// set and replaced read back exactly; a rolled-back set leaves the previous;
// concurrent lock-read-set transactions lose no update, the first one (no
// row yet to lock) included.
func testActiveModel(t *testing.T, s store.Store) {
	ctx := t.Context()
	if _, err := s.ActiveModel(ctx); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ActiveModel before any: %v, want ErrNotFound", err)
	}
	update(t, s, func(tx store.Tx) error {
		if _, err := tx.LockActiveModel(ctx); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("LockActiveModel before any: %v, want ErrNotFound", err)
		}
		return nil
	})
	first := &steward.ActiveModel{ModelID: "large-2", Since: at(0), ActorType: steward.ActorSystem, ActorID: "system"}
	update(t, s, func(tx store.Tx) error { return tx.SetActiveModel(ctx, first) })
	got, err := s.ActiveModel(ctx)
	must(t, "ActiveModel", err)
	equal(t, "active model", got, first)

	second := &steward.ActiveModel{ModelID: "acme/small:1.5", Since: at(3600e9), ActorType: steward.ActorOperator, ActorID: userID(7)}
	update(t, s, func(tx store.Tx) error {
		cur, err := tx.LockActiveModel(ctx)
		if err != nil {
			return err
		}
		equal(t, "locked active model", cur, first)
		return tx.SetActiveModel(ctx, second)
	})
	got, _ = s.ActiveModel(ctx)
	equal(t, "replaced active model", got, second)

	errRollback := errors.New("roll back")
	err = s.Update(ctx, func(tx store.Tx) error {
		if err := tx.SetActiveModel(ctx, first); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("Update: %v, want the rollback error", err)
	}
	got, _ = s.ActiveModel(ctx)
	equal(t, "active model after a rollback", got, second)
}

// testActiveModelSerialised: writers that read the active model under
// LockActiveModel and write its successor lose no update, starting from no
// row at all.
func testActiveModelSerialised(t *testing.T, s store.Store) {
	ctx := t.Context()
	const writers = 8
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.Update(ctx, func(tx store.Tx) error {
				n := 0
				cur, err := tx.LockActiveModel(ctx)
				switch {
				case err == nil:
					if n, err = strconv.Atoi(cur.ModelID); err != nil {
						return err
					}
				case !errors.Is(err, store.ErrNotFound):
					return err
				}
				return tx.SetActiveModel(ctx, &steward.ActiveModel{ModelID: strconv.Itoa(n + 1), Since: at(0),
					ActorType: steward.ActorSystem, ActorID: "system"})
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, "Update", err)
	}
	got, err := s.ActiveModel(ctx)
	must(t, "ActiveModel", err)
	if got.ModelID != strconv.Itoa(writers) {
		t.Fatalf("after %d serialised increments the active model is %q: an update was lost", writers, got.ModelID)
	}
}
