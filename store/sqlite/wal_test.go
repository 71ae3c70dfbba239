package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
	"github.com/stewardhq/steward/store/sqlite"
)

func openStoreAt(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// walSize is the size of s's WAL file in bytes.
func walSize(t *testing.T, s *sqlite.Store) int64 {
	t.Helper()
	fi, err := os.Stat(s.Path() + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// appendEntries appends n audit entries, perTx to a transaction, each with
// a reason of size bytes, so every commit adds roughly perTx*size bytes of
// WAL.
func appendEntries(t *testing.T, s *sqlite.Store, n, perTx, size int) {
	t.Helper()
	reason := strings.Repeat("r", size)
	for n > 0 {
		batch := min(n, perTx)
		n -= batch
		err := s.Update(t.Context(), func(tx store.Tx) error {
			for range batch {
				seq, prev, err := tx.LockAuditHead(t.Context())
				if err != nil {
					return err
				}
				e := &steward.AuditEntry{ID: fmt.Sprintf("aud_%020d", seq+1), Seq: seq + 1, PrevHash: prev,
					Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Action: "wal.test", Reason: reason}
				e.Hash = e.ComputeHash()
				if err := tx.InsertAudit(t.Context(), e); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// holdRead opens a read transaction on a connection of its own, as any
// long-running read would, and returns the function that ends it.
func holdRead(t *testing.T, s *sqlite.Store) (release func()) {
	t.Helper()
	db, err := sql.Open("sqlite", s.Path()+"?_pragma=query_only(1)")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := db.QueryContext(t.Context(), "SELECT seq FROM audit_log")
	if err != nil {
		t.Fatal(err)
	}
	if !rows.Next() { // the read transaction is open while rows are
		t.Fatal("holdRead: no rows")
	}
	return func() { rows.Close(); db.Close() }
}

// TestWALBoundedAfterPinnedRead: a read held open while 20 MB is written
// makes the WAL grow past the limit (nothing can restart it); once the read
// ends, the next commit restarts the log and journal_size_limit truncates
// the file back to WALSizeLimit, instead of leaving it at its largest.
func TestWALBoundedAfterPinnedRead(t *testing.T) {
	s := openStoreAt(t, filepath.Join(t.TempDir(), "steward.db?synchronous=off")) // the WAL is the same, the test faster
	appendEntries(t, s, 1, 1, 100)
	release := holdRead(t, s)
	appendEntries(t, s, 500, 1, 40000)
	if got := walSize(t, s); got <= sqlite.WALSizeLimit {
		t.Fatalf("WAL = %d bytes with a read pinned, want it past %d (the test writes too little)", got, sqlite.WALSizeLimit)
	}
	release()
	// The automatic checkpoint backfills on a commit; the commit after it
	// restarts the log and truncates the file.
	appendEntries(t, s, 5, 1, 100)
	if got := walSize(t, s); got > sqlite.WALSizeLimit {
		t.Errorf("WAL = %d bytes after the read ended, want at most %d", got, sqlite.WALSizeLimit)
	}
}

// TestCheckpoint: a resetting checkpoint reports busy while another read is
// open on an older snapshot, and empties the WAL file when none is.
func TestCheckpoint(t *testing.T) {
	s := openStore(t)
	appendEntries(t, s, 10, 1, 1000)
	release := holdRead(t, s)
	appendEntries(t, s, 10, 1, 1000)
	busy, err := s.Checkpoint(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !busy {
		t.Error("Checkpoint with a read open on an older snapshot: busy = false, want true")
	}
	release()
	if busy, err = s.Checkpoint(t.Context()); err != nil || busy {
		t.Fatalf("Checkpoint with no read open: busy = %v, err = %v", busy, err)
	}
	if got := walSize(t, s); got != 0 {
		t.Errorf("WAL = %d bytes after a checkpoint with no reader, want 0", got)
	}
	// The writer got its own busy timeout back: writes still work.
	appendEntries(t, s, 1, 1, 10)
}

// TestScanAuditHoldsNoRead: while ScanAudit's fn runs, between and within
// pages, no read is open, so a resetting checkpoint succeeds and writes in
// fn leave no WAL behind. A scan holding one query open for its whole
// length (as an export to a client that stopped reading did) made every
// checkpoint in fn busy.
func TestScanAuditHoldsNoRead(t *testing.T) {
	s := openStore(t)
	appendEntries(t, s, 1201, 100, 10)
	ctx := context.Background()
	n := 0
	err := s.ScanAudit(ctx, steward.AuditFilter{}, func(e *steward.AuditEntry) error {
		n++
		if n%400 != 1 {
			return nil
		}
		appendEntries(t, s, 1, 1, 10)
		busy, err := s.Checkpoint(ctx)
		if err != nil {
			return err
		}
		if busy {
			t.Errorf("Checkpoint inside ScanAudit at entry %d: busy, want a read-free scan", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != 1201 {
		t.Errorf("ScanAudit = %d entries, want 1201", n)
	}
}
