package sqlite_test

import (
	"cmp"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stewardhq/steward/store/sqlite"
)

// The writer's synchronous pragma is FULL unless the path says otherwise,
// and the suffix is not part of the file's name.
func TestSynchronous(t *testing.T) {
	for _, tc := range []struct {
		suffix string
		want   string
		pragma int
	}{
		{"", sqlite.SynchronousFull, 2},
		{"?synchronous=full", sqlite.SynchronousFull, 2},
		{"?synchronous=normal", sqlite.SynchronousNormal, 1},
		{"?synchronous=NORMAL", sqlite.SynchronousNormal, 1},
		{"?synchronous=off", sqlite.SynchronousOff, 0},
	} {
		t.Run(cmp.Or(tc.suffix, "default"), func(t *testing.T) {
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "steward.db")
			s, err := sqlite.Open(ctx, path+tc.suffix)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if err := s.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			if got := s.Synchronous(); got != tc.want {
				t.Errorf("Synchronous() = %q, want %q", got, tc.want)
			}
			var n int
			if err := s.WriterDB().QueryRowContext(ctx, "PRAGMA synchronous").Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != tc.pragma {
				t.Errorf("PRAGMA synchronous on the writer = %d, want %d", n, tc.pragma)
			}
			entries, err := os.ReadDir(filepath.Dir(path))
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				if !strings.HasPrefix(e.Name(), "steward.db") || strings.Contains(e.Name(), "?") {
					t.Errorf("file %q next to steward.db", e.Name())
				}
			}
			if _, err := os.Stat(path); err != nil {
				t.Errorf("database file: %v", err)
			}
		})
	}
	for _, suffix := range []string{"?synchronous=extra", "?synchronous=", "?journal_mode=off",
		"?synchronous=full&synchronous=normal", "?synchronous=normal&_pragma=foreign_keys(0)", "?%zz"} {
		path := filepath.Join(t.TempDir(), "steward.db")
		s, err := sqlite.Open(context.Background(), path+suffix)
		if err == nil {
			s.Close()
			t.Errorf("Open(%q): no error", suffix)
			continue
		}
		if !strings.Contains(err.Error(), "synchronous") && !strings.Contains(err.Error(), "options") {
			t.Errorf("Open(%q) = %v, want an error that names the option", suffix, err)
		}
		if _, err := os.Stat(path); err == nil {
			t.Errorf("Open(%q) failed but created the file", suffix)
		}
	}
}
