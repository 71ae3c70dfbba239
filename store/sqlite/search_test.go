package sqlite

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
	"github.com/stewardhq/steward/store/storetest"
)

func openTestStore(t testing.TB) *Store {
	t.Helper()
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "steward.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

// forcedPlans set searchLimits so that every term with two matches or more
// takes one plan.
var forcedPlans = []struct {
	name   string
	limits searchLimits
}{
	{"newest", searchLimits{listed: 1, newest: math.MaxInt64, walk: math.MaxInt64}}, // or walk, when newestPage cannot
	{"walk", searchLimits{listed: 1, newest: -1, walk: math.MaxInt64}},
	{"sorted", searchLimits{listed: 1, newest: -1, walk: -1}},
}

// TestStoreSearchPlans runs the behaviour suite with each plan for common
// terms forced. (TestStore runs it with the defaults, where the suite's small
// fixtures always list their matches.)
func TestStoreSearchPlans(t *testing.T) {
	for _, p := range forcedPlans {
		t.Run(p.name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) store.Store {
				s := openTestStore(t)
				s.search = p.limits
				return s
			})
		})
	}
}

// TestSearchPlansAgree pages through searches with filters under each plan,
// and wants the pages the filter spelled in Go gives, which the plain query
// (searchFTS, the only one before the plans) gives too.
func TestSearchPlansAgree(t *testing.T) {
	t.Parallel()
	s := openTestStore(t)
	ctx := t.Context()
	r := rand.New(rand.NewPCG(1, 2))
	first := []string{"Ada", "Alan", "Grace", "Edsger", "Barbara"}
	last := []string{"Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Lovell"}
	statuses := []steward.UserStatus{steward.StatusActive, steward.StatusActive, steward.StatusSuspended, steward.StatusBanned}
	const idTerm = "usr_500000999"
	var users []*steward.User
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range 200 {
		f, l := first[r.IntN(len(first))], last[r.IntN(len(last))]
		u := &steward.User{
			// Ids grow with rowids, as when users are created one after
			// another; one in eight does not (below), as after an import.
			ID:        fmt.Sprintf("usr_%06d", i*1000+500),
			Email:     fmt.Sprintf("%s.%s%d@%s", strings.ToLower(f), strings.ToLower(l), i, []string{"example.com", "acme.io"}[r.IntN(2)]),
			Name:      f + " " + l,
			Role:      steward.RoleUser,
			Status:    statuses[r.IntN(len(statuses))],
			Tags:      []string{},
			CreatedAt: base, UpdatedAt: base,
		}
		if r.IntN(8) == 0 {
			u.ID = fmt.Sprintf("usr_%06d", r.IntN(200)*1000+1+r.IntN(499))
		}
		if r.IntN(3) == 0 {
			u.Tags = []string{"vip"}
		}
		// One user's id is also in other users' names, so a search for it
		// matches those by substring and that one by id.
		switch {
		case i == 123:
			u.ID = idTerm
		case i%15 == 0:
			u.Name += " " + idTerm
		}
		if r.IntN(2) == 0 {
			u.TenantID, u.TenantRole = "ten_a", steward.TenantMember
		}
		users = append(users, u)
	}
	err := s.Update(ctx, func(tx store.Tx) error {
		for _, u := range users {
			if err := tx.CreateUser(ctx, u); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	terms := []string{
		"lovelace", // about a sixth of the users: several pages
		"love",     // Lovelace and Lovell
		"ada lovelace",
		"lovelace17@", // one user, or none
		"zzzz",
		idTerm, // an id, and a substring of other users' names
	}
	filters := []steward.UserFilter{
		{},
		{Status: steward.StatusActive},
		{Status: steward.StatusBanned, TenantID: "ten_a"},
		{Tag: "vip", Status: steward.StatusActive},
		{Roles: []steward.Role{steward.RoleUser, steward.RoleAdmin}},
	}
	// What every plan must return, spelled in Go: the trigram index matches
	// substrings regardless of ASCII case, and the fixture is ASCII.
	slices.SortFunc(users, func(a, b *steward.User) int { return strings.Compare(b.ID, a.ID) })
	reference := func(f steward.UserFilter) []string {
		q := strings.ToLower(f.Q)
		out := []string{}
		for _, u := range users {
			switch {
			case f.Before != "" && u.ID >= f.Before,
				f.Status != "" && u.Status != f.Status,
				len(f.Roles) > 0 && !slices.Contains(f.Roles, u.Role),
				f.TenantID != "" && u.TenantID != f.TenantID,
				f.Tag != "" && !slices.Contains(u.Tags, f.Tag),
				u.ID != f.Q && !strings.Contains(strings.ToLower(u.Email), q) &&
					!strings.Contains(strings.ToLower(u.Name), q):
				continue
			}
			if out = append(out, u.ID); len(out) == f.Limit {
				break
			}
		}
		return out
	}
	maxPages := 0
	plans := append([]struct {
		name   string
		limits searchLimits
	}{
		{"default", searchLimits{}}, // lists every match: the fixture has fewer than maxListedMatches
		{"estimated", searchLimits{listed: 5, newest: 60, walk: 30}},
	}, forcedPlans...)
	for _, p := range plans {
		s.search = p.limits
		for _, term := range terms {
			for _, f := range filters {
				f.Q, f.Limit, f.Before = term, 10, ""
				pages := 0
				for {
					got, err := s.ListUsers(ctx, f)
					if err != nil {
						t.Fatalf("%s, %+v: %v", p.name, f, err)
					}
					if want := reference(f); !slices.Equal(ids(got), want) {
						t.Fatalf("%s, %+v: got %v, want %v", p.name, f, ids(got), want)
					}
					if p.name == "default" { // the plain query agrees with the model
						query, args := listUsersSQL(f, searchFTS, "")
						plain, err := queryUsers(ctx, s.stmts, query, args...)
						if err != nil || !slices.Equal(ids(got), ids(plain)) {
							t.Fatalf("%+v: plain query %v, %v; want %v", f, ids(plain), err, ids(got))
						}
					}
					pages++
					if len(got) < f.Limit {
						break
					}
					f.Before = got[len(got)-1].ID
				}
				if term == "lovelace" && pages > maxPages {
					maxPages = pages
				}
			}
		}
	}
	if maxPages < 3 {
		t.Errorf("lovelace fills %d pages at most, want a fixture with several", maxPages)
	}
	// The same in a write transaction, which has no read transaction of its
	// own to open.
	s.search = searchLimits{listed: 3}
	err = s.Update(ctx, func(tx store.Tx) error {
		f := steward.UserFilter{Q: "lovelace", Status: steward.StatusActive, Limit: 10}
		got, err := tx.ListUsers(ctx, f)
		if err != nil {
			return err
		}
		if want := reference(f); !slices.Equal(ids(got), want) {
			t.Errorf("in a transaction: got %v, want %v", ids(got), want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func ids(users []*steward.User) []string {
	out := []string{}
	for _, u := range users {
		out = append(out, u.ID)
	}
	return out
}

// Searches and reads from many goroutines at once on a cold cache: the
// search's read transaction holds a reader connection, so it must never wait
// to prepare on the pool (which the other searches may hold the same way).
// The deadline only turns such a deadlock into a failure: it is generous
// because under -race on a loaded two-core machine the work itself has taken
// over 20 s.
func TestSearchConcurrentColdCache(t *testing.T) {
	t.Parallel()
	s := openTestStore(t)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	var users []*steward.User
	for i := range 50 {
		users = append(users, &steward.User{ID: fmt.Sprintf("usr_%04d", i), Email: fmt.Sprintf("p%d@example.com", i),
			Name: "Person Common", Role: steward.RoleUser, Status: steward.StatusActive, Tags: []string{"t"}})
	}
	err := s.Update(ctx, func(tx store.Tx) error {
		for _, u := range users {
			if err := tx.CreateUser(ctx, u); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s.search = searchLimits{listed: 10}
	statuses := []steward.UserStatus{"", steward.StatusActive, steward.StatusBanned}
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Go(func() {
			for i := range 20 {
				f := steward.UserFilter{Q: []string{"common", "p1@example", "nobody"}[(g+i)%3],
					Status: statuses[(g/3+i)%3], TenantID: []string{"", "ten_x"}[g%2], Limit: 5 + g%4}
				if _, err := s.ListUsers(ctx, f); err != nil {
					t.Error(err)
					return
				}
				if _, err := s.GetUser(ctx, users[i].ID); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestStmtCache(t *testing.T) {
	s := openTestStore(t)
	ctx := t.Context()
	c := s.stmts
	if _, err := s.GetUser(ctx, "usr_missing"); err == nil {
		t.Fatal("GetUser of a missing user succeeded")
	}
	n := len(c.stmts)
	if n == 0 {
		t.Fatal("GetUser left no statement in the cache")
	}
	if _, err := s.GetUser(ctx, "usr_other"); err == nil || len(c.stmts) != n {
		t.Errorf("the same query again: err %v, %d statements, want %d", err, len(c.stmts), n)
	}

	// A text that does not prepare is not cached, and its error comes back.
	if _, err := c.QueryContext(ctx, "SELECT nope FROM nowhere"); err == nil || !strings.Contains(err.Error(), "nowhere") {
		t.Errorf("bad query: err %v", err)
	}
	if c.lookup("SELECT nope FROM nowhere") != nil {
		t.Error("a text that failed to prepare was cached")
	}

	// Bounded: texts beyond the bound run unprepared.
	for i := range maxCachedStmts + 20 {
		var v int
		if err := c.QueryRowContext(ctx, fmt.Sprintf("SELECT %d", i)).Scan(&v); err != nil || v != i {
			t.Fatalf("SELECT %d: %d, %v", i, v, err)
		}
	}
	if len(c.stmts) != maxCachedStmts {
		t.Errorf("%d statements cached, want the bound %d", len(c.stmts), maxCachedStmts)
	}

	// Close closes them.
	st := c.lookup("SELECT 1")
	if st == nil {
		t.Fatal("SELECT 1 not cached")
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if len(c.stmts) != 0 {
		t.Errorf("%d statements left after Close", len(c.stmts))
	}
	if err := st.QueryRowContext(ctx).Scan(new(int)); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("a statement after Close: err %v, want closed", err)
	}
	// The store still reads until it is closed itself, just unprepared.
	if _, err := s.GetUser(ctx, "usr_missing"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetUser after closing the cache: %v", err)
	}
	if c.stmt(ctx, "SELECT 1") != nil {
		t.Error("a closed cache cached a statement")
	}
}

// BenchmarkSearchPlans times each plan of a search, and the one searchUsers
// chooses, on the database that STEWARD_BENCH_SQLITE names (see
// bench_test.go), for terms from a few hundred matches to tens of thousands.
// "a_1" matches only users created early: the seed's email suffixes count up.
func BenchmarkSearchPlans(b *testing.B) {
	path := os.Getenv("STEWARD_BENCH_SQLITE")
	if path == "" {
		b.Skip("STEWARD_BENCH_SQLITE is not set")
	}
	if _, err := os.Stat(path); err != nil {
		b.Skip(err)
	}
	s, err := Open(context.Background(), path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	ctx := b.Context()
	// The deep page starts after the 500,000th id, as in bench/run.sh.
	var deep string
	if err := s.reader.QueryRowContext(ctx, "SELECT id FROM users ORDER BY id DESC LIMIT 1 OFFSET 499999").Scan(&deep); err != nil {
		b.Fatal(err)
	}
	for _, term := range []string{"ada_1", "lovelace.a", "sofia m", "ada l", "a_1", "ada_", "lovelace", "gmail"} {
		var n int64
		if err := s.reader.QueryRowContext(ctx, "SELECT count(*) FROM users_fts WHERE users_fts MATCH ?", ftsPhrase(term)).Scan(&n); err != nil {
			b.Fatal(err)
		}
		for _, page := range []struct{ name, before string }{{"first", ""}, {"deep", deep}} {
			for _, plan := range append([]struct {
				name   string
				limits searchLimits
			}{{"chosen", searchLimits{}}, {"listed", searchLimits{listed: math.MaxInt32}}}, forcedPlans...) {
				name := fmt.Sprintf("%s/%d/%s/%s", strings.ReplaceAll(term, " ", "_"), n, page.name, plan.name)
				b.Run(name, func(b *testing.B) {
					s.search = plan.limits
					f := steward.UserFilter{Q: term, Before: page.before, Limit: 51}
					for b.Loop() {
						if _, err := s.ListUsers(ctx, f); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}
