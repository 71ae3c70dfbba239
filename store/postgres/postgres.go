// Package postgres is the PostgreSQL store, on pgx/v5. Migrations are
// embedded and numbered like the SQLite store's.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Advisory lock keys. They are database-wide, so they stay clear of small
// numbers other software is likely to use.
const (
	lockOperators int64 = 0x5374657761726401 // "Steward" 01
	lockAuditHead int64 = 0x5374657761726402
	// lockPlatformSettings serializes writers of the platform configuration.
	lockPlatformSettings int64 = 0x5374657761726403
	// lockMigrate is paired with a hash of the schema: migrators of one schema
	// queue, those of different schemas (parallel tests) do not.
	lockMigrate int32 = 0x53747701
)

// maxAttempts bounds how often Update re-runs fn after a serialization
// failure or deadlock.
const maxAttempts = 5

// Store is a store.Store on a pgx pool.
type Store struct {
	queries
	pool  *pgxpool.Pool
	db    *sql.DB // the same pool seen through database/sql, for goose
	goose *goose.Provider
	// statements counts statements run in write transactions: see
	// Statements.
	statements atomic.Uint64
	// flags is the flag listener, if WatchFlags started one (flagwatch.go).
	flags flagWatch
}

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

// Open connects to dsn. Runtime parameters in the DSN (search_path=…) apply
// to every connection. It does not migrate; call Migrate.
//
// Parallel query is off for Steward's connections unless the DSN sets
// max_parallel_workers_per_gather itself: Steward's reads are index
// lookups over a few rows, and the planner cannot see how few rows a
// partial index holds (the stat counters' not-yet-swept rows: it estimates
// from the whole table), so it would start workers that cost ~10 ms to
// count nothing.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	if !strings.Contains(dsn, "pool_max_conns") {
		cfg.MaxConns = DefaultPoolSize()
	}
	if _, set := cfg.ConnConfig.RuntimeParams["max_parallel_workers_per_gather"]; !set {
		cfg.ConnConfig.RuntimeParams["max_parallel_workers_per_gather"] = "0"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	db := stdlib.OpenDBFromPool(pool)
	p, err := newMigrator(db)
	if err != nil {
		db.Close()
		pool.Close()
		return nil, fmt.Errorf("postgres: migrations: %w", err)
	}
	return &Store{queries: queries{q: pool}, pool: pool, db: db, goose: p}, nil
}

// DefaultPoolSize is a replica's pool unless the DSN sets pool_max_conns:
// 4 per CPU, at least 8. A request holds a connection only for its round
// trips, and the background jobs (the ledger batcher, the sequencer, the
// deliverer, the key-use flush) each hold one while they write; pgx's own
// default (the CPU count, at least 4) left requests queueing for a
// connection behind them on small machines.
func DefaultPoolSize() int32 { return int32(max(8, 4*runtime.GOMAXPROCS(0))) }

func newMigrator(db *sql.DB) (*goose.Provider, error) {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	// goose's own Postgres session locker polls every 5 s and is one lock for
	// the whole database; a blocking lock per schema lets concurrent migrators
	// of one schema (replicas) go one after another without polling.
	return goose.NewProvider(goose.DialectPostgres, db, sub,
		goose.WithSessionLocker(advisoryLocker{}), goose.WithDisableGlobalRegistry(true))
}

// Statements returns how many SQL statements this Store's write
// transactions have run so far, reads inside them and re-run attempts
// included, committed or not (BEGIN and COMMIT aside); a batch counts each
// statement queued. The difference across one Update is what that
// transaction cost, for benchmarks: a tenant's suspension is a handful of
// statements however many members it has.
func (s *Store) Statements() uint64 { return s.statements.Load() }

// Pool returns the underlying pool, for callers that need raw access (bulk
// loads, benchmarks).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Dialect is "postgres".
func (s *Store) Dialect() string { return "postgres" }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// Close closes the pool.
func (s *Store) Close() error {
	s.flags.stop()
	err := s.db.Close()
	s.pool.Close()
	return err
}

// Migrate applies every pending migration. The goose version table lands in
// the first schema of search_path, like the store's tables.
func (s *Store) Migrate(ctx context.Context) error {
	if _, err := s.goose.Up(ctx); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	return nil
}

// MigrationVersion is the schema version applied, 0 before Migrate. It reads
// the version table directly: goose would take the migration lock, so a
// health check would wait behind a running migration. The table is looked up
// in current_schema(), where goose creates it, not wherever search_path finds
// one.
func (s *Store) MigrationVersion(ctx context.Context) (int64, error) {
	var table *string
	err := s.pool.QueryRow(ctx, "SELECT to_regclass(format('%I.%I', current_schema(), $1::text))::text",
		goose.DefaultTablename).Scan(&table)
	if err != nil {
		return 0, fmt.Errorf("postgres: migration version: %w", err)
	}
	if table == nil {
		return 0, nil
	}
	var v *int64
	if err := s.pool.QueryRow(ctx, "SELECT max(version_id) FROM "+*table).Scan(&v); err != nil {
		return 0, fmt.Errorf("postgres: migration version: %w", err)
	}
	if v == nil {
		return 0, nil
	}
	return *v, nil
}

type advisoryLocker struct{}

func (advisoryLocker) SessionLock(ctx context.Context, conn *sql.Conn) error {
	_, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1, hashtext(coalesce(current_schema(), '')))", lockMigrate)
	return err
}

func (advisoryLocker) SessionUnlock(ctx context.Context, conn *sql.Conn) error {
	_, err := conn.ExecContext(ctx, "SELECT pg_advisory_unlock($1, hashtext(coalesce(current_schema(), '')))", lockMigrate)
	return err
}

// Update runs fn in a READ COMMITTED transaction, re-running it from the
// start on a serialization failure or deadlock.
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := s.update(ctx, fn)
		if err == nil || attempt == maxAttempts || !retryable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(attempt*attempt) * time.Millisecond):
		}
	}
}

func (s *Store) update(ctx context.Context, fn func(store.Tx) error) (err error) {
	ptx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return opErr("begin", err)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = ptx.Rollback(context.WithoutCancel(ctx))
			panic(p)
		}
		if err != nil {
			_ = ptx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	pt := &pipeTx{Tx: ptx, n: &s.statements}
	if err := fn(&tx{queries: queries{q: pt, inTx: true}, pipe: pt}); err != nil {
		return err
	}
	// What was deferred is sent before the commit, in one round trip.
	if err := pt.flush(ctx); err != nil {
		return cause(err)
	}
	return opErr("commit", ptx.Commit(ctx))
}

func retryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40001" || pgErr.Code == "40P01")
}

// querier is what a *pgxpool.Pool and a pgx.Tx have in common, so the same
// query code serves reads outside and inside a transaction.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// queries implements store.Queries on either the pool or a transaction.
type queries struct {
	q    querier
	inTx bool
}

// forUpdate is appended to single-row reads: inside a transaction Get* lock
// the row they return.
func (q *queries) forUpdate() string {
	if q.inTx {
		return " FOR UPDATE"
	}
	return ""
}

// tx implements store.Tx.
type tx struct {
	queries
	// pipe is the transaction's connection, where writes whose outcome
	// nothing waits for are deferred (pipeline.go).
	pipe *pipeTx
	// auditHead is the entry this transaction last sealed: it holds the
	// sealer lock from then on, so that entry stays the head until it ends.
	auditHead *auditHead
}

type auditHead struct {
	seq  int64
	hash string
}

// LockOperators serialises operator role and status changes until the
// transaction ends.
func (t *tx) LockOperators(ctx context.Context) (err error) {
	defer wrapErr(&err, "lock operators")
	_, err = t.q.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockOperators)
	return mapErr(err)
}

// LockAuditHead takes the sealer lock, then reads the sealed head. The read
// is a separate statement so that, at READ COMMITTED, its snapshot is taken
// after the lock is held and includes the previous holder's seals.
//
// It also rules out bitmap and sequential scans for the rest of the
// transaction. A pass finds pending rows through the pending indexes,
// whose entries for the rows earlier passes sealed stay there, pointing at
// dead row versions, until something removes them. A plain index scan
// marks each one it meets as dead, so the next pass skips it; a bitmap
// scan never does, and the planner picks one (or a sequential scan) once
// sealing has moved rows out of insertion order on disk. Under a steady
// load each pass then revisited every row sealed since the last vacuum:
// tens of thousands, most of PostgreSQL's time per deduct
// (TestSealerScansPendingInOrder). The other holders of the lock (the
// key ring, checkpoints, retention's purges) read by key or by an indexed
// range, or read tables of a few rows, which plain index scans serve as
// well; where no index fits, PostgreSQL still scans the table.
func (t *tx) LockAuditHead(ctx context.Context) (_ int64, _ string, err error) {
	defer wrapErr(&err, "lock audit head")
	if t.auditHead != nil {
		return t.auditHead.seq, t.auditHead.hash, nil
	}
	if _, err := t.q.Exec(ctx, `SELECT pg_advisory_xact_lock($1), set_config('enable_bitmapscan', 'off', true),
		set_config('enable_seqscan', 'off', true)`, lockAuditHead); err != nil {
		return 0, "", mapErr(err)
	}
	var seq int64
	var hash string
	err = t.q.QueryRow(ctx, "SELECT seq, hash FROM audit_log WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1").Scan(&seq, &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, "", nil
	}
	if err != nil {
		return 0, "", mapErr(err)
	}
	return seq, hash, nil
}

// constraintFields names the domain field behind each unique constraint and
// unique index of the migrations; TestEveryUniqueConstraintIsMapped keeps it
// complete.
var constraintFields = map[string]string{
	// 00001_init.sql
	"users_pkey":              "id",
	"users_email_key":         "email",
	"users_username_key":      "username",
	"sessions_pkey":           "id",
	"sessions_token_hash_key": "token_hash",
	"audit_log_id_key":        "id",
	"signing_keys_pkey":       "id",
	// 00002_api_keys.sql
	"api_keys_pkey":            "id",
	"api_keys_secret_hash_key": "secret_hash",
	"idempotency_pkey":         "key_hash",
	// 00003_tenants.sql
	"tenants_pkey":             "id",
	"tenants_slug_key":         "slug",
	"tenant_held_users_pkey":   "user_id",
	"tenant_held_keys_pkey":    "key_id",
	"tenant_plan_changes_pkey": "id",
	// 00004_credits.sql
	"credit_accounts_pkey":           "tenant_id",
	"credit_blocks_pkey":             "id",
	"credit_entries_pkey":            "id",
	"credit_entries_idempotency_key": "idempotency_key",
	"credit_entries_tenant_seq_key":  "seq",
	"credit_draws_pkey":              "ord",
	"usage_events_pkey":              "id",
	// 00005_audit_checkpoints.sql
	"audit_checkpoints_pkey": "id",
	// 00007_impersonations.sql
	"impersonations_pkey": "id",
	// 00010_key_usage.sql
	"key_usage_pkey":           "key_id",
	"key_usage_not_found_pkey": "minute",
	// 00009_series.sql: kept by triggers and upserts; a duplicate is a bug.
	"stat_hourly_pkey":            "hour",
	"tenant_monthly_pkey":         "month",
	"user_activity_pkey":          "hour",
	"user_last_active_pkey":       "user_id",
	"user_last_active_hours_pkey": "hour",
	"active_days_pkey":            "day",
	"series_memo_days_pkey":       "day",
	"series_memo_pkey":            "name",
	"billing_snapshots_pkey":      "month",
	// 00008_stat_counters.sql
	"stat_counters_pkey": "key",
	// 00012_retention.sql: written by upserts; a duplicate is a bug.
	"retention_settings_pkey": "data_set",
	"retention_state_pkey":    "id",
	// 00013_platform_settings.sql: written by upserts.
	"platform_settings_pkey": "section",
	// 00014_retention_more.sql: written by upserts.
	"audit_anchor_pkey": "id",
	// 00016_user_spending.sql: written by upserts.
	"user_spending_caps_pkey": "user_id",
	"user_spend_pkey":         "user_id",
	"user_session_spend_pkey": "session_id",
	// 00015_user_features.sql: written by upserts.
	"user_features_pkey": "user_id",
	// 00017_webhooks.sql
	"webhook_events_id_key":   "id",
	"webhook_endpoints_pkey":  "id",
	"webhook_deliveries_pkey": "id",
	// 00018_resources.sql: written by upserts.
	"resources_pkey": "id",
	// 00019_active_model.sql: one row, written by upserts.
	"active_model_pkey": "singleton",
	// 00022_audit_sequencer.sql: replaces audit_log_pkey (seq). pos is
	// generated; seq is assigned by the one sealer.
	"audit_log_pos_pkey": "pos",
	"audit_log_seq_key":  "seq",
	// and replaces webhook_events_pkey (seq): the sealer assigns seq.
	"webhook_events_pos_pkey": "pos",
	"webhook_events_seq_key":  "seq",
}

// wrapErr, deferred by every store method, maps a driver error (mapErr) and
// names the operation that failed, as the SQLite store does: "postgres: get
// user: …". A miss stays the bare store.ErrNotFound, and errors.Is and
// errors.As still find store errors through the wrapping.
func wrapErr(errp *error, op string) { *errp = opErr(op, *errp) }

// opErr is wrapErr for one error value.
func opErr(op string, err error) error {
	err = mapErr(err)
	if err == nil || errors.Is(err, store.ErrNotFound) {
		return err
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// mapErr turns driver errors into store errors and leaves others alone.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		field, ok := constraintFields[pgErr.ConstraintName]
		if !ok {
			field = strings.TrimSuffix(pgErr.ConstraintName, "_key")
		}
		return &store.DuplicateError{Field: field}
	}
	if unreachable(err) {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return err
}

// unreachable reports whether err says the server could not be reached or
// went away: a failed connect, a cut connection, or the server's own
// connection-exception and shutdown codes (SQLSTATE class 08, 57P01-57P03).
func unreachable(err error) bool {
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return strings.HasPrefix(pgErr.Code, "08") || pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03"
	}
	var netErr net.Error
	return errors.As(err, &netErr) || errors.Is(err, io.ErrUnexpectedEOF)
}

// collectAll scans every row of a Query's result with scan; never nil.
func collectAll[T any](rows pgx.Rows, err error, scan func(pgx.Row) (T, error)) ([]T, error) {
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, mapErr(rows.Err())
}

func pageLimit(n int) int {
	if n <= 0 {
		return steward.DefaultLimit
	}
	return n
}

// nullIfEmpty stores "" as NULL, for unique columns where "" means none.
func nullIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// where builds a WHERE clause with numbered placeholders.
type where struct {
	conds []string
	args  []any
}

// arg adds v as the next parameter and returns its placeholder.
func (w *where) arg(v any) string {
	w.args = append(w.args, v)
	return fmt.Sprintf("$%d", len(w.args))
}

func (w *where) add(cond string) { w.conds = append(w.conds, cond) }

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}
