// Package sqlite is the SQLite store, on the pure-Go modernc.org/sqlite driver.
//
// All writes go through one connection whose transactions BEGIN IMMEDIATE, so
// write transactions are serialised in-process and take the database lock up
// front instead of failing with SQLITE_BUSY on their first write. Reads outside
// a transaction use a separate pool of read-only connections, which WAL lets
// run alongside the writer, and reuse their prepared statements (see
// stmtCache).
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Busy timeout goes first so that the pragmas after it wait rather than fail
// while another process holds the lock. The writer gets a 64 MiB page cache:
// each commit merges search-index segments, and with the default 2 MB those
// merges re-read their pages from the file, which made CreateUser four times
// slower by 30,000 users. journal_size_limit bounds the WAL file: SQLite
// never shrinks it on its own, so one burst (or one read held open while
// writes went on) would leave it at its largest size for good; with the
// limit, the writer truncates it back to WALSizeLimit each time the log
// restarts from its beginning.
const (
	writerParams = "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(%s)" +
		"&_pragma=cache_size(-65536)&_pragma=analysis_limit(1000)&_pragma=journal_size_limit(16777216)&_txlock=immediate"
	readerParams = "_pragma=busy_timeout(10000)&_pragma=query_only(1)"
)

// WALSizeLimit is the writer's journal_size_limit: the size, in bytes, the
// WAL file is truncated back to whenever it restarts. In steady use the WAL
// restarts every 1,000 pages (about 4 MB, SQLite's automatic checkpoint),
// so the file stays near that; the limit only matters after a burst.
const WALSizeLimit = 16 << 20

// CheckpointInterval is how often the store attempts a checkpoint that
// resets the WAL (see Checkpoint). SQLite's automatic checkpoints run on
// commits and never wait for readers, so under a steady stream of
// overlapping reads they may never find a moment to restart the log; this
// one waits briefly for the readers of the moment to finish.
const CheckpointInterval = 30 * time.Second

// checkpointBusyTimeout is how long a periodic checkpoint waits for readers
// (and holds the writer meanwhile) before it gives up until the next one.
const checkpointBusyTimeout = 250 * time.Millisecond

// The writer's synchronous settings (https://sqlite.org/pragma.html#pragma_synchronous).
// FULL, the default, syncs the WAL on every commit, so a committed ledger
// entry survives a power cut; NORMAL syncs at checkpoints only, so the last
// commits before a power cut (not a crash of the process) may be lost, in
// exchange for several times the write throughput; OFF leaves syncing to the
// operating system.
const (
	SynchronousFull   = "full"
	SynchronousNormal = "normal"
	SynchronousOff    = "off"
)

// parsePath splits path into the file name and the synchronous setting of
// an optional "?synchronous=full|normal|off" suffix; any other option is an
// error.
func parsePath(path string) (file, synchronous string, err error) {
	file, query, ok := strings.Cut(path, "?")
	synchronous = SynchronousFull
	if !ok {
		return file, synchronous, nil
	}
	opts, err := url.ParseQuery(query)
	if err != nil {
		return "", "", fmt.Errorf("sqlite: open %s: options %q: %w", file, query, err)
	}
	for name, values := range opts {
		if name != "synchronous" {
			return "", "", fmt.Errorf("sqlite: open %s: unknown option %q (the only option is synchronous=full|normal|off)",
				file, name)
		}
		if len(values) != 1 {
			return "", "", fmt.Errorf("sqlite: open %s: synchronous given %d times", file, len(values))
		}
		switch v := strings.ToLower(values[0]); v {
		case SynchronousFull, SynchronousNormal, SynchronousOff:
			synchronous = v
		default:
			return "", "", fmt.Errorf("sqlite: open %s: synchronous=%q, want full, normal or off", file, values[0])
		}
	}
	return file, synchronous, nil
}

// Store is a SQLite database holding Steward's state. It implements store.Store.
type Store struct {
	queries // reads outside a transaction, on the reader pool through stmts
	writer  *sql.DB
	reader  *sql.DB
	stmts   *stmtCache
	goose   *goose.Provider
	// synchronous is the writer's setting: see Synchronous.
	synchronous string
	// prepared holds the write path's statements once Migrate has prepared
	// them: see prepareWrites.
	prepared atomic.Pointer[map[string]*sql.Stmt]
	// writes counts committed write transactions: see Generation.
	writes atomic.Uint64
	// flags is the cache watcher (flagwatch.go).
	flags flagWatch
	// statements counts statements run in write transactions: see
	// Statements.
	statements atomic.Uint64
	// path is the database file's name.
	path string
	// stopCheckpoints ends the periodic checkpoints; checkpointsDone is
	// closed when they have.
	stopCheckpoints context.CancelFunc
	checkpointsDone chan struct{}
}

// Generation implements store.Generational. Every write to the file goes
// through this Store's one writer connection, so the count moves after
// every commit that could change what a read returns.
func (s *Store) Generation() uint64 { return s.writes.Load() }

// Statements returns how many SQL statements write transactions have run so
// far, reads inside them included, committed or not (BEGIN and COMMIT
// aside). The difference across one Update is what that transaction cost,
// for benchmarks: a tenant's suspension is a handful of statements however
// many members it has.
func (s *Store) Statements() uint64 { return s.statements.Load() }

var (
	_ store.Store = (*Store)(nil)
	_ store.Tx    = (*tx)(nil)

	// Per domain too, so a missing method names its domain.
	_ store.UserQueries            = (*Store)(nil)
	_ store.SessionQueries         = (*Store)(nil)
	_ store.AuditQueries           = (*Store)(nil)
	_ store.SigningKeyQueries      = (*Store)(nil)
	_ store.KeyQueries             = (*Store)(nil)
	_ store.IdempotencyQueries     = (*Store)(nil)
	_ store.TenantQueries          = (*Store)(nil)
	_ store.CreditQueries          = (*Store)(nil)
	_ store.StatsQueries           = (*Store)(nil)
	_ store.AuditCheckpointQueries = (*Store)(nil)
	_ store.SeriesQueries          = (*Store)(nil)
	_ store.UserTx                 = (*tx)(nil)
	_ store.SessionTx              = (*tx)(nil)
	_ store.AuditTx                = (*tx)(nil)
	_ store.SigningKeyTx           = (*tx)(nil)
	_ store.KeyTx                  = (*tx)(nil)
	_ store.IdempotencyTx          = (*tx)(nil)
	_ store.TenantTx               = (*tx)(nil)
	_ store.CreditTx               = (*tx)(nil)
	_ store.StatsTx                = (*tx)(nil)
	_ store.AuditCheckpointWrites  = (*tx)(nil)
	_ store.SeriesTx               = (*tx)(nil)
)

// Synchronous returns the writer's synchronous setting: SynchronousFull,
// SynchronousNormal or SynchronousOff.
func (s *Store) Synchronous() string { return s.synchronous }

// Open opens the database file at path, creating it if needed. Call Migrate
// before use. path is a file name, not a URI, optionally followed by
// "?synchronous=full|normal|off" (default full: see SynchronousFull), as in
// "steward.db?synchronous=normal"; any other option is an error.
func Open(ctx context.Context, path string) (*Store, error) {
	path, synchronous, err := parsePath(path)
	if err != nil {
		return nil, err
	}
	writer, err := sql.Open("sqlite", path+"?"+fmt.Sprintf(writerParams, strings.ToUpper(synchronous)))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	writer.SetConnMaxIdleTime(0)
	// Connect the writer first: it creates the file and switches it to WAL,
	// which the readers then find already set.
	if err := writer.PingContext(ctx); err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}

	reader, err := sql.Open("sqlite", path+"?"+readerParams)
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	reader.SetMaxOpenConns(n)
	reader.SetMaxIdleConns(n)
	reader.SetConnMaxLifetime(0)
	reader.SetConnMaxIdleTime(0)

	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, errors.Join(err, writer.Close(), reader.Close())
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, writer, sub)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("sqlite: migrations: %w", err), writer.Close(), reader.Close())
	}
	stmts := newStmtCache(reader)
	s := &Store{queries: queries{db: stmts}, writer: writer, reader: reader, stmts: stmts, goose: p,
		synchronous: synchronous, path: path, checkpointsDone: make(chan struct{})}
	var loopCtx context.Context
	loopCtx, s.stopCheckpoints = context.WithCancel(context.Background())
	go s.checkpointLoop(loopCtx)
	return s, nil
}

// Path returns the database file's name; its WAL is Path()+"-wal".
func (s *Store) Path() string { return s.path }

// checkpointLoop attempts a resetting checkpoint every CheckpointInterval
// until ctx ends. A busy attempt (a reader did not finish in time) is
// simply tried again at the next tick.
func (s *Store) checkpointLoop(ctx context.Context) {
	defer close(s.checkpointsDone)
	t := time.NewTicker(CheckpointInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_, _ = s.Checkpoint(ctx) // best effort: the next tick tries again
		}
	}
}

// Checkpoint copies the WAL into the database file and truncates the WAL to
// zero bytes (wal_checkpoint(TRUNCATE)), on the writer connection, between
// write transactions. It waits up to checkpointBusyTimeout for readers
// that use the WAL to finish, holding off writers meanwhile; if they do
// not, it reports busy and leaves the WAL as the automatic checkpoints
// keep it. Reads are short (scans read in pages, see ScanAudit), so a
// later attempt finds a gap.
func (s *Store) Checkpoint(ctx context.Context) (busy bool, err error) {
	conn, err := s.writer.Conn(ctx)
	if err != nil {
		return false, fmt.Errorf("sqlite: checkpoint: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA busy_timeout = %d", checkpointBusyTimeout.Milliseconds())); err != nil {
		return false, fmt.Errorf("sqlite: checkpoint: %w", err)
	}
	var b, logFrames, done int
	err = conn.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&b, &logFrames, &done)
	// Restore the writer's own busy timeout whatever happened, with a
	// context of its own: ctx may be what ended the checkpoint.
	rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, rerr := conn.ExecContext(rctx, "PRAGMA busy_timeout = 10000"); rerr != nil {
		// A connection left with the short timeout must not go back to
		// the pool: drop it, and the pool opens a fresh one from the DSN.
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		err = errors.Join(err, rerr)
	}
	if err != nil {
		return false, fmt.Errorf("sqlite: checkpoint: %w", err)
	}
	return b != 0, nil
}

// Migrate applies every migration not yet applied. It is safe to call again.
func (s *Store) Migrate(ctx context.Context) error {
	if _, err := s.goose.Up(ctx); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	if err := s.optimize(ctx); err != nil {
		return err
	}
	return s.prepareWrites(ctx)
}

// prepareWrites prepares the statements of writePathSQL on the writer, once
// the schema they name exists. database/sql keeps each prepared on the one
// writer connection, and a write transaction runs it there (Tx.StmtContext)
// instead of parsing and planning its text again: parsing was three
// quarters of a deduct's CPU. They cannot be prepared lazily, from inside a
// transaction: preparing on the pool would wait for the connection the
// transaction holds. Until Migrate has run, every statement runs
// unprepared.
func (s *Store) prepareWrites(ctx context.Context) error {
	if s.prepared.Load() != nil {
		return nil
	}
	m := make(map[string]*sql.Stmt, len(writePathSQL))
	for _, query := range writePathSQL {
		st, err := s.writer.PrepareContext(ctx, query)
		if err != nil {
			errs := []error{fmt.Errorf("sqlite: prepare %q: %w", query, err)}
			for _, st := range m {
				errs = append(errs, st.Close())
			}
			return errors.Join(errs...)
		}
		m[query] = st
	}
	if !s.prepared.CompareAndSwap(nil, &m) { // a concurrent Migrate was quicker
		for _, st := range m {
			st.Close()
		}
	}
	return nil
}

// optimize refreshes the planner's statistics where they are missing or stale,
// as SQLite advises at start-up and before closing. Without them a query that
// combines filters may pick the less selective index. analysis_limit keeps
// this to a fraction of a second at a million users.
func (s *Store) optimize(ctx context.Context) error {
	if _, err := s.writer.ExecContext(ctx, "PRAGMA optimize=0x10002"); err != nil {
		return fmt.Errorf("sqlite: optimize: %w", err)
	}
	return nil
}

// MigrationVersion returns the highest migration version applied.
func (s *Store) MigrationVersion(ctx context.Context) (int64, error) {
	// Read the version table on the reader pool rather than through goose, so
	// a health check never queues behind a write transaction.
	var exists bool
	err := s.reader.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?)",
		goose.DefaultTablename).Scan(&exists)
	if err != nil {
		return 0, fmt.Errorf("sqlite: migration version: %w", err)
	}
	if !exists {
		return 0, nil // never migrated
	}
	var v sql.NullInt64
	err = s.reader.QueryRowContext(ctx, "SELECT MAX(version_id) FROM "+goose.DefaultTablename).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("sqlite: migration version: %w", err)
	}
	return v.Int64, nil
}

// WriterDB returns the single writer connection, for tests that need to reach
// past the Store API. Do not hold it across Update: it is the only one.
func (s *Store) WriterDB() *sql.DB { return s.writer }

// Dialect returns "sqlite".
func (s *Store) Dialect() string { return "sqlite" }

// Ping checks that the database answers. It asks a reader: the writer may be
// busy with a long transaction, which is no reason to fail a health check.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.reader.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	return nil
}

// Close closes the reader's prepared statements, the reader pool and the
// writer.
func (s *Store) Close() error {
	s.flags.stop()
	s.stopCheckpoints()
	<-s.checkpointsDone
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.optimize(ctx) // best effort: stale statistics only cost speed
	var errs []error
	if m := s.prepared.Swap(nil); m != nil {
		for _, st := range *m {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(append(errs, s.stmts.Close(), s.reader.Close(), s.writer.Close())...)
}

// Update runs fn in a write transaction on the writer connection. It rolls
// back if fn returns an error or panics (the panic is re-raised) and commits
// otherwise. fn must not call Update itself: the writer is already taken.
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) error {
	sqlTx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	// A no-op after Commit; otherwise it releases the writer, also when fn panics.
	defer sqlTx.Rollback()
	wtx := countingTx{Tx: sqlTx, n: &s.statements}
	if m := s.prepared.Load(); m != nil {
		wtx.prepared = *m
	}
	t := &tx{queries: queries{db: wtx, search: s.search}, tx: wtx}
	if err := fn(t); err != nil {
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	// After the commit and before Update returns: a read that starts once
	// the caller has its answer sees the new generation.
	s.writes.Add(1)
	if w := s.flags.watcher(); w != nil {
		for _, k := range t.notified {
			w(k)
		}
	}
	return nil
}

// querier is what both the reader pool and a transaction offer.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// queries implements store.Queries on whichever querier it is given.
type queries struct {
	db     querier
	search searchLimits // zero but in tests
}

// tx implements store.Tx. Its reads go through the transaction, so they see
// its own writes.
type tx struct {
	queries
	tx countingTx
	// auditHead is the entry this transaction last appended to the audit
	// log: the head of the chain until it commits, since it holds the only
	// writer.
	auditHead *auditHead
	// notified are the keys NotifyFlags queued, delivered on commit.
	notified []string
}

type auditHead struct {
	seq  int64
	hash string
}

// countingTx is a write transaction that counts the statements run on it
// into n (see Store.Statements). A statement prepared on it counts each time
// it runs: the caller adds those itself. A query text the writer has
// prepared (see Store.prepareWrites) runs as that statement.
type countingTx struct {
	*sql.Tx
	n        *atomic.Uint64
	prepared map[string]*sql.Stmt // nil before Migrate
}

func (c countingTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	c.n.Add(1)
	if st := c.prepared[query]; st != nil {
		return c.Tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return c.Tx.ExecContext(ctx, query, args...)
}

func (c countingTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	c.n.Add(1)
	if st := c.prepared[query]; st != nil {
		return c.Tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	}
	return c.Tx.QueryContext(ctx, query, args...)
}

func (c countingTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	c.n.Add(1)
	if st := c.prepared[query]; st != nil {
		return c.Tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return c.Tx.QueryRowContext(ctx, query, args...)
}

// LockOperators does nothing on SQLite: write transactions begin IMMEDIATE on
// the only writer connection, so this transaction already excludes every
// other writer until it ends.
func (t *tx) LockOperators(ctx context.Context) error { return nil }

// mapError turns driver errors into store errors: a unique or primary key
// violation becomes a *store.DuplicateError naming the column.
func mapError(err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return &store.DuplicateError{Field: constraintColumn(se.Error())}
	}
	return err
}

// compositeFields names the domain field of unique indexes on several
// columns, by the column list SQLite reports (it names the columns, not the
// index); a one-column index reports its column, which is the field.
// TestEveryUniqueConstraintIsMapped keeps it complete.
var compositeFields = map[string]string{
	// 00001_init.sql
	"user_tags.tag, user_tags.user_id": "tag",
	// 00003_tenants.sql
	"tenant_held_users.tenant_id, tenant_held_users.user_id": "user_id",
	"tenant_held_keys.tenant_id, tenant_held_keys.key_id":    "key_id",
	// 00004_credits.sql
	"credit_entries.tenant_id, credit_entries.idempotency_key": "idempotency_key",
	"credit_entries.tenant_id, credit_entries.seq":             "seq",
	"credit_draws.entry_id, credit_draws.ord":                  "ord",
	"usage_events.tenant_id, usage_events.id":                  "id",
	// 00010_key_usage.sql
	"key_usage.key_id, key_usage.minute, key_usage.code": "key_id",
	// 00009_series.sql: kept by triggers and upserts; a duplicate is a bug.
	"stat_hourly.name, stat_hourly.hour, stat_hourly.key, stat_hourly.shard": "hour",
	"tenant_monthly.tenant_id, tenant_monthly.month":                         "month",
	"user_activity.hour, user_activity.user_id":                              "hour",
	"active_days.tz, active_days.day":                                        "day",
	"series_memo_days.tz, series_memo_days.day":                              "day",
	"series_memo.tz, series_memo.day, series_memo.name, series_memo.key":     "name",
	// 00008_stat_counters.sql
	"stat_counters.name, stat_counters.key, stat_counters.shard": "key",
	// 00016_user_spending.sql: written by upserts.
	"user_spend.tenant_id, user_spend.user_id":                                                "user_id",
	"user_session_spend.tenant_id, user_session_spend.user_id, user_session_spend.session_id": "session_id",
}

// constraintColumn extracts "email" from a message such as
// "constraint failed: UNIQUE constraint failed: users.email (2067)".
func constraintColumn(msg string) string {
	const marker = "constraint failed: "
	i := strings.LastIndex(msg, marker)
	if i < 0 {
		return ""
	}
	cols := msg[i+len(marker):]
	if j := strings.Index(cols, " ("); j >= 0 {
		cols = cols[:j]
	}
	if field, ok := compositeFields[cols]; ok {
		return field
	}
	if j := strings.IndexAny(cols, ", "); j >= 0 {
		cols = cols[:j]
	}
	if j := strings.LastIndexByte(cols, '.'); j >= 0 {
		cols = cols[j+1:]
	}
	return cols
}

// exactlyOne returns store.ErrNotFound when an UPDATE or DELETE touched no row.
func exactlyOne(res sql.Result, err error) error {
	if err != nil {
		return mapError(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// limit applies the default page size.
func limit(n int) int {
	if n <= 0 {
		return steward.DefaultLimit
	}
	return n
}
