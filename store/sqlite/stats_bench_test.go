package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
	"github.com/stewardhq/steward/store/sqlite"
)

// BenchmarkUserCreate is the store's part of creating a user, one to a
// commit with synchronous=normal: the write path the stat counters'
// triggers add to (docs/benchmarks.md, Stat counters).
func BenchmarkUserCreate(b *testing.B) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "users.db")+"?synchronous="+sqlite.SynchronousNormal)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	n := 0
	for b.Loop() {
		n++
		err := s.Update(ctx, func(tx store.Tx) error {
			return tx.CreateUser(ctx, &steward.User{ID: fmt.Sprintf("usr_%012d", n), Email: fmt.Sprintf("u%d@example.com", n),
				Role: steward.RoleUser, Status: steward.StatusActive, Tags: []string{}, Metadata: map[string]any{},
				CreatedAt: now, UpdatedAt: now})
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
