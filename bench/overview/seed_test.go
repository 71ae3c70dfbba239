package main

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/password"
	"github.com/stewardhq/steward/internal/testdb"
	"github.com/stewardhq/steward/store"
)

// small is a seed that runs in a second yet crosses month ends (70 days),
// splits every large table into several transactions, and has an
// operator (user 3,000) and tenants of every plan and status.
var small = sizes{Users: 3000, Tenants: 40, Keys: 300, SessionsPerDay: 20, EventsPerDay: 3, Days: 70, Chunk: 700}

const (
	testEmail    = "owner@bench.test"
	testPassword = "bench-password-1"
)

// seedSmall seeds a fresh store of backend b at a fixed time.
func seedSmall(t *testing.T, b testdb.Backend) (store.Store, time.Time) {
	t.Helper()
	st := b.Open(t)
	now := time.Date(2026, 3, 10, 15, 4, 5, 0, time.UTC)
	if err := seed(context.Background(), st, small, now, password.Cheap, testEmail, testPassword, io.Discard); err != nil {
		t.Fatal(err)
	}
	return st, now
}

// TestSeed: on both stores the seed writes the sizes asked for, with every
// status, role, plan and key state present, a ledger whose every tenant
// passes the doctor's invariant, and the tenant cascades applied.
func TestSeed(t *testing.T) {
	for _, b := range testdb.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			st, now := seedSmall(t, b)
			counts := b.RowCounts(t, st)
			want := map[string]int64{
				"tenants":  int64(small.Tenants),
				"users":    int64(small.Users) + 1, // and the owner
				"api_keys": int64(small.Keys),
				"sessions": int64(small.SessionsPerDay * small.Days),
			}
			for table, n := range want {
				if counts[table] != n {
					t.Errorf("%s: %d rows, want %d", table, counts[table], n)
				}
			}
			// Events only from each tenant's creation on, and not in the future.
			if ev, most := counts["usage_events"], int64(small.Tenants*small.Days*small.EventsPerDay); ev < most/2 || ev > most {
				t.Errorf("usage_events: %d rows, want between %d and %d", ev, most/2, most)
			}
			for _, table := range []string{"credit_entries", "credit_blocks", "credit_draws", "credit_accounts"} {
				if counts[table] == 0 {
					t.Errorf("%s is empty", table)
				}
			}

			for _, s := range []steward.UserStatus{steward.StatusActive, steward.StatusSuspended, steward.StatusBanned, steward.StatusDeleted} {
				if n, err := st.CountUsers(ctx, steward.UserFilter{Status: s}); err != nil || n == 0 {
					t.Errorf("users %s: %d, %v", s, n, err)
				}
			}
			for _, r := range []steward.Role{steward.RoleUser, steward.RoleOwner} {
				if n, err := st.CountUsers(ctx, steward.UserFilter{Role: r}); err != nil || n == 0 {
					t.Errorf("users with role %s: %d, %v", r, n, err)
				}
			}
			if n, err := st.CountUsers(ctx, steward.UserFilter{Roles: []steward.Role{steward.RoleSupport, steward.RoleAdmin}}); err != nil || n != 1 {
				t.Errorf("seeded operators: %d, %v; want 1 (user 3,000)", n, err)
			}
			for _, p := range planOf {
				if n, err := st.CountTenants(ctx, steward.TenantFilter{Plan: p}); err != nil || n == 0 {
					t.Errorf("tenants on %s: %d, %v", p, n, err)
				}
			}

			// Rows read back through the store: ids sort like creation
			// times, and the search index answers (rebuilt on SQLite).
			page, err := st.ListUsers(ctx, steward.UserFilter{Limit: 50})
			if err != nil || len(page) != 50 {
				t.Fatalf("first page: %d users, %v", len(page), err)
			}
			for i := 1; i < len(page); i++ {
				if page[i].CreatedAt.After(page[i-1].CreatedAt) || len(page[i].ID) != 30 || !strings.HasPrefix(page[i].ID, "usr_") {
					t.Fatalf("users %s (%s) then %s (%s): not newest first by id", page[i-1].ID, page[i-1].CreatedAt, page[i].ID, page[i].CreatedAt)
				}
			}
			if hits, err := st.ListUsers(ctx, steward.UserFilter{Q: "lovelace", Limit: 5}); err != nil || len(hits) == 0 {
				t.Errorf("q=lovelace: %d hits, %v", len(hits), err)
			}
			last := page[len(page)-1]
			if got, err := st.GetUser(ctx, last.ID); err != nil || got.Email != last.Email {
				t.Errorf("GetUser(%s): %v, %v", last.ID, got, err)
			}
			keys, err := st.ListAPIKeys(ctx, steward.KeyFilter{Limit: 300})
			if err != nil {
				t.Fatal(err)
			}
			states := map[steward.KeyStatus]int{}
			types := map[steward.KeyType]int{}
			for _, k := range keys {
				states[k.State(now)]++
				types[k.Type]++
			}
			for _, s := range []steward.KeyStatus{steward.KeyActive, steward.KeyRevoked, steward.KeyExpired, steward.KeyDisabled} {
				if states[s] == 0 {
					t.Errorf("no %s key among %v", s, states)
				}
			}
			if types[steward.KeyUser] == 0 || types[steward.KeyAdmin]+types[steward.KeyPlatform] == 0 {
				t.Errorf("key types %v: want user keys and operator keys", types)
			}

			// The ledger invariant `steward doctor` checks, for every tenant.
			totals, err := st.LedgerTotals(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(totals) != small.Tenants {
				t.Errorf("%d tenants with a ledger, want %d", len(totals), small.Tenants)
			}
			for _, x := range totals {
				if !x.OK() || x.Account <= 0 {
					t.Errorf("ledger of %s disagrees: %+v", x.TenantID, x)
				}
			}

			// Suspended and deleted tenants went through the cascade: no
			// active member is left, and the members it moved are held.
			var held, heldKeys int64
			for _, s := range []steward.TenantStatus{steward.TenantSuspended, steward.TenantDeleted} {
				list, err := st.ListTenants(ctx, steward.TenantFilter{Status: s, Limit: 100})
				if err != nil || len(list) == 0 {
					t.Fatalf("%s tenants: %d, %v", s, len(list), err)
				}
				for _, tn := range list {
					members, err := st.CountTenantMembers(ctx, tn.ID)
					if err != nil {
						t.Fatal(err)
					}
					holds, err := st.CountTenantHolds(ctx, tn.ID)
					if err != nil {
						t.Fatal(err)
					}
					if members[steward.StatusActive] != 0 || holds.Users > members[steward.StatusSuspended] {
						t.Errorf("%s tenant %s: members %v, holds %+v", s, tn.ID, members, holds)
					}
					held += holds.Users
					heldKeys += holds.APIKeys
				}
			}
			if held == 0 || heldKeys == 0 {
				t.Errorf("the cascades held %d users and %d keys", held, heldKeys)
			}

			// The search triggers are back (SQLite drops them while loading):
			// a user written afterwards is found.
			u := &steward.User{ID: "usr_01KZZZZZZZZZZZZZZZZZZZZZZZ", Email: "qwxz@example.com", Name: "Qwxz Vbnm",
				Role: steward.RoleUser, Status: steward.StatusActive, Tags: []string{}, Metadata: map[string]any{},
				CreatedAt: now, UpdatedAt: now}
			if err := st.Update(ctx, func(tx store.Tx) error { return tx.CreateUser(ctx, u) }); err != nil {
				t.Fatal(err)
			}
			if hits, err := st.ListUsers(ctx, steward.UserFilter{Q: "wxz vb", Limit: 5}); err != nil || len(hits) != 1 || hits[0].ID != u.ID {
				t.Errorf("q for a user written after the seed: %v, %v", hits, err)
			}

			// Run twice, the seed refuses.
			err = seed(ctx, st, small, now, password.Cheap, testEmail, testPassword, io.Discard)
			if err == nil || !strings.Contains(err.Error(), "seed an empty database") {
				t.Fatalf("second seed: %v, want a refusal", err)
			}
		})
	}
}

// TestHarness: the benchmark's stack serves every default URL with 200 to
// the seeded owner on both stores, and counts the server's time.
func TestHarness(t *testing.T) {
	for _, b := range testdb.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			st, _ := seedSmall(t, b)
			h, err := newHarness(ctx, st, password.Cheap, testEmail, testPassword)
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close()
			token, err := h.login(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, url := range DefaultURLs {
				if n, err := h.get(ctx, h.steward, url, token); err != nil || n < 20 {
					t.Errorf("GET %s: %d bytes, %v", url, n, err)
				}
			}
			if _, err := h.get(ctx, h.steward, DefaultURLs[0], ""); err == nil {
				t.Error("an unauthenticated GET succeeded")
			}
			if _, n := h.steward.reset(); n < int64(len(DefaultURLs)) {
				t.Errorf("server counted %d requests", n)
			}
			if n, err := h.get(ctx, h.hello, "/", ""); err != nil || n != len("hello") {
				t.Errorf("hello: %d bytes, %v", n, err)
			}
			if got := benchName("/api/v1/admin/users?q=x&limit=5"); strings.Contains(got, "/") {
				t.Errorf("benchName kept a slash: %s", got)
			}
		})
	}
}

// TestSizesRefused: sizes the seed cannot honour are refused before it
// touches the database.
func TestSizesRefused(t *testing.T) {
	for _, z := range []sizes{
		{Users: 0, Tenants: 10, Days: 1, Chunk: 1},
		{Users: 1, Tenants: 15, Days: 1, Chunk: 1},
		{Users: 1, Tenants: 10, Keys: -1, Days: 1, Chunk: 1},
		{Users: 1, Tenants: 10, Days: 0, Chunk: 1},
		{Users: 1, Tenants: 10, Days: 2501, Chunk: 1},
		{Users: 1, Tenants: 10, Days: 1, Chunk: 0},
	} {
		if err := z.validate(); err == nil {
			t.Errorf("%+v accepted", z)
		}
	}
	if err := small.validate(); err != nil {
		t.Errorf("the test's sizes: %v", err)
	}
}
