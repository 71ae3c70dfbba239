package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// TestSeriesShardsFoldIntoOne: writers on different connections write to
// different shards of one bucket (the point of sharding), and CompactSeries
// folds them back into shard 0 with the same sum.
func TestSeriesShardsFoldIntoOne(t *testing.T) {
	s := open(t)
	ctx := t.Context()
	hour := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	// Transactions open at once hold a connection each: one backend each.
	// Four of them all landing in one shard of 16 is a 1-in-4,096 chance.
	const writers = 4
	var begun sync.WaitGroup
	begun.Add(writers)
	done := make(chan error, writers)
	for w := range writers {
		go func() {
			done <- s.Update(ctx, func(tx store.Tx) error {
				// Every transaction holds its connection before any writes;
				// two whose backends share a shard then queue on its row.
				begun.Done()
				begun.Wait()
				u := &steward.User{ID: fmt.Sprintf("usr_%04d", w), Email: fmt.Sprintf("u%d@example.com", w),
					Role: steward.RoleUser, Status: steward.StatusActive, Tags: []string{}, Metadata: map[string]any{},
					CreatedAt: hour.Add(time.Minute), UpdatedAt: hour}
				return tx.CreateUser(ctx, u)
			})
		}()
	}
	for range writers {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	shards := func() (rows int, sum int64) {
		t.Helper()
		err := s.Pool().QueryRow(context.Background(),
			"SELECT COUNT(*), COALESCE(SUM(value), 0) FROM stat_hourly WHERE name = 'signups' AND hour = $1", hour).
			Scan(&rows, &sum)
		if err != nil {
			t.Fatal(err)
		}
		return rows, sum
	}
	if rows, sum := shards(); rows < 2 || sum != writers {
		t.Fatalf("before folding: %d rows summing to %d; want several rows summing to %d", rows, sum, writers)
	}
	var folded int64
	if err := s.Update(ctx, func(tx store.Tx) (err error) {
		folded, err = tx.CompactSeries(ctx, hour.Add(time.Hour))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if rows, sum := shards(); rows != 1 || sum != writers || folded == 0 {
		t.Fatalf("after folding %d: %d rows summing to %d; want 1 row of %d", folded, rows, sum, writers)
	}
}
