package sqlite_test

import (
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// BenchmarkGetAPIKeyByHash is the store's share of every key verification.
func BenchmarkGetAPIKeyByHash(b *testing.B) {
	s := openStore(b)
	ctx := b.Context()
	u := user(1, "Owner")
	k := &steward.APIKey{ID: "key_1", Type: steward.KeyAdmin, UserID: u.ID, Status: steward.KeyActive,
		Scopes: []steward.Permission{steward.PermUsersRead}, SecretHash: []byte("0123456789abcdef0123456789abcdef"),
		CreatedAt: time.Now(), UpdatedAt: time.Now()}
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateUser(ctx, u); err != nil {
			return err
		}
		return tx.CreateAPIKey(ctx, k)
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.GetAPIKeyByHash(ctx, k.SecretHash); err != nil {
			b.Fatal(err)
		}
	}
}
