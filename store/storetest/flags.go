package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/stewardhq/steward/store"
)

var errRollback = errors.New("roll back")

// testUserFeatures: a user's flag overrides round-trip (values as JSON
// reads them), are replaced whole, an empty map deletes the row, a rolled
// back write leaves nothing, and the row goes with its user's purge.
func testUserFeatures(t *testing.T, s store.Store) {
	ctx := t.Context()
	createUsers(t, s, newUser(1), newUser(2))
	get := func(uid string) map[string]any {
		t.Helper()
		m, err := s.UserFeatures(ctx, uid)
		must(t, "UserFeatures", err)
		return m
	}
	equal(t, "UserFeatures of a user without overrides", get(userID(1)), map[string]any{})
	equal(t, "UserFeatures of no user", get("usr_missing"), map[string]any{})
	set := func(uid string, m map[string]any) {
		t.Helper()
		update(t, s, func(tx store.Tx) error { return tx.SetUserFeatures(ctx, uid, m, at(time.Minute)) })
	}
	set(userID(1), map[string]any{"a": true, "n": 3, "s": "x", "l": []string{"p", "q"}})
	set(userID(2), map[string]any{"a": false})
	equal(t, "UserFeatures", get(userID(1)), map[string]any{"a": true, "n": 3.0, "s": "x", "l": []any{"p", "q"}})
	set(userID(1), map[string]any{"n": 4})
	equal(t, "UserFeatures replaced", get(userID(1)), map[string]any{"n": 4.0})
	var got map[string]any
	update(t, s, func(tx store.Tx) (err error) {
		got, err = tx.UserFeatures(ctx, userID(1))
		return err
	})
	equal(t, "UserFeatures in a transaction", got, map[string]any{"n": 4.0})
	set(userID(1), map[string]any{})
	equal(t, "UserFeatures after an empty map", get(userID(1)), map[string]any{})

	rollback := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.SetUserFeatures(ctx, userID(1), map[string]any{"a": true}, at(0)); err != nil {
			return err
		}
		if err := tx.NotifyFlags(ctx, "u:"+userID(1)); err != nil {
			return err
		}
		return errRollback
	})
	if rollback != errRollback {
		t.Fatalf("rolled back update: %v", rollback)
	}
	equal(t, "UserFeatures after a rollback", get(userID(1)), map[string]any{})

	update(t, s, func(tx store.Tx) error { return tx.PurgeUser(ctx, userID(2)) })
	createUsers(t, s, newUser(2)) // the same id again: nothing of the old row may show
	equal(t, "UserFeatures after the purge", get(userID(2)), map[string]any{})
}

// testNotifyFlags: NotifyFlags takes several keys in one call, and in a
// transaction that rolls back it is harmless. On a store other processes
// write (store.FlagWatcher), the listener hears each committed key, in
// order, after a FlagsReset, and nothing of a rolled back transaction.
func testNotifyFlags(t *testing.T, s store.Store) {
	ctx := t.Context()
	heard := make(chan string, 64)
	w, watches := s.(store.FlagWatcher)
	if watches {
		w.WatchFlags(func(key string) {
			select {
			case heard <- key:
			default: // never block the listener; the test fails on a missing key
			}
		})
		if k := nextKey(t, heard); k != store.FlagsReset {
			t.Fatalf("the listener's first key is %q, want %q", k, store.FlagsReset)
		}
	}
	rollback := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.NotifyFlags(ctx, "u:rolled-back", "t:rolled-back"); err != nil {
			return err
		}
		return errRollback
	})
	if rollback != errRollback {
		t.Fatalf("rolled back update: %v", rollback)
	}
	update(t, s, func(tx store.Tx) error { return tx.NotifyFlags(ctx) })
	update(t, s, func(tx store.Tx) error { return tx.NotifyFlags(ctx, "u:1", "s:2", "k:3") })
	if !watches {
		return
	}
	var got []string
	for range 3 {
		got = append(got, nextKey(t, heard))
	}
	equal(t, "keys heard", got, []string{"u:1", "s:2", "k:3"})
}

// nextKey returns the next key heard, failing after a bounded wait.
func nextKey(t *testing.T, heard <-chan string) string {
	t.Helper()
	select {
	case k := <-heard:
		return k
	case <-time.After(10 * time.Second):
		t.Fatal("no key heard in 10s")
		return ""
	}
}
