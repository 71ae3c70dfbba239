package testdb

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

func TestWithSearchPath(t *testing.T) {
	for dsn, want := range map[string]string{
		"postgres://u@h:5432/db?sslmode=disable": "postgres://u@h:5432/db?sslmode=disable&search_path=t_ab,public",
		"postgres://u@h:5432/db":                 "postgres://u@h:5432/db?search_path=t_ab,public",
		"host=h dbname=db":                       "host=h dbname=db search_path=t_ab,public",
	} {
		if got := withSearchPath(dsn, "t_ab"); got != want {
			t.Errorf("withSearchPath(%q) = %q, want %q", dsn, got, want)
		}
	}
}

func TestBackends(t *testing.T) {
	for _, b := range Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			s1, s2 := b.Open(t), b.Open(t)
			if s1.Dialect() != b.Name {
				t.Errorf("Dialect = %q, want %q", s1.Dialect(), b.Name)
			}
			if v, err := s1.MigrationVersion(ctx); err != nil || v <= 0 {
				t.Errorf("MigrationVersion = %d, %v", v, err)
			}
			u := &steward.User{ID: "usr_1", Email: "a@example.com", Role: steward.RoleUser, Status: steward.StatusActive}
			if err := s1.Update(ctx, func(tx store.Tx) error { return tx.CreateUser(ctx, u) }); err != nil {
				t.Fatal(err)
			}

			// Exec reaches the store's own database.
			b.Exec(t, s1, "UPDATE users SET name = 'tampered'")
			got, err := s1.GetUser(ctx, u.ID)
			if err != nil || got.Name != "tampered" {
				t.Errorf("GetUser after Exec = %+v, %v; want name tampered", got, err)
			}
			// Each Open is a database of its own.
			if n, err := s2.CountUsers(ctx, steward.UserFilter{}); err != nil || n != 0 {
				t.Errorf("a second store holds %d users, %v; want 0", n, err)
			}
		})
	}
}

// RowCounts sees every table of the store's own database, so a purge can be
// checked for orphans: purging a tenant leaves exactly the rows there were
// before it was created, search index and tag table included.
func TestRowCounts(t *testing.T) {
	for _, b := range Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			s, other := b.Open(t), b.Open(t)
			empty := b.RowCounts(t, s)
			for _, table := range []string{"users", "sessions", "audit_log", "signing_keys", "api_keys", "idempotency",
				"tenants", "tenant_held_users", "tenant_held_keys", "tenant_plan_changes", "credit_accounts", "credit_blocks",
				"credit_entries", "credit_draws", "usage_events"} {
				if n, ok := empty[table]; !ok || n != 0 {
					t.Errorf("RowCounts of a new store: %s = %d (listed: %v), want 0", table, n, ok)
				}
			}

			now := time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)
			seed := func(tenant string, n int) {
				t.Helper()
				err := s.Update(ctx, func(tx store.Tx) error {
					if err := tx.CreateTenant(ctx, &steward.Tenant{ID: tenant, Name: tenant, Slug: tenant, Plan: "free",
						Status: steward.TenantActive, BillingPeriodStart: now, CreatedAt: now, UpdatedAt: now}); err != nil {
						return err
					}
					for i := range n {
						id := fmt.Sprintf("usr_%s_%d", tenant, i)
						u := &steward.User{ID: id, Email: id + "@example.com", Name: "Name " + id, Role: steward.RoleUser,
							Status: steward.StatusActive, TenantID: tenant, Tags: []string{"a", "b"}}
						if err := tx.CreateUser(ctx, u); err != nil {
							return err
						}
						if err := tx.CreateSession(ctx, &steward.Session{ID: "ses_" + id, UserID: id, TokenHash: []byte(id),
							CreatedAt: now, ExpiresAt: now.Add(time.Hour), LastSeenAt: now}); err != nil {
							return err
						}
						if err := tx.CreateAPIKey(ctx, &steward.APIKey{ID: "key_" + id, Type: steward.KeyUser, UserID: id,
							TenantID: tenant, Status: steward.KeyActive, SecretHash: []byte(id), CreatedAt: now, UpdatedAt: now}); err != nil {
							return err
						}
					}
					if err := tx.InsertPlanChange(ctx, &steward.PlanChange{ID: "tpc_" + tenant, TenantID: tenant,
						FromPlan: "free", ToPlan: "pro", ChangedAt: now}); err != nil {
						return err
					}
					if _, err := tx.HoldTenantUsers(ctx, tenant, "held", now); err != nil {
						return err
					}
					if _, err := tx.HoldTenantKeys(ctx, tenant, now); err != nil {
						return err
					}
					// Credits: an account, two blocks, a grant, a deduct drawing
					// from both blocks, an expiry drawing from one, and usage.
					a, err := tx.LockCreditAccount(ctx, tenant, now)
					if err != nil {
						return err
					}
					a.Balance = 5
					if err := tx.UpdateCreditAccount(ctx, a); err != nil {
						return err
					}
					b1, b2 := "blk_"+tenant+"_1", "blk_"+tenant+"_2"
					for _, b := range []string{b1, b2} {
						if err := tx.InsertCreditBlock(ctx, &steward.CreditBlock{ID: b, TenantID: tenant, Amount: 10,
							Remaining: 5, CreatedAt: now}); err != nil {
							return err
						}
					}
					for i, e := range []*steward.LedgerEntry{
						{Kind: steward.LedgerGrant, Amount: 20, BlockID: b1},
						{Kind: steward.LedgerDeduct, Amount: -10,
							Draws: []steward.Draw{{BlockID: b1, Amount: -5}, {BlockID: b2, Amount: -5}}},
						{Kind: steward.LedgerExpire, Amount: -5, RelatedID: b2, Draws: []steward.Draw{{BlockID: b2, Amount: -5}}},
					} {
						e.ID, e.TenantID, e.Seq, e.CreatedAt = fmt.Sprintf("cre_%s_%d", tenant, i), tenant, int64(i+1), now
						if err := tx.InsertLedgerEntry(ctx, e); err != nil {
							return err
						}
					}
					for i := range 2 {
						if err := tx.InsertUsageEvent(ctx, &steward.UsageEvent{ID: fmt.Sprintf("use_%d", i), TenantID: tenant,
							Metric: "tokens", Quantity: 1, OccurredAt: now, RecordedAt: now}); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			seed("ten_keep", 2)
			before := b.RowCounts(t, s)
			seed("ten_gone", 3)
			during := b.RowCounts(t, s)
			for table, added := range map[string]int64{"users": 3, "sessions": 3, "api_keys": 3, "tenants": 1,
				"tenant_plan_changes": 1, "tenant_held_users": 3, "tenant_held_keys": 3, "credit_accounts": 1, "credit_blocks": 2,
				"credit_entries": 3, "credit_draws": 3, "usage_events": 2} {
				if during[table] != before[table]+added {
					t.Errorf("RowCounts: %s = %d after adding %d to %d", table, during[table], added, before[table])
				}
			}
			if b.Name == "sqlite" && (during["user_tags"] != before["user_tags"]+6 ||
				during["users_fts_docsize"] != before["users_fts_docsize"]+3) {
				t.Errorf("RowCounts: user_tags %d -> %d, users_fts_docsize %d -> %d; want 6 and 3 more",
					before["user_tags"], during["user_tags"], before["users_fts_docsize"], during["users_fts_docsize"])
			}
			// Each Open is a database of its own.
			if n := b.RowCounts(t, other)["users"]; n != 0 {
				t.Errorf("RowCounts of another store: users = %d, want 0", n)
			}

			err := s.Update(ctx, func(tx store.Tx) error {
				_, err := tx.PurgeTenant(ctx, "ten_gone")
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			after := b.RowCounts(t, s)
			for table, n := range before {
				// The index's segments and settings are not a row per user;
				// stat counters move to 0 rather than go (docs/overview.md).
				if strings.HasPrefix(table, "users_fts_") && table != "users_fts_docsize" || table == "stat_counters" {
					continue
				}
				if after[table] != n {
					t.Errorf("after purging a tenant: %s = %d, want %d as before it existed", table, after[table], n)
				}
			}
			if b.Name == "sqlite" {
				// The trigram index agrees with its content table, users.
				b.Exec(t, s, "INSERT INTO users_fts (users_fts, rank) VALUES ('integrity-check', 1)")
			}
		})
	}
}
