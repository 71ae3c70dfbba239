package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
	"github.com/stewardhq/steward/store/sqlite"
)

// The write paths the stat counters' triggers add to (migration 00008),
// one write to a commit with synchronous=normal. Besides ns/op they report
// the process's CPU time per write (cpu-µs/op), which a busy machine
// disturbs less than wall time (docs/benchmarks.md, Stat counters):
//
//	go test -run '^$' -bench 'UserCreate|BalanceUpdate' -benchtime 2s ./store/sqlite/

// BenchmarkUserCreate inserts a user: two counter upserts (status, role).
func BenchmarkUserCreate(b *testing.B) {
	ctx := context.Background()
	s := openBenchStore(b)
	now := time.Now()
	n := 0
	cpu := cpuClock(b)
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
	cpu()
}

// BenchmarkBalanceUpdate is a deduct's account write: one counter upsert
// (credits outstanding).
func BenchmarkBalanceUpdate(b *testing.B) {
	ctx := context.Background()
	s := openBenchStore(b)
	now := time.Now()
	err := s.Update(ctx, func(tx store.Tx) error {
		return tx.CreateTenant(ctx, &steward.Tenant{ID: "ten_1", Name: "One", Slug: "one", Plan: "free",
			Status: steward.TenantActive, BillingPeriodStart: now, CreatedAt: now, UpdatedAt: now})
	})
	if err != nil {
		b.Fatal(err)
	}
	cpu := cpuClock(b)
	for b.Loop() {
		err := s.Update(ctx, func(tx store.Tx) error {
			a, err := tx.LockCreditAccount(ctx, "ten_1", now)
			if err != nil {
				return err
			}
			a.Balance, a.LastSeq = a.Balance-1, a.LastSeq+1
			return tx.UpdateCreditAccount(ctx, a)
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	cpu()
}

func openBenchStore(b *testing.B) *sqlite.Store {
	b.Helper()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db")+"?synchronous="+sqlite.SynchronousNormal)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	return s
}

// cpuClock starts counting the process's user+system CPU time; the function
// it returns reports it per op.
func cpuClock(b *testing.B) func() {
	used := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			b.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := used()
	return func() {
		b.ReportMetric(float64((used()-start).Microseconds())/float64(b.N), "cpu-µs/op")
	}
}
