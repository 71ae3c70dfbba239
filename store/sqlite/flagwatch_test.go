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
	for _, which := range []string{"first", "the first poll's"} {
		if k := next(time.Second); k != store.FlagsReset {
			t.Fatalf("%s key %q, want %q", which, k, store.FlagsReset)
		}
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

// TestWatchFlagsInsideAWrite: the watcher may be started by a cache's first
// use inside a write transaction, which holds the writer connection: it
// must not wait for that connection.
func TestWatchFlagsInsideAWrite(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "steward.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- s.Update(ctx, func(tx store.Tx) error {
			s.WatchFlags(func(string) {})
			return tx.SetRetentionLastRun(ctx, time.Now())
		})
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("WatchFlags inside a write transaction did not return: it waits for the writer the transaction holds")
	}
}
