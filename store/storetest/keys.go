package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

func testSigningKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	keys, err := s.ListSigningKeys(ctx)
	must(t, "ListSigningKeys", err)
	if len(keys) != 0 {
		t.Fatalf("ListSigningKeys of a new store = %d keys", len(keys))
	}
	key := func(n int, created time.Time) *steward.SigningKey {
		priv := make([]byte, 64)
		for i := range priv {
			priv[i] = byte(n*31 + i)
		}
		return &steward.SigningKey{ID: fmt.Sprintf("key_%d", n), PrivateKey: priv, CreatedAt: created}
	}
	k1, k2, k3 := key(1, at(-48*time.Hour)), key(2, at(-24*time.Hour)), key(3, t0)
	k1.RetiredAt = ptr(at(-24 * time.Hour))
	update(t, s, func(tx store.Tx) error {
		for _, k := range []*steward.SigningKey{k3, k1, k2} {
			if err := tx.InsertSigningKey(ctx, k); err != nil {
				return err
			}
		}
		return nil
	})
	keys, err = s.ListSigningKeys(ctx)
	must(t, "ListSigningKeys", err)
	if len(keys) != 3 {
		t.Fatalf("ListSigningKeys = %d keys, want 3", len(keys))
	}
	for i, want := range []*steward.SigningKey{k1, k2, k3} {
		equal(t, "ListSigningKeys oldest first", keys[i], want)
	}

	k2.RetiredAt = ptr(t0)
	update(t, s, func(tx store.Tx) error { return tx.UpdateSigningKey(ctx, k2) })
	keys, err = s.ListSigningKeys(ctx)
	must(t, "ListSigningKeys", err)
	equal(t, "key after update", keys[1], k2)

	err = s.Update(ctx, func(tx store.Tx) error { return tx.UpdateSigningKey(ctx, key(9, t0)) })
	notFound(t, "UpdateSigningKey missing", err)
}
