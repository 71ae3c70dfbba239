package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

func testUpdateRollback(t *testing.T, s store.Store) {
	ctx := t.Context()
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateUser(ctx, newUser(1)); err != nil {
			return err
		}
		if err := tx.CreateSession(ctx, newSession(1, userID(1))); err != nil {
			return err
		}
		if err := tx.InsertAudit(ctx, &steward.AuditEntry{ID: auditID(1), Seq: 1, Time: t0, Action: "x", Hash: "h"}); err != nil {
			return err
		}
		if err := tx.InsertSigningKey(ctx, &steward.SigningKey{ID: "key_1", PrivateKey: []byte{1}, CreatedAt: t0}); err != nil {
			return err
		}
		return fmt.Errorf("wrapped: %w", boom)
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want the error fn returned", err)
	}
	assertEmpty(t, s)
}

func assertEmpty(t *testing.T, s store.Store) {
	t.Helper()
	ctx := t.Context()
	_, err := s.GetUser(ctx, userID(1))
	notFound(t, "user after rollback", err)
	_, err = s.GetSession(ctx, sessionID(1))
	notFound(t, "session after rollback", err)
	entries, err := s.ListAudit(ctx, steward.AuditFilter{})
	must(t, "ListAudit", err)
	if len(entries) != 0 {
		t.Errorf("audit after rollback = %d entries, want 0", len(entries))
	}
	keys, err := s.ListSigningKeys(ctx)
	must(t, "ListSigningKeys", err)
	if len(keys) != 0 {
		t.Errorf("signing keys after rollback = %d, want 0", len(keys))
	}
	n, err := s.CountUsers(ctx, steward.UserFilter{})
	must(t, "CountUsers", err)
	if n != 0 {
		t.Errorf("CountUsers after rollback = %d, want 0", n)
	}
}

func testUpdatePanic(t *testing.T, s store.Store) {
	ctx := t.Context()
	func() {
		defer func() {
			if r := recover(); r != "fn panicked" {
				t.Errorf("recovered %v, want the panic from fn", r)
			}
		}()
		_ = s.Update(ctx, func(tx store.Tx) error {
			if err := tx.CreateUser(ctx, newUser(1)); err != nil {
				return err
			}
			panic("fn panicked")
		})
	}()
	assertEmpty(t, s)
	// The write transaction was released.
	createUsers(t, s, newUser(1))
}

func testUpdateReadsOwnWrites(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := newUser(1)
	u.Username, u.Tags = "own", []string{"t"}
	update(t, s, func(tx store.Tx) error {
		if err := tx.CreateUser(ctx, u); err != nil {
			return err
		}
		if err := tx.CreateSession(ctx, newSession(1, u.ID)); err != nil {
			return err
		}
		for name, get := range map[string]func() (*steward.User, error){
			"GetUser":           func() (*steward.User, error) { return tx.GetUser(ctx, u.ID) },
			"GetUserByEmail":    func() (*steward.User, error) { return tx.GetUserByEmail(ctx, u.Email) },
			"GetUserByUsername": func() (*steward.User, error) { return tx.GetUserByUsername(ctx, "own") },
		} {
			got, err := get()
			if err != nil {
				return fmt.Errorf("%s inside the transaction: %w", name, err)
			}
			equal(t, name+" inside the transaction", got, u)
		}
		list, err := tx.ListUsers(ctx, steward.UserFilter{Tag: "t"})
		if err != nil {
			return err
		}
		sameIDs(t, "ListUsers inside the transaction", userIDs(list), []string{u.ID})
		if _, err := tx.GetSession(ctx, sessionID(1)); err != nil {
			return fmt.Errorf("GetSession inside the transaction: %w", err)
		}
		return tx.LockOperators(ctx)
	})
}

func testUpdateSerialised(t *testing.T, s store.Store) {
	ctx := t.Context()
	createUsers(t, s, newUser(1))
	const workers, rounds = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds)
	for range workers {
		wg.Go(func() {
			for range rounds {
				errs <- s.Update(ctx, func(tx store.Tx) error {
					if err := tx.LockOperators(ctx); err != nil {
						return err
					}
					u, err := tx.GetUser(ctx, userID(1))
					if err != nil {
						return err
					}
					u.TokenVersion++
					return tx.UpdateUser(ctx, u)
				})
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent Update: %v", err)
		}
	}
	u, err := s.GetUser(ctx, userID(1))
	must(t, "GetUser", err)
	if u.TokenVersion != workers*rounds {
		t.Errorf("TokenVersion after %d read-modify-write transactions = %d (lost updates)", workers*rounds, u.TokenVersion)
	}
}
