package datatables

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/stewardhq/steward/store"
	"github.com/stewardhq/steward/store/postgres"
	"github.com/stewardhq/steward/store/sqlite"
)

// maxSourceConns bounds each external source's connections: the data admin
// is a handful of operators, and the product's database is not Steward's to
// crowd.
const maxSourceConns = 4

// sourceConnectTimeout bounds a connection attempt to a PostgreSQL source
// whose DSN sets no connect_timeout.
const sourceConnectTimeout = 10 * time.Second

// readOnlySource is implemented by the sources that take no writes: opened
// read-only, or a PostgreSQL server whose transactions are read-only (a
// standby).
type readOnlySource interface{ readOnly() bool }

// Open opens the data source name of sc: "sqlite:<path>" through modernc's
// driver, or "postgres://…" through a small pgx pool. When readOnly (every
// table of the source allows no writes) the connection itself refuses
// writes: mode=ro and query_only on SQLite, default_transaction_read_only
// on PostgreSQL. A source out of reach is an error naming it; the error
// never carries the DSN, which may hold a password.
func Open(ctx context.Context, name string, sc SourceConfig, readOnly bool) (Source, error) {
	switch {
	case strings.HasPrefix(sc.DSN, "sqlite:"):
		if sc.Schema != "" {
			return nil, fmt.Errorf("data source %q: schema applies to PostgreSQL sources only", name)
		}
		return openSQLite(ctx, name, strings.TrimPrefix(sc.DSN, "sqlite:"), readOnly)
	case strings.HasPrefix(sc.DSN, "postgres://"), strings.HasPrefix(sc.DSN, "postgresql://"):
		return openPostgres(ctx, name, sc.DSN, readOnly)
	default:
		return nil, fmt.Errorf("data source %q: dsn must start with sqlite: or postgres://", name)
	}
}

func openSQLite(ctx context.Context, name, path string, readOnly bool) (Source, error) {
	// "sqlite:///abs/path" reads as the URL form of "sqlite:/abs/path".
	path = strings.TrimPrefix(path, "//")
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("data source %q: sqlite: needs a file path and takes no options", name)
	}
	// The driver would create a missing file; a typo must not yield an
	// empty database.
	if fi, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("data source %q: %w", name, err)
	} else if fi.IsDir() {
		return nil, fmt.Errorf("data source %q: %s is a directory", name, path)
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "foreign_keys(1)")
	if readOnly {
		q.Set("mode", "ro")
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Set("mode", "rw")
		// Take the write lock at BEGIN, so a write waits for another
		// writer instead of failing half-way with SQLITE_BUSY.
		q.Set("_txlock", "immediate")
	}
	u := url.URL{Scheme: "file", Opaque: (&url.URL{Path: path}).EscapedPath(), RawQuery: q.Encode()}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return nil, fmt.Errorf("data source %q: %w", name, err)
	}
	db.SetMaxOpenConns(maxSourceConns)
	// Reading the schema proves the file is a database, not just a file.
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&n); err != nil {
		db.Close()
		return nil, fmt.Errorf("data source %q: %w", name, err)
	}
	return &sqliteSource{name: name, db: db, ro: readOnly}, nil
}

func openPostgres(ctx context.Context, name, dsn string, readOnly bool) (Source, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's parse errors quote the DSN, password included.
		return nil, fmt.Errorf("data source %q: invalid postgres dsn", name)
	}
	cfg.MaxConns = maxSourceConns
	// A host that drops packets must not hold start-up (or a request)
	// for the operating system's TCP timeout.
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = sourceConnectTimeout
	}
	cfg.MinConns = 0
	if readOnly {
		cfg.ConnConfig.RuntimeParams["default_transaction_read_only"] = "on"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("data source %q: %w", name, err)
	}
	// A standby, or a role whose transactions are read-only by default,
	// takes no writes whatever the configuration says.
	var setting string
	if err := pool.QueryRow(ctx, "SELECT current_setting('transaction_read_only')").Scan(&setting); err != nil {
		pool.Close()
		return nil, fmt.Errorf("data source %q: %w", name, err)
	}
	return &pgSource{name: name, pool: pool, ro: readOnly || setting == "on"}, nil
}

// sqliteSource is an external SQLite file.
type sqliteSource struct {
	name string
	db   *sql.DB
	ro   bool
}

func (s *sqliteSource) Name() string    { return s.name }
func (s *sqliteSource) Dialect() string { return "sqlite" }
func (s *sqliteSource) Own() bool       { return false }
func (s *sqliteSource) readOnly() bool  { return s.ro }
func (s *sqliteSource) Close() error    { return s.db.Close() }

func (s *sqliteSource) Read(ctx context.Context, fn func(store.RawQuerier) error) error {
	return fn(sqlite.RawOn(s.db))
}

func (s *sqliteSource) Write(ctx context.Context, fn func(store.RawQuerier) error) error {
	if s.ro {
		return fmt.Errorf("data source %q is read-only", s.name)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(sqlite.RawOn(tx)); err != nil {
		return errors.Join(err, ignoreDone(tx.Rollback()))
	}
	return tx.Commit()
}

func ignoreDone(err error) error {
	if errors.Is(err, sql.ErrTxDone) {
		return nil
	}
	return err
}

// pgSource is an external PostgreSQL database.
type pgSource struct {
	name string
	pool *pgxpool.Pool
	ro   bool
}

func (s *pgSource) Name() string    { return s.name }
func (s *pgSource) Dialect() string { return "postgres" }
func (s *pgSource) Own() bool       { return false }
func (s *pgSource) readOnly() bool  { return s.ro }
func (s *pgSource) Close() error    { s.pool.Close(); return nil }

func (s *pgSource) Read(ctx context.Context, fn func(store.RawQuerier) error) error {
	return fn(postgres.RawOn(s.pool))
}

func (s *pgSource) Write(ctx context.Context, fn func(store.RawQuerier) error) error {
	if s.ro {
		return fmt.Errorf("data source %q is read-only", s.name)
	}
	return postgres.Unavailable(pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return fn(postgres.RawOn(tx)) }))
}
