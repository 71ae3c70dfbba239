package service_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
	"github.com/stewardhq/steward/internal/id"
	"github.com/stewardhq/steward/internal/testdb"
	"github.com/stewardhq/steward/store"
)

// statementCounter is implemented by both stores: statements issued inside
// write transactions so far.
type statementCounter interface{ Statements() uint64 }

// seedTenant writes a tenant with members active members (each with one
// live session) and keys active keys straight through the store, in
// batches, which is much faster than the service's one transaction per row.
func seedTenant(tb testing.TB, a *apptest.App, members, keys int) string {
	tb.Helper()
	ctx := context.Background()
	now := a.Clock.Now()
	tid := id.New("ten", now)
	err := a.Store.Update(ctx, func(tx store.Tx) error {
		return tx.CreateTenant(ctx, &steward.Tenant{ID: tid, Name: "Big " + tid, Slug: "big-" + tid[len(tid)-8:],
			Plan: "scale", Status: steward.TenantActive, Features: map[string]any{}, BillingPeriodStart: now,
			CreatedAt: now, UpdatedAt: now})
	})
	if err != nil {
		tb.Fatal(err)
	}
	var owners []string
	const batch = 1000
	for start := 0; start < members; start += batch {
		err := a.Store.Update(ctx, func(tx store.Tx) error {
			for i := start; i < min(start+batch, members); i++ {
				u := &steward.User{ID: id.New("usr", now), Email: fmt.Sprintf("m%d-%s@example.com", i, tid),
					Role: steward.RoleUser, TenantID: tid, TenantRole: steward.TenantMember, Status: steward.StatusActive,
					Tags: []string{}, Metadata: map[string]any{}, CreatedAt: now, UpdatedAt: now}
				if err := tx.CreateUser(ctx, u); err != nil {
					return err
				}
				owners = append(owners, u.ID)
				s := &steward.Session{ID: id.New("ses", now), UserID: u.ID, TokenHash: []byte(u.ID),
					CreatedAt: now, ExpiresAt: now.Add(time.Hour), LastSeenAt: now}
				if err := tx.CreateSession(ctx, s); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	for start := 0; start < keys; start += batch {
		err := a.Store.Update(ctx, func(tx store.Tx) error {
			for i := start; i < min(start+batch, keys); i++ {
				kid := id.New("key", now)
				k := &steward.APIKey{ID: kid, Name: "k", Type: steward.KeyUser, Purpose: "api", TenantID: tid,
					UserID: owners[i%len(owners)], Scopes: []steward.Permission{"read"}, AllowedIPs: []string{},
					Status: steward.KeyActive, CreatedAt: now, UpdatedAt: now, SecretHash: []byte(kid)}
				if err := tx.CreateAPIKey(ctx, k); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	return tid
}

// BenchmarkTenantCascade suspends and unsuspends a tenant of 10,000 members
// (each with a live session) and 10,000 keys. Each iteration is one suspend
// and one unsuspend; the metrics split the time and count the statements.
// Run with
//
//	go test -run '^$' -bench TenantCascade -benchtime 5x ./service/
//
// (add STEWARD_TEST_POSTGRES=… for the PostgreSQL row).
func BenchmarkTenantCascade(b *testing.B) {
	// The baseline, measured in the same run: one request to a net/http
	// hello handler over a kept-alive local connection. The machines are
	// noisy; docs/benchmarks.md gives the cascade in multiples of this.
	b.Run("hello", func(b *testing.B) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte("hello"))
		}))
		defer srv.Close()
		c := srv.Client()
		b.ResetTimer()
		for range b.N {
			resp, err := c.Get(srv.URL)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
	for _, be := range testdb.Backends(b) {
		b.Run(be.Name, func(b *testing.B) {
			a := apptest.New(b, be)
			tid := seedTenant(b, a, 10_000, 10_000)
			counter, _ := a.Store.(statementCounter)
			ctx := apptest.System()
			var suspend, unsuspend time.Duration
			var stmtsSuspend, stmtsUnsuspend uint64
			b.ResetTimer()
			for range b.N {
				s0 := stmts(counter)
				t0 := time.Now()
				res, err := a.Svc.Tenants.SuspendTenant(ctx, tid, "bench")
				if err != nil || res.UsersSuspended != 10_000 || res.APIKeysDisabled != 10_000 {
					b.Fatalf("suspend: %v %+v", err, res)
				}
				t1 := time.Now()
				s1 := stmts(counter)
				// Revoked sessions stay revoked: each round revokes the
				// ones it finds (10,000 in the first, none after).
				back, err := a.Svc.Tenants.UnsuspendTenant(ctx, tid)
				if err != nil || back.UsersRestored != 10_000 || back.APIKeysRestored != 10_000 {
					b.Fatalf("unsuspend: %v %+v", err, back)
				}
				suspend += t1.Sub(t0)
				unsuspend += time.Since(t1)
				stmtsSuspend += s1 - s0
				stmtsUnsuspend += stmts(counter) - s1
			}
			n := float64(b.N)
			b.ReportMetric(float64(suspend.Milliseconds())/n, "suspend-ms")
			b.ReportMetric(float64(unsuspend.Milliseconds())/n, "unsuspend-ms")
			if counter != nil {
				b.ReportMetric(float64(stmtsSuspend)/n, "suspend-stmts")
				b.ReportMetric(float64(stmtsUnsuspend)/n, "unsuspend-stmts")
			}
		})
	}
}

func stmts(c statementCounter) uint64 {
	if c == nil {
		return 0
	}
	return c.Statements()
}

// TestTenantCascadeIsSetBased pins that a cascade's statement count does not
// grow with the tenant: 5 members and 200 members take the same number.
func TestTenantCascadeIsSetBased(t *testing.T) {
	for _, be := range testdb.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			t.Parallel()
			a := apptest.New(t, be)
			counter, ok := a.Store.(statementCounter)
			if !ok {
				t.Skip("this store does not count statements")
			}
			ctx := apptest.System()
			count := func(tid string) (uint64, uint64) {
				s0 := counter.Statements()
				if _, err := a.Svc.Tenants.SuspendTenant(ctx, tid, ""); err != nil {
					t.Fatal(err)
				}
				s1 := counter.Statements()
				if _, err := a.Svc.Tenants.UnsuspendTenant(ctx, tid); err != nil {
					t.Fatal(err)
				}
				return s1 - s0, counter.Statements() - s1
			}
			smallS, smallU := count(seedTenant(t, a, 5, 5))
			bigS, bigU := count(seedTenant(t, a, 200, 200))
			if smallS != bigS || smallU != bigU {
				t.Fatalf("statements grow with the tenant: suspend %d → %d, unsuspend %d → %d", smallS, bigS, smallU, bigU)
			}
		})
	}
}
