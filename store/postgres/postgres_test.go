package postgres_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/testdb"
	"github.com/stewardhq/steward/store"
	"github.com/stewardhq/steward/store/postgres"
	"github.com/stewardhq/steward/store/storetest"
)

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t) })
}

// open returns a fresh, migrated store in a schema of its own on the server
// named by STEWARD_TEST_POSTGRES; it skips when that is unset, or fails if
// STEWARD_REQUIRE_POSTGRES=1.
func open(t *testing.T) *postgres.Store {
	t.Helper()
	return backend(t).Open(t).(*postgres.Store)
}

func backend(t *testing.T) testdb.Backend {
	t.Helper()
	for _, b := range testdb.Backends(t) {
		if b.Name == "postgres" {
			return b
		}
	}
	t.Skip(testdb.EnvPostgres + " is not set")
	return testdb.Backend{}
}

// Appenders in separate transactions must queue on LockAuditHead, or the
// chain forks (two entries with the same seq or prev_hash).
func TestAuditHeadConcurrent(t *testing.T) {
	t.Parallel()
	s := open(t)
	ctx := t.Context()
	const workers, rounds = 8, 10
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for r := range rounds {
				err := s.Update(ctx, func(tx store.Tx) error {
					seq, prev, err := tx.LockAuditHead(ctx)
					if err != nil {
						return err
					}
					e := &steward.AuditEntry{ID: fmt.Sprintf("aud_%d_%d", w, r), Seq: seq + 1,
						Time: time.Now(), Action: "test", PrevHash: prev}
					e.Hash = e.ComputeHash()
					return tx.InsertAudit(ctx, e)
				})
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	verifyChain(t, s, workers*rounds)
}

func verifyChain(t *testing.T, q store.Queries, want int64) {
	t.Helper()
	var n int64
	prev := ""
	err := q.ScanAudit(t.Context(), steward.AuditFilter{}, func(e *steward.AuditEntry) error {
		n++
		if e.Seq != n || e.PrevHash != prev || e.ComputeHash() != e.Hash {
			return fmt.Errorf("chain breaks at seq %d", e.Seq)
		}
		prev = e.Hash
		return nil
	})
	if err != nil || n != want {
		t.Fatalf("verified %d entries, want %d: %v", n, want, err)
	}
}

// Inside a transaction ScanAudit reads in batches so fn may query the same
// connection; cross a batch boundary to cover it.
func TestScanAuditInTx(t *testing.T) {
	t.Parallel()
	s := open(t)
	ctx := t.Context()
	const n = 1234
	err := s.Update(ctx, func(tx store.Tx) error {
		prev := ""
		for i := 1; i <= n; i++ {
			e := &steward.AuditEntry{ID: fmt.Sprintf("aud_%05d", i), Seq: int64(i), Time: time.Now(),
				Action: "test", PrevHash: prev}
			e.Hash = e.ComputeHash()
			if err := tx.InsertAudit(ctx, e); err != nil {
				return err
			}
			prev = e.Hash
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Update(ctx, func(tx store.Tx) error {
		verifyChain(t, tx, n)
		return tx.ScanAudit(ctx, steward.AuditFilter{}, func(e *steward.AuditEntry) error {
			_, err := tx.ListAudit(ctx, steward.AuditFilter{BeforeSeq: e.Seq, Limit: 1})
			return err
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Two transactions locking two rows in opposite orders deadlock; PostgreSQL
// aborts one, and Update re-runs it.
func TestUpdateRetriesDeadlock(t *testing.T) {
	t.Parallel()
	s := open(t)
	ctx := t.Context()
	err := s.Update(ctx, func(tx store.Tx) error {
		for _, id := range []string{"u1", "u2"} {
			u := &steward.User{ID: id, Email: id + "@example.com", Role: steward.RoleUser, Status: steward.StatusActive}
			if err := tx.CreateUser(ctx, u); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var (
		both     sync.WaitGroup
		wg       sync.WaitGroup
		attempts atomic.Int64
	)
	both.Add(2)
	for _, order := range [][2]string{{"u1", "u2"}, {"u2", "u1"}} {
		wg.Go(func() {
			first := true
			err := s.Update(ctx, func(tx store.Tx) error {
				attempts.Add(1)
				if _, err := tx.GetUser(ctx, order[0]); err != nil {
					return err
				}
				if first { // only the first attempt waits, so the retry can finish
					first = false
					both.Done()
					both.Wait()
				}
				u, err := tx.GetUser(ctx, order[1])
				if err != nil {
					return err
				}
				u.TokenVersion++
				return tx.UpdateUser(ctx, u)
			})
			if err != nil {
				t.Errorf("Update: %v", err)
			}
		})
	}
	wg.Wait()
	if n := attempts.Load(); n < 3 {
		t.Errorf("%d attempts, want a retry after the deadlock", n)
	}
	for _, id := range []string{"u1", "u2"} {
		if u, err := s.GetUser(ctx, id); err != nil || u.TokenVersion != 1 {
			t.Errorf("%s: TokenVersion %v, %v; want 1", id, u, err)
		}
	}
}

// latestMigration is the highest version among the embedded migration files.
func latestMigration(t *testing.T) int64 {
	t.Helper()
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations: %v", err)
	}
	var latest int64
	for _, f := range files {
		n, err := strconv.ParseInt(strings.SplitN(filepath.Base(f), "_", 2)[0], 10, 64)
		if err != nil {
			t.Fatalf("migration %s: %v", f, err)
		}
		latest = max(latest, n)
	}
	return latest
}

// Before Migrate the version is 0, even when a later schema on search_path
// has a version table of its own; Migrate then puts everything in the first.
func TestMigrationVersionBeforeMigrate(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	other := freshSchema(t)
	if err := openDSN(t, withSearchPath(t, other, "public")).Migrate(ctx); err != nil {
		t.Fatal(err)
	}

	s := openDSN(t, withSearchPath(t, freshSchema(t), other, "public"))
	if v, err := s.MigrationVersion(ctx); err != nil || v != 0 {
		t.Fatalf("MigrationVersion before Migrate = %d, %v; want 0", v, err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if v, err := s.MigrationVersion(ctx); err != nil || v != latestMigration(t) {
		t.Fatalf("MigrationVersion after Migrate = %d, %v; want %d", v, err, latestMigration(t))
	}
	err := s.Update(ctx, func(tx store.Tx) error {
		return tx.CreateUser(ctx, &steward.User{ID: "u1", Email: "a@example.com", Role: steward.RoleUser,
			Status: steward.StatusActive})
	})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.Pool().QueryRow(ctx, "SELECT count(*) FROM "+other+".users").Scan(&n); err != nil || n != 0 {
		t.Fatalf("users in the other schema = %d, %v; want 0", n, err)
	}
}

func openDSN(t *testing.T, dsn string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() }) // registered after freshSchema's drop, so it runs first
	return s
}

// freshSchema creates an empty schema and drops it when t ends.
func freshSchema(t *testing.T) string {
	t.Helper()
	backend(t) // skips without a server
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, os.Getenv(testdb.EnvPostgres))
	if err != nil {
		t.Fatal(err)
	}
	schema := "t_" + strings.ToLower(rand.Text()[:12])
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema: %v", err)
		}
		admin.Close(ctx)
	})
	return schema
}

func withSearchPath(t *testing.T, schemas ...string) string {
	t.Helper()
	u, err := url.Parse(os.Getenv(testdb.EnvPostgres))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", strings.Join(schemas, ","))
	u.RawQuery = q.Encode()
	return u.String()
}

// Statements counts what write transactions run, and nothing else; the
// store's part of a tenant's suspension is three statements, its release
// one and its purge four, whatever the tenant's size.
func TestStatements(t *testing.T) {
	t.Parallel()
	s := open(t)
	ctx := t.Context()
	if n := s.Statements(); n != 0 {
		t.Fatalf("Statements after Open and Migrate = %d, want 0", n)
	}
	step := func(what string, want uint64, fn func(tx store.Tx) error) {
		t.Helper()
		before := s.Statements()
		if err := s.Update(ctx, fn); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if got := s.Statements() - before; got != want {
			t.Errorf("%s: %d statements, want %d", what, got, want)
		}
	}
	now := time.Now()
	const members = 50
	step("a tenant, its members, their sessions and keys", 1+3*members, func(tx store.Tx) error {
		if err := tx.CreateTenant(ctx, &steward.Tenant{ID: "ten_1", Name: "One", Slug: "one", Plan: "free",
			Status: steward.TenantActive, BillingPeriodStart: now, CreatedAt: now, UpdatedAt: now}); err != nil {
			return err
		}
		for i := range members {
			id := fmt.Sprintf("usr_%03d", i)
			if err := tx.CreateUser(ctx, &steward.User{ID: id, Email: id + "@example.com", Role: steward.RoleUser,
				Status: steward.StatusActive, TenantID: "ten_1", CreatedAt: now, UpdatedAt: now}); err != nil {
				return err
			}
			if err := tx.CreateSession(ctx, &steward.Session{ID: "ses_" + id, UserID: id, TokenHash: []byte(id),
				CreatedAt: now, ExpiresAt: now.Add(time.Hour), LastSeenAt: now}); err != nil {
				return err
			}
			if err := tx.CreateAPIKey(ctx, &steward.APIKey{ID: "key_" + id, Type: steward.KeyUser, UserID: id,
				TenantID: "ten_1", Status: steward.KeyActive, SecretHash: []byte(id), CreatedAt: now, UpdatedAt: now}); err != nil {
				return err
			}
		}
		return nil
	})
	step("a batch of key uses", 2, func(tx store.Tx) error {
		return tx.RecordKeyUses(ctx, []steward.KeyUse{{KeyID: "key_usr_000", At: now}, {KeyID: "key_usr_001", At: now}})
	})
	if _, err := s.ListUsers(ctx, steward.UserFilter{}); err != nil {
		t.Fatal(err)
	}
	step("a read outside a transaction, then nothing", 0, func(tx store.Tx) error { return nil })
	var users, sessions, keys int64
	step("suspend", 3, func(tx store.Tx) (err error) {
		if users, err = tx.HoldTenantUsers(ctx, "ten_1", "suspended", now); err != nil {
			return err
		}
		if sessions, err = tx.RevokeHeldSessions(ctx, "ten_1", now, "suspended"); err != nil {
			return err
		}
		keys, err = tx.HoldTenantKeys(ctx, "ten_1", now)
		return err
	})
	if users != members || sessions != members || keys != members {
		t.Errorf("suspend: %d users, %d sessions, %d keys; want %d of each", users, sessions, keys, members)
	}
	step("release", 1, func(tx store.Tx) (err error) {
		users, keys, err = tx.ReleaseTenant(ctx, "ten_1", now)
		return err
	})
	if users != members || keys != members {
		t.Errorf("release: %d users, %d keys; want %d of each", users, keys, members)
	}
	step("purge", 4, func(tx store.Tx) error {
		_, err := tx.PurgeTenant(ctx, "ten_1")
		return err
	})

	// The store's part of a ledger write: a lock reads the account (and
	// upserts it on a miss); the deferred writes of one kind are one
	// statement (two blocks; an entry's draws, after its entry).
	step("a tenant and two blocks", 2, func(tx store.Tx) error {
		if err := tx.CreateTenant(ctx, &steward.Tenant{ID: "ten_c", Name: "C", Slug: "c", Plan: "free",
			Status: steward.TenantActive, BillingPeriodStart: now, CreatedAt: now, UpdatedAt: now}); err != nil {
			return err
		}
		for _, id := range []string{"blk_1", "blk_2"} {
			if err := tx.InsertCreditBlock(ctx, &steward.CreditBlock{ID: id, TenantID: "ten_c", Amount: 10, Remaining: 10,
				CreatedAt: now}); err != nil {
				return err
			}
		}
		return nil
	})
	lock := func(tx store.Tx) error {
		_, err := tx.LockCreditAccount(ctx, "ten_c", now)
		return err
	}
	// A lock rules sequential scans out first (ledgerPlansSQL); a ledger
	// batch locks all its tenants in one round trip (LockCreditLedgers).
	step("the first lock, which creates the account", 3, lock)
	step("a lock", 2, lock)
	step("a lock and a deduct drawing from two blocks", 4, func(tx store.Tx) error {
		if err := lock(tx); err != nil {
			return err
		}
		return tx.InsertLedgerEntry(ctx, &steward.LedgerEntry{ID: "cre_1", TenantID: "ten_c", Seq: 1, Kind: steward.LedgerDeduct,
			Amount: -12, BalanceAfter: 8, IdempotencyKey: "req-1", CreatedAt: now,
			Draws: []steward.Draw{{BlockID: "blk_1", Amount: -10}, {BlockID: "blk_2", Amount: -2}}})
	})
	step("an entry without draws", 1, func(tx store.Tx) error {
		return tx.InsertLedgerEntry(ctx, &steward.LedgerEntry{ID: "cre_2", TenantID: "ten_c", Seq: 2, Kind: steward.LedgerAdjust,
			Amount: -1, BalanceAfter: 7, CreatedAt: now})
	})
	if e, err := s.GetLedgerEntry(ctx, "cre_1"); err != nil || len(e.Draws) != 2 {
		t.Errorf("the deduct: %+v, %v; want it with two draws", e, err)
	}
	if _, err := s.GetLedgerEntry(ctx, "cre_2"); err != nil {
		t.Errorf("the entry without draws: %v", err)
	}
}

// TestParallelQueryOff: Steward's connections run without parallel
// workers (see Open), unless the DSN names the setting itself.
func TestParallelQueryOff(t *testing.T) {
	t.Parallel()
	backend(t) // skips without a server
	ctx := t.Context()
	show := func(s *postgres.Store) string {
		var v string
		if err := s.Pool().QueryRow(ctx, "SHOW max_parallel_workers_per_gather").Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	if v := show(openDSN(t, os.Getenv(testdb.EnvPostgres))); v != "0" {
		t.Errorf("default: max_parallel_workers_per_gather = %s, want 0", v)
	}
	u, err := url.Parse(os.Getenv(testdb.EnvPostgres))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("max_parallel_workers_per_gather", "3")
	u.RawQuery = q.Encode()
	if v := show(openDSN(t, u.String())); v != "3" {
		t.Errorf("the DSN's own value: max_parallel_workers_per_gather = %s, want 3", v)
	}
}
