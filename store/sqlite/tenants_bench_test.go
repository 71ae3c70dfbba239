package sqlite_test

import (
	"context"
	"testing"
	"time"

	"github.com/stewardhq/steward/store"
	"github.com/stewardhq/steward/store/sqlite"
)

// seedTenant gives tenant ten_big members active users, each with a live
// session and a live key of the tenant, beside as many users of another
// tenant, in a few set-based statements.
func seedTenant(tb testing.TB, s *sqlite.Store, members int) {
	tb.Helper()
	ctx := context.Background()
	now := time.Now().UnixMicro()
	for _, q := range []string{
		`INSERT INTO tenants (id, name, slug, plan, status, billing_period_start, created_at, updated_at)
		 VALUES ('ten_big', 'Big', 'big', 'pro', 'active', ?1, ?1, ?1), ('ten_other', 'Other', 'other', 'pro', 'active', ?1, ?1, ?1)`,
		`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?2)
		 INSERT INTO users (id, email, name, role, tenant_id, status, tags, created_at, updated_at)
		 SELECT printf('usr_%08d', i), printf('user%d@example.com', i), printf('User %d', i), 'user',
		        CASE WHEN i % 2 = 0 THEN 'ten_big' ELSE 'ten_other' END, 'active', '["t"]', ?1, ?1 FROM n`,
		`INSERT INTO sessions (id, user_id, token_hash, created_at, expires_at, last_seen_at)
		 SELECT 'ses_' || substr(id, 5), id, CAST(id AS BLOB), ?1, ?1 + 3600000000, ?1 FROM users`,
		`INSERT INTO api_keys (id, key_type, tenant_id, user_id, status, created_at, updated_at, secret_hash)
		 SELECT 'key_' || substr(id, 5), 'user', tenant_id, id, 'active', ?1, ?1, CAST('h' || id AS BLOB) FROM users`,
		"ANALYZE",
	} {
		if _, err := s.WriterDB().ExecContext(ctx, q, now, 2*members); err != nil {
			tb.Fatalf("seed: %v", err)
		}
	}
}

// suspend runs the store's part of a tenant's suspension in one
// transaction and returns how many statements it took.
func suspend(tb testing.TB, s *sqlite.Store, now time.Time) (users, sessions, keys int64, statements uint64) {
	tb.Helper()
	ctx := context.Background()
	before := s.Statements()
	err := s.Update(ctx, func(tx store.Tx) (err error) {
		if users, err = tx.HoldTenantUsers(ctx, "ten_big", "tenant suspended", now); err != nil {
			return err
		}
		if sessions, err = tx.RevokeHeldSessions(ctx, "ten_big", now, "tenant suspended"); err != nil {
			return err
		}
		keys, err = tx.HoldTenantKeys(ctx, "ten_big", now)
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return users, sessions, keys, s.Statements() - before
}

func release(tb testing.TB, s *sqlite.Store, now time.Time) (users, keys int64) {
	tb.Helper()
	ctx := context.Background()
	err := s.Update(ctx, func(tx store.Tx) (err error) {
		users, keys, err = tx.ReleaseTenant(ctx, "ten_big", now)
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return users, keys
}

// BenchmarkSuspendTenant suspends and releases a tenant of 10,000 members,
// each with a session and a key, beside another tenant as large:
//
//	go test -run '^$' -bench SuspendTenant ./store/sqlite/
func BenchmarkSuspendTenant(b *testing.B) {
	const members = 10000
	s := openStore(b)
	seedTenant(b, s, members)
	now := time.Now()
	var statements uint64
	for b.Loop() {
		b.StopTimer()
		if _, err := s.WriterDB().Exec("UPDATE sessions SET revoked_at = NULL, revoked_reason = ''"); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		users, sessions, keys, n := suspend(b, s, now)
		if users != members || sessions != members || keys != members {
			b.Fatalf("suspend moved %d users, %d sessions, %d keys; want %d of each", users, sessions, keys, members)
		}
		statements = n
		b.StopTimer()
		if u, k := release(b, s, now); u != members || k != members {
			b.Fatalf("release: %d users, %d keys; want %d", u, k, members)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(statements), "statements/op")
}
