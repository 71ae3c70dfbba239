package datatables_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stewardhq/steward/store/datatables"
)

// TestOpenSQLiteDSN: the accepted spellings of a SQLite source, and the
// refused ones, which never create a file.
func TestOpenSQLiteDSN(t *testing.T) {
	path := sqliteFile(t)
	ctx := context.Background()
	for _, dsn := range []string{"sqlite:" + path, "sqlite://" + path} {
		src, err := datatables.Open(ctx, "app", datatables.SourceConfig{DSN: dsn}, false)
		if err != nil {
			t.Errorf("%s: %v", dsn, err)
			continue
		}
		if src.Name() != "app" || src.Dialect() != "sqlite" || src.Own() {
			t.Errorf("%s: name %q dialect %q own %v", dsn, src.Name(), src.Dialect(), src.Own())
		}
		if err := src.Close(); err != nil {
			t.Error(err)
		}
	}
	dir := t.TempDir()
	for dsn, want := range map[string]string{
		"sqlite:" + path + "?mode=rwc":           "takes no options",
		"sqlite:":                                "needs a file path",
		"sqlite:" + dir:                          "is a directory",
		"sqlite:" + filepath.Join(dir, "new.db"): "no such file",
		"postgres://u:hunter2@[::1:5432/x":       "invalid postgres dsn",
		"file:" + path:                           "dsn must start with sqlite: or postgres://",
	} {
		_, err := datatables.Open(ctx, "app", datatables.SourceConfig{DSN: dsn}, false)
		if err == nil || !strings.HasPrefix(err.Error(), `data source "app": `) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", dsn, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: the error shows the password: %v", dsn, err)
		}
	}
	if matches, _ := filepath.Glob(filepath.Join(dir, "*")); len(matches) != 0 {
		t.Errorf("Open created %v", matches)
	}
}
