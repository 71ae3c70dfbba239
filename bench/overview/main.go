// Command overview seeds a Steward database at the scale the overview
// endpoints (stats, dashboard, billing) are measured at: by default
// 1,000,000 users, 2,000 tenants and a year of daily activity.
//
//	export STEWARD_BOOTSTRAP_PASSWORD=bench-password-1   # or -admin-password
//	go run ./bench/overview -db sqlite:bench/data/overview-1m.db
//	go run ./bench/overview -db 'postgres://postgres@127.0.0.1:55432/steward_bench_1m?sslmode=disable'
//
// It runs the store's migrations, refuses a database that holds any user or
// tenant, then writes with set-based SQL (a recursive CTE on SQLite,
// generate_series on PostgreSQL) in large transactions, into the ordinary
// tables only, so whatever triggers the schema has (counters, tags, search)
// see every row as if the service had written it:
//
//   - tenants across the plan catalogue (free, starter, pro, scale), 5 %
//     suspended and 2.5 % soft-deleted — their members, sessions and keys are
//     then moved by the store's own cascade methods, as the service would;
//   - users created over the window with mixed statuses, operators among them,
//     three in four in a tenant;
//   - API keys of every type and state; sessions, SessionsPerDay logins a day,
//     most expired;
//   - usage events every day per tenant over several metrics and models, and
//     the credits ledger they imply: a monthly grant of the plan's included
//     credits (a block expiring at the month's end), a deduct per charged
//     event, an expire entry per ended month — so every tenant's balance
//     equals the sum of its entries and of its open blocks (`steward doctor`
//     checks it);
//   - one operator with role owner, -admin-email / -admin-password, for the
//     benchmark to log in as.
//
// Rows are deterministic apart from times, which are relative to now. No
// audit entries are written (as bench/seed). It prints how long each part
// took and the database's size.
package main

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/backend"
	"github.com/stewardhq/steward/internal/id"
	"github.com/stewardhq/steward/internal/password"
	"github.com/stewardhq/steward/store"
	"github.com/stewardhq/steward/store/postgres"
	"github.com/stewardhq/steward/store/sqlite"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "overview seed:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	var (
		z                 sizes
		dsn, email, pw    string
		hashPasswordsWith = password.Default()
	)
	fs := flag.NewFlagSet("overview", flag.ContinueOnError)
	fs.StringVar(&dsn, "db", "sqlite:bench/data/overview-1m.db", "database: sqlite:<path> or a postgres:// URL")
	fs.IntVar(&z.Users, "users", 1_000_000, "users")
	fs.IntVar(&z.Tenants, "tenants", 2_000, "tenants (a multiple of 10)")
	fs.IntVar(&z.Keys, "keys", 50_000, "API keys")
	fs.IntVar(&z.SessionsPerDay, "sessions-per-day", 5_000, "logins per day")
	fs.IntVar(&z.EventsPerDay, "events-per-day", 3, "usage events per tenant per day")
	fs.IntVar(&z.Days, "days", 365, "days of activity, ending today")
	fs.IntVar(&z.Chunk, "chunk", 100_000, "rows per transaction for users, keys, sessions and usage events")
	fs.StringVar(&email, "admin-email", "admin@bench.local", "email of the owner operator to create")
	fs.StringVar(&pw, "admin-password", os.Getenv("STEWARD_BOOTSTRAP_PASSWORD"), "its password (default $STEWARD_BOOTSTRAP_PASSWORD)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := z.validate(); err != nil {
		return err
	}
	if msg := steward.ValidatePassword(pw); msg != "" {
		return fmt.Errorf("-admin-password %s (or set STEWARD_BOOTSTRAP_PASSWORD)", msg)
	}
	if path, ok := strings.CutPrefix(dsn, "sqlite:"); ok {
		if dir := path[:max(0, strings.LastIndex(path, "/"))]; dir != "" {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
		}
	}
	st, err := backend.Open(ctx, dsn) // migrates
	if err != nil {
		return err
	}
	defer st.Close()
	t0 := time.Now()
	if err := seed(ctx, st, z, time.Now(), hashPasswordsWith, email, pw, out); err != nil {
		return err
	}
	fmt.Fprintf(out, "%-34s %15s %10s\n", "total", "", time.Since(t0).Round(time.Millisecond))
	if size, err := dbSize(ctx, st); err == nil {
		fmt.Fprintf(out, "database size: %.1f MiB\n", float64(size)/(1<<20))
	}
	return nil
}

// seed fills an empty, migrated database and creates the operator.
func seed(ctx context.Context, st store.Store, z sizes, now time.Time, p password.Params, email, pw string, out io.Writer) error {
	if err := refuseNonEmpty(ctx, st); err != nil {
		return err
	}
	// One throwaway password, hashed once: the seeded users carry a
	// realistic hash, and nobody knows the password.
	secret := make([]byte, 16)
	if _, err := crand.Read(secret); err != nil {
		return err
	}
	shared, err := password.Hasher{P: p}.Hash(hex.EncodeToString(secret))
	if err != nil {
		return err
	}
	if err := seedAll(ctx, st, z, now, shared, out); err != nil {
		return err
	}
	if err := createOperator(ctx, st, p, email, pw, now); err != nil {
		return err
	}
	t0 := time.Now()
	if err := analyze(ctx, st); err != nil {
		return fmt.Errorf("analyze: %w", err)
	}
	fmt.Fprintf(out, "%-34s %15s %10s\n", "analyze", "", time.Since(t0).Round(time.Millisecond))
	return nil
}

// refuseNonEmpty: the seed only writes into a database with no users and
// no tenants, so that running it twice cannot mix two seeds.
func refuseNonEmpty(ctx context.Context, st store.Store) error {
	users, err := st.CountUsers(ctx, steward.UserFilter{})
	if err != nil {
		return err
	}
	tenants, err := st.CountTenants(ctx, steward.TenantFilter{})
	if err != nil {
		return err
	}
	if users > 0 || tenants > 0 {
		return fmt.Errorf("the database holds %d users and %d tenants already; seed an empty database (delete the file or drop the database)", users, tenants)
	}
	return nil
}

func createOperator(ctx context.Context, st store.Store, p password.Params, email, pw string, now time.Time) error {
	hash, err := password.Hasher{P: p}.Hash(pw)
	if err != nil {
		return err
	}
	now = now.UTC().Truncate(time.Microsecond)
	u := &steward.User{ID: id.New("usr", now), Email: steward.NormalizeEmail(email), Name: "Bench owner",
		Role: steward.RoleOwner, Status: steward.StatusActive, Tags: []string{}, Metadata: map[string]any{},
		EmailVerified: true, PasswordHash: hash, CreatedAt: now, UpdatedAt: now}
	if err := st.Update(ctx, func(tx store.Tx) error { return tx.CreateUser(ctx, u) }); err != nil {
		return fmt.Errorf("creating operator %s: %w", email, err)
	}
	return nil
}

// analyze refreshes the planner's statistics, as autovacuum (PostgreSQL)
// or the store's periodic optimize (SQLite) would after a bulk load; on
// PostgreSQL VACUUM also sets the visibility map index-only scans need.
func analyze(ctx context.Context, st store.Store) error {
	switch s := st.(type) {
	case *sqlite.Store:
		_, err := s.WriterDB().ExecContext(ctx, "ANALYZE")
		return err
	case *postgres.Store:
		_, err := s.Pool().Exec(ctx, "VACUUM (ANALYZE)")
		return err
	}
	return errors.New("unsupported store")
}

// dbSize is the database's size in bytes.
func dbSize(ctx context.Context, st store.Store) (int64, error) {
	var n int64
	switch s := st.(type) {
	case *sqlite.Store:
		err := s.WriterDB().QueryRowContext(ctx,
			"SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()").Scan(&n)
		return n, err
	case *postgres.Store:
		err := s.Pool().QueryRow(ctx, "SELECT pg_database_size(current_database())").Scan(&n)
		return n, err
	}
	return 0, errors.New("unsupported store")
}
