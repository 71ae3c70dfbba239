package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/stewardhq/steward/internal/testdb"
	"github.com/stewardhq/steward/store"
	"github.com/stewardhq/steward/store/postgres"
)

// BenchmarkSuspendTenant suspends and releases a tenant of 10,000 members,
// each with a session and a key, beside another tenant as large, on the
// server STEWARD_TEST_POSTGRES names:
//
//	go test -run '^$' -bench SuspendTenant ./store/postgres/
func BenchmarkSuspendTenant(b *testing.B) {
	const members = 10000
	var s *postgres.Store
	for _, be := range testdb.Backends(b) {
		if be.Name == "postgres" {
			s = be.Open(b).(*postgres.Store)
		}
	}
	if s == nil {
		b.Skip(testdb.EnvPostgres + " is not set")
	}
	ctx := context.Background()
	now := time.Now()
	for _, seed := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO tenants (id, name, slug, plan, status, billing_period_start, created_at, updated_at)
		  VALUES ('ten_big', 'Big', 'big', 'pro', 'active', $1, $1, $1), ('ten_other', 'Other', 'other', 'pro', 'active', $1, $1, $1)`,
			[]any{now}},
		{`INSERT INTO users (id, email, name, role, tenant_id, status, created_at, updated_at)
		  SELECT format('usr_%s', lpad(i::text, 8, '0')), format('user%s@example.com', i), format('User %s', i), 'user',
		         CASE WHEN i % 2 = 0 THEN 'ten_big' ELSE 'ten_other' END, 'active', $1, $1 FROM generate_series(1, $2::int) i`,
			[]any{now, 2 * members}},
		{`INSERT INTO sessions (id, user_id, token_hash, created_at, expires_at, last_seen_at)
		  SELECT 'ses_' || id, id, convert_to(id, 'UTF8'), created_at, created_at + interval '1 hour', created_at FROM users`, nil},
		{`INSERT INTO api_keys (id, key_type, tenant_id, user_id, status, created_at, updated_at, secret_hash)
		  SELECT 'key_' || id, 'user', tenant_id, id, 'active', created_at, created_at, convert_to('h' || id, 'UTF8') FROM users`, nil},
		{"ANALYZE", nil},
	} {
		if _, err := s.Pool().Exec(ctx, seed.sql, seed.args...); err != nil {
			b.Fatalf("seed: %v", err)
		}
	}
	var statements uint64
	for b.Loop() {
		b.StopTimer()
		if _, err := s.Pool().Exec(ctx, "UPDATE sessions SET revoked_at = NULL, revoked_reason = ''"); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		before := s.Statements()
		var users, sessions, keys int64
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
		if err != nil || users != members || sessions != members || keys != members {
			b.Fatalf("suspend: %d users, %d sessions, %d keys, %v; want %d of each", users, sessions, keys, err, members)
		}
		statements = s.Statements() - before
		b.StopTimer()
		err = s.Update(ctx, func(tx store.Tx) (err error) {
			users, keys, err = tx.ReleaseTenant(ctx, "ten_big", now)
			return err
		})
		if err != nil || users != members || keys != members {
			b.Fatalf("release: %d users, %d keys, %v; want %d of each", users, keys, err, members)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(statements), "statements/op")
}
