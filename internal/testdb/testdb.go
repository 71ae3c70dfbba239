// Package testdb gives tests a fresh, migrated store on every backend they
// should run on: SQLite always, PostgreSQL when STEWARD_TEST_POSTGRES holds a
// DSN. Each Open gets a database of its own (a file, or a schema), so tests
// run in parallel and never see each other's rows.
package testdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stewardhq/steward/store"
	"github.com/stewardhq/steward/store/postgres"
	"github.com/stewardhq/steward/store/sqlite"
)

// Environment variables read by Backends.
const (
	EnvPostgres        = "STEWARD_TEST_POSTGRES"    // DSN of a server tests may create schemas on
	EnvRequirePostgres = "STEWARD_REQUIRE_POSTGRES" // "1": fail rather than skip PostgreSQL (CI)
)

// Backend opens stores of one kind.
type Backend struct {
	Name string // "sqlite" or "postgres"
	// Open returns a fresh, migrated store, closed (and dropped) when t ends.
	Open func(t testing.TB) store.Store
	// Exec runs raw SQL on a store Open returned, for tests that tamper with
	// rows. Placeholders are the backend's own (? or $1).
	Exec func(t testing.TB, s store.Store, query string, args ...any)
	// RowCounts returns the number of rows of every table in the database
	// (SQLite) or schema (PostgreSQL) of a store Open returned, by table
	// name, so a test can assert that a delete left no orphans behind. On
	// SQLite that includes the search index and its shadow tables; a count
	// of users_fts reads its content table, users, while users_fts_docsize
	// has one row per indexed user. Do not call it inside Update: on SQLite
	// it uses the writer connection.
	RowCounts func(t testing.TB, s store.Store) map[string]int64
	// Share opens a second store on the database of s, with connections
	// of its own, as a second Steward process would; nil on SQLite, where
	// one process owns the file.
	Share func(t testing.TB, s store.Store) store.Store
}

// Backends lists the backends to test on.
func Backends(t testing.TB) []Backend {
	t.Helper()
	backends := []Backend{{Name: "sqlite", Open: openSQLite, Exec: execSQLite, RowCounts: rowCountsSQLite}}
	dsn := os.Getenv(EnvPostgres)
	if dsn == "" {
		if os.Getenv(EnvRequirePostgres) == "1" {
			t.Fatalf("%s=1 but %s is empty", EnvRequirePostgres, EnvPostgres)
		}
		return backends
	}
	return append(backends, Backend{
		Name:      "postgres",
		Open:      func(t testing.TB) store.Store { return openPostgres(t, dsn) },
		Exec:      execPostgres,
		RowCounts: rowCountsPostgres,
		Share:     func(t testing.TB, s store.Store) store.Store { return sharePostgres(t, dsn, s) },
	})
}

func openSQLite(t testing.TB) store.Store {
	t.Helper()
	// Not t.Context(): it is cancelled before cleanups run.
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "steward.db"))
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("testdb: close: %v", err)
		}
	})
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("testdb: %v", err)
	}
	return s
}

func execSQLite(t testing.TB, s store.Store, query string, args ...any) {
	t.Helper()
	ls, ok := s.(*sqlite.Store)
	if !ok {
		t.Fatalf("testdb: Exec on %T, want *sqlite.Store", s)
	}
	if _, err := ls.WriterDB().ExecContext(context.Background(), query, args...); err != nil {
		t.Fatalf("testdb: exec %q: %v", query, err)
	}
}

func rowCountsSQLite(t testing.TB, s store.Store) map[string]int64 {
	t.Helper()
	ls, ok := s.(*sqlite.Store)
	if !ok {
		t.Fatalf("testdb: RowCounts on %T, want *sqlite.Store", s)
	}
	ctx := context.Background()
	db := ls.WriterDB()
	rows, err := db.QueryContext(ctx,
		"SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name")
	if err != nil {
		t.Fatalf("testdb: list tables: %v", err)
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatalf("testdb: list tables: %v", err)
		}
		tables = append(tables, name)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		t.Fatalf("testdb: list tables: %v", err)
	}
	counts := make(map[string]int64, len(tables))
	for _, name := range tables {
		var n int64
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM "`+strings.ReplaceAll(name, `"`, `""`)+`"`).Scan(&n); err != nil {
			t.Fatalf("testdb: count %s: %v", name, err)
		}
		counts[name] = n
	}
	return counts
}

func openPostgres(t testing.TB, dsn string) store.Store {
	t.Helper()
	ctx := context.Background()
	if err := ensureTrigram(ctx, dsn); err != nil {
		t.Fatalf("testdb: pg_trgm: %v", err)
	}
	schema := "t_" + randomHex(8)
	if err := adminExec(ctx, dsn, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("testdb: %v", err)
	}
	t.Cleanup(func() {
		if err := adminExec(ctx, dsn, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("testdb: drop schema %s: %v", schema, err)
		}
	})
	s, err := postgres.Open(ctx, withSearchPath(dsn, schema))
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	// Registered after the drop, so it runs first: close, then drop.
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("testdb: close: %v", err)
		}
	})
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("testdb: %v", err)
	}
	return s
}

func execPostgres(t testing.TB, s store.Store, query string, args ...any) {
	t.Helper()
	ps, ok := s.(*postgres.Store)
	if !ok {
		t.Fatalf("testdb: Exec on %T, want *postgres.Store", s)
	}
	if _, err := ps.Pool().Exec(context.Background(), query, args...); err != nil {
		t.Fatalf("testdb: exec %q: %v", query, err)
	}
}

func rowCountsPostgres(t testing.TB, s store.Store) map[string]int64 {
	t.Helper()
	ps, ok := s.(*postgres.Store)
	if !ok {
		t.Fatalf("testdb: RowCounts on %T, want *postgres.Store", s)
	}
	ctx := context.Background()
	// The store's connections have its schema first on search_path.
	rows, err := ps.Pool().Query(ctx, "SELECT table_schema, table_name FROM information_schema.tables "+
		"WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name")
	if err != nil {
		t.Fatalf("testdb: list tables: %v", err)
	}
	tables, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (pgx.Identifier, error) {
		var schema, name string
		err := row.Scan(&schema, &name)
		return pgx.Identifier{schema, name}, err
	})
	if err != nil {
		t.Fatalf("testdb: list tables: %v", err)
	}
	counts := make(map[string]int64, len(tables))
	for _, table := range tables {
		var n int64
		if err := ps.Pool().QueryRow(ctx, "SELECT count(*) FROM "+table.Sanitize()).Scan(&n); err != nil {
			t.Fatalf("testdb: count %s: %v", table.Sanitize(), err)
		}
		counts[table[1]] = n
	}
	return counts
}

// sharePostgres opens another store on the schema of s.
func sharePostgres(t testing.TB, dsn string, s store.Store) store.Store {
	t.Helper()
	ps, ok := s.(*postgres.Store)
	if !ok {
		t.Fatalf("testdb: Share on %T, want *postgres.Store", s)
	}
	ctx := context.Background()
	var schema string
	if err := ps.Pool().QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		t.Fatalf("testdb: current schema: %v", err)
	}
	other, err := postgres.Open(ctx, withSearchPath(dsn, schema))
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	t.Cleanup(func() {
		if err := other.Close(); err != nil {
			t.Errorf("testdb: close: %v", err)
		}
	})
	return other
}

// withSearchPath points every connection at schema first and public second,
// where pg_trgm lives.
func withSearchPath(dsn, schema string) string {
	param := "search_path=" + schema + ",public"
	switch {
	case strings.Contains(dsn, "?"):
		return dsn + "&" + param
	case strings.Contains(dsn, "://"):
		return dsn + "?" + param
	default: // key=value form
		return dsn + " " + param
	}
}

var (
	trigramOnce sync.Once
	trigramErr  error
)

// ensureTrigram installs pg_trgm into public once per process. Extensions are
// per database, so parallel test processes may race on it: a unique
// violation means another one just installed it.
func ensureTrigram(ctx context.Context, dsn string) error {
	trigramOnce.Do(func() {
		err := adminExec(ctx, dsn, "CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public")
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23505" {
			err = nil
		}
		trigramErr = err
	})
	return trigramErr
}

// adminExec runs one statement on a connection of its own, outside any test
// schema.
func adminExec(ctx context.Context, dsn, sql string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails
	return hex.EncodeToString(b)
}
