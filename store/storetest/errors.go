package storetest

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stewardhq/steward/store"
)

// testErrorsNameTheOperation: both stores say which operation failed
// ("<dialect>: create user: …"), a miss is the bare store.ErrNotFound, and
// errors.Is and errors.As still see store and context errors through the
// wrapping.
func testErrorsNameTheOperation(t *testing.T, s store.Store) {
	a := newUser(1)
	createUsers(t, s, a)
	dup := newUser(2)
	dup.Email = a.Email
	err := s.Update(t.Context(), func(tx store.Tx) error { return tx.CreateUser(t.Context(), dup) })
	var de *store.DuplicateError
	if !errors.As(err, &de) || de.Field != "email" || !strings.HasPrefix(err.Error(), s.Dialect()+": create user: ") {
		t.Errorf("duplicate email: err = %v, want %q naming the operation and a DuplicateError{email}", err, s.Dialect()+": create user: …")
	}

	if _, err := s.GetUser(t.Context(), "usr_missing"); err != store.ErrNotFound {
		t.Errorf("GetUser of a missing id: err = %v, want the bare store.ErrNotFound", err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = s.GetUser(ctx, a.ID)
	if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), s.Dialect()+": get user: ") {
		t.Errorf("GetUser with a cancelled context: err = %v, want %q wrapping context.Canceled", err, s.Dialect()+": get user: …")
	}
}
