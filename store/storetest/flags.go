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
