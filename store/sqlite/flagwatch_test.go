package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stewardhq/steward/store"
	"github.com/stewardhq/steward/store/sqlite"
)

// TestWatchFlagsHearsOtherProcesses: a write by another Store on the same
// file (another process, such as a break-glass command beside the server)
// is heard as FlagsReset within a few polls; this Store's own write is
// heard only as the keys it notified.
func TestWatchFlagsHearsOtherProcesses(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "steward.db")
	open := func() *sqlite.Store {
		s, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		return s
	}
	a, b := open(), open()
	heard := make(chan string, 16)
	a.WatchFlags(func(k string) {
		select {
		case heard <- k:
		default:
		}
	})
	next := func(within time.Duration) string {
		t.Helper()
		select {
		case k := <-heard:
			return k
		case <-time.After(within):
			return ""
		}
	}
	if k := next(time.Second); k != store.FlagsReset {
		t.Fatalf("first key %q, want %q", k, store.FlagsReset)
	}
	write := func(s *sqlite.Store, keys ...string) {
		t.Helper()
		if err := s.Update(ctx, func(tx store.Tx) error {
			if err := tx.SetRetentionLastRun(ctx, time.Now()); err != nil {
				return err
			}
			return tx.NotifyFlags(ctx, keys...)
		}); err != nil {
			t.Fatal(err)
		}
	}
	write(a, "u:1")
	if k := next(time.Second); k != "u:1" {
		t.Fatalf("own write: heard %q, want u:1", k)
	}
	if k := next(3 * sqlite.ForeignWriteCheck); k != "" {
		t.Fatalf("own write also heard as %q", k)
	}
	start := time.Now()
	write(b, "u:2") // another process's notes cannot reach this one
	if k := next(10 * time.Second); k != store.FlagsReset {
		t.Fatalf("another process's write: heard %q, want %q", k, store.FlagsReset)
	}
	t.Logf("another process's write heard after %v (poll every %v)", time.Since(start), sqlite.ForeignWriteCheck)
}
