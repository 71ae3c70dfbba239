// Package storetest is the behaviour suite every store backend runs:
//
//	func TestStore(t *testing.T) { storetest.Run(t, openFreshMigratedStore) }
//
// It speaks only the store interfaces, so a behaviour pinned here holds for
// every backend.
package storetest

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// Run runs the suite. open must return a fresh, migrated store of its own and
// close it when t ends; subtests run in parallel, each with its own store.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Meta", testMeta},
		{"UserCreateGet", testUserCreateGet},
		{"UserDuplicates", testUserDuplicates},
		{"UserUpdateRoundTrip", testUserUpdateRoundTrip},
		{"UserMissing", testUserMissing},
		{"UserListPaging", testUserListPaging},
		{"UserFilters", testUserFilters},
		{"UserBanExpired", testUserBanExpired},
		{"UserPurge", testUserPurge},
		{"Times", testTimes},
		{"SessionCRUD", testSessionCRUD},
		{"SessionList", testSessionList},
		{"SessionRevokeUser", testSessionRevokeUser},
		{"AuditListFilters", testAuditListFilters},
		{"AuditScan", testAuditScan},
		{"AuditBytes", testAuditBytes},
		{"SigningKeys", testSigningKeys},
		{"UpdateRollback", testUpdateRollback},
		{"UpdatePanic", testUpdatePanic},
		{"UpdateReadsOwnWrites", testUpdateReadsOwnWrites},
		{"UpdateSerialised", testUpdateSerialised},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

// t0 has a non-zero microsecond part, the precision every store keeps.
var t0 = time.Date(2025, 3, 14, 15, 9, 26, 535897000, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func ptr[T any](v T) *T { return &v }

// Ids are zero-padded so they sort in creation order, as real ids do.
func userID(n int) string    { return fmt.Sprintf("usr_%020d", n) }
func sessionID(n int) string { return fmt.Sprintf("ses_%020d", n) }
func auditID(n int) string   { return fmt.Sprintf("aud_%020d", n) }

func newUser(n int) *steward.User {
	return &steward.User{
		ID:        userID(n),
		Email:     fmt.Sprintf("user%d@example.com", n),
		Role:      steward.RoleUser,
		Status:    steward.StatusActive,
		Tags:      []string{},
		Metadata:  map[string]any{},
		CreatedAt: at(time.Duration(n) * time.Second),
		UpdatedAt: at(time.Duration(n) * time.Second),
	}
}

func newSession(n int, userID string) *steward.Session {
	return &steward.Session{
		ID:         sessionID(n),
		UserID:     userID,
		TokenHash:  []byte(fmt.Sprintf("hash-%d-\x00\xff", n)),
		CreatedAt:  at(-time.Hour),
		ExpiresAt:  at(time.Hour),
		LastSeenAt: at(-time.Minute),
		IP:         "203.0.113.7",
		UserAgent:  "test/1.0",
	}
}

func update(t *testing.T, s store.Store, fn func(tx store.Tx) error) {
	t.Helper()
	if err := s.Update(t.Context(), fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func createUsers(t *testing.T, s store.Store, users ...*steward.User) {
	t.Helper()
	update(t, s, func(tx store.Tx) error {
		for _, u := range users {
			if err := tx.CreateUser(t.Context(), u); err != nil {
				return fmt.Errorf("create %s: %w", u.ID, err)
			}
		}
		return nil
	})
}

func createSessions(t *testing.T, s store.Store, sessions ...*steward.Session) {
	t.Helper()
	update(t, s, func(tx store.Tx) error {
		for _, x := range sessions {
			if err := tx.CreateSession(t.Context(), x); err != nil {
				return fmt.Errorf("create %s: %w", x.ID, err)
			}
		}
		return nil
	})
}

// equal reports each differing field of two structs (or pointers to them).
func equal[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if reflect.DeepEqual(got, want) {
		return
	}
	g, w := reflect.Indirect(reflect.ValueOf(got)), reflect.Indirect(reflect.ValueOf(want))
	if g.Kind() != reflect.Struct || !g.IsValid() || !w.IsValid() {
		t.Errorf("%s: got %v, want %v", what, show(got), show(want))
		return
	}
	for i := range g.NumField() {
		gf, wf := g.Field(i).Interface(), w.Field(i).Interface()
		if !reflect.DeepEqual(gf, wf) {
			t.Errorf("%s: %s = %s, want %s", what, g.Type().Field(i).Name, show(gf), show(wf))
		}
	}
}

// show prints v with pointers followed and types visible.
func show(v any) string {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer && !rv.IsNil() {
		return "&" + show(rv.Elem().Interface())
	}
	switch x := v.(type) {
	case time.Time:
		return x.Format(time.RFC3339Nano) + " (" + x.Location().String() + ")"
	case []byte:
		return fmt.Sprintf("%q", x)
	case json.RawMessage:
		return fmt.Sprintf("%q", []byte(x))
	}
	return fmt.Sprintf("%#v", v)
}

func notFound(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("%s: err = %v, want store.ErrNotFound", what, err)
	}
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func ids[T any](list []*T, id func(*T) string) []string {
	out := make([]string, len(list))
	for i, x := range list {
		out[i] = id(x)
	}
	return out
}

func userIDs(list []*steward.User) []string {
	return ids(list, func(u *steward.User) string { return u.ID })
}

func sessionIDs(list []*steward.Session) []string {
	return ids(list, func(s *steward.Session) string { return s.ID })
}

func sameIDs(t *testing.T, what string, got, want []string) {
	t.Helper()
	if got == nil {
		got = []string{}
	}
	if want == nil {
		want = []string{}
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got  %v\n want %v", what, got, want)
	}
}

func testMeta(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(t, "Ping", s.Ping(ctx))
	if d := s.Dialect(); d != "sqlite" && d != "postgres" {
		t.Errorf("Dialect = %q", d)
	}
	v, err := s.MigrationVersion(ctx)
	must(t, "MigrationVersion", err)
	if v <= 0 {
		t.Errorf("MigrationVersion = %d, want > 0", v)
	}
	m, ok := s.(interface{ Migrate(context.Context) error })
	if !ok {
		t.Fatalf("%T has no Migrate(ctx) method", s)
	}
	must(t, "Migrate again", m.Migrate(ctx))
	v2, err := s.MigrationVersion(ctx)
	must(t, "MigrationVersion", err)
	if v2 != v {
		t.Errorf("MigrationVersion after a second Migrate = %d, want %d", v2, v)
	}
	// Still a working store.
	createUsers(t, s, newUser(1))
	if _, err := s.GetUser(ctx, userID(1)); err != nil {
		t.Errorf("GetUser after a second Migrate: %v", err)
	}
}

func testUserCreateGet(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := newUser(1)
	u.Username = "ada"
	u.Name = "Ada Lovelace"
	bare := newUser(2)
	bare.Tags, bare.Metadata = nil, nil // absent reads back as empty, never null
	createUsers(t, s, u, bare)

	for name, get := range map[string]func() (*steward.User, error){
		"GetUser":           func() (*steward.User, error) { return s.GetUser(ctx, u.ID) },
		"GetUserByEmail":    func() (*steward.User, error) { return s.GetUserByEmail(ctx, u.Email) },
		"GetUserByUsername": func() (*steward.User, error) { return s.GetUserByUsername(ctx, "ada") },
	} {
		got, err := get()
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		equal(t, name, got, u)
	}

	got, err := s.GetUser(ctx, bare.ID)
	must(t, "GetUser bare", err)
	if got.Tags == nil || len(got.Tags) != 0 {
		t.Errorf("Tags of a user created with nil tags = %#v, want []string{}", got.Tags)
	}
	if got.Metadata == nil || len(got.Metadata) != 0 {
		t.Errorf("Metadata of a user created with nil metadata = %#v, want an empty map", got.Metadata)
	}
	if got.Ban != nil || got.LastLoginAt != nil || got.DeletedAt != nil || got.LockedUntil != nil {
		t.Errorf("optional fields of a bare user = %+v, want nil", got)
	}

	_, err = s.GetUser(ctx, userID(99))
	notFound(t, "GetUser missing", err)
	_, err = s.GetUserByEmail(ctx, "nobody@example.com")
	notFound(t, "GetUserByEmail missing", err)
	_, err = s.GetUserByUsername(ctx, "nobody")
	notFound(t, "GetUserByUsername missing", err)
	_, err = s.GetUserByUsername(ctx, "")
	notFound(t, "GetUserByUsername empty", err)
}

func testUserDuplicates(t *testing.T, s store.Store) {
	a := newUser(1)
	a.Username = "taken"
	createUsers(t, s, a)

	dupEmail := newUser(2)
	dupEmail.Email = a.Email
	dupUsername := newUser(3)
	dupUsername.Username = "taken"
	dupID := newUser(4)
	dupID.ID = a.ID
	for _, tc := range []struct {
		u     *steward.User
		field string
	}{{dupEmail, "email"}, {dupUsername, "username"}, {dupID, "id"}} {
		err := s.Update(t.Context(), func(tx store.Tx) error { return tx.CreateUser(t.Context(), tc.u) })
		var dup *store.DuplicateError
		if !errors.As(err, &dup) || dup.Field != tc.field {
			t.Errorf("CreateUser with a taken %s: err = %v, want DuplicateError{%q}", tc.field, err, tc.field)
		}
	}

	// Many users may have no username.
	createUsers(t, s, newUser(5), newUser(6))

	// Taking a username by update is a duplicate too.
	b := newUser(7)
	createUsers(t, s, b)
	b.Username = "taken"
	err := s.Update(t.Context(), func(tx store.Tx) error { return tx.UpdateUser(t.Context(), b) })
	var dup *store.DuplicateError
	if !errors.As(err, &dup) || dup.Field != "username" {
		t.Errorf("UpdateUser to a taken username: err = %v, want DuplicateError{username}", err)
	}
	b.Username, b.Email = "", a.Email
	err = s.Update(t.Context(), func(tx store.Tx) error { return tx.UpdateUser(t.Context(), b) })
	if !errors.As(err, &dup) || dup.Field != "email" {
		t.Errorf("UpdateUser to a taken email: err = %v, want DuplicateError{email}", err)
	}
}

func testUserUpdateRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := newUser(1)
	u.Username = "before"
	createUsers(t, s, u)

	roundTrip := func(what string, u *steward.User) {
		t.Helper()
		update(t, s, func(tx store.Tx) error { return tx.UpdateUser(ctx, u) })
		got, err := s.GetUser(ctx, u.ID)
		must(t, what, err)
		equal(t, what, got, u)
	}

	u.Email = "changed@example.org"
	u.Username = "after"
	u.Name = `Grace "Amazing" Hopper`
	u.Role = steward.RoleAdmin
	u.TenantID = "ten_1"
	u.TenantRole = steward.TenantOwner
	u.Status = steward.StatusBanned
	u.Ban = &steward.Ban{Reason: "spam", ExpiresAt: ptr(at(48 * time.Hour)), By: userID(9), At: at(time.Minute)}
	u.SuspensionReason = "earlier suspension"
	u.Tags = []string{"vip", "beta:2", "a.b_c-d"}
	u.Metadata = map[string]any{
		"plan":   "pro",
		"seats":  float64(12),
		"trial":  false,
		"none":   nil,
		"nested": map[string]any{"list": []any{"x", float64(1.5), true, nil}, "deep": map[string]any{"k": "ü"}},
	}
	u.EmailVerified = true
	u.TokenVersion = 7
	u.LastLoginAt = ptr(at(-time.Hour))
	u.UpdatedAt = at(time.Hour)
	u.DeletedAt = ptr(at(2 * time.Hour))
	u.StatusBeforeDelete = steward.StatusSuspended
	u.PasswordHash = "$argon2id$v=19$m=65536,t=1,p=2$c2FsdA$aGFzaA"
	u.FailedLogins = 3
	u.LockedUntil = ptr(at(15 * time.Minute))
	roundTrip("every field", u)

	for _, by := range []string{"email", "username"} {
		var got *steward.User
		var err error
		if by == "email" {
			got, err = s.GetUserByEmail(ctx, "changed@example.org")
		} else {
			got, err = s.GetUserByUsername(ctx, "after")
		}
		must(t, "get by new "+by, err)
		equal(t, "get by new "+by, got, u)
	}
	_, err := s.GetUserByEmail(ctx, "user1@example.com")
	notFound(t, "old email", err)
	_, err = s.GetUserByUsername(ctx, "before")
	notFound(t, "old username", err)

	u.Ban = &steward.Ban{Reason: "forever", By: userID(9), At: at(time.Minute)}
	roundTrip("ban without expiry", u)

	u.Status, u.Ban = steward.StatusActive, nil
	u.Username, u.TenantID, u.TenantRole = "", "", ""
	u.Tags, u.Metadata = []string{}, map[string]any{}
	u.LastLoginAt, u.DeletedAt, u.LockedUntil = nil, nil, nil
	u.StatusBeforeDelete, u.FailedLogins, u.EmailVerified = "", 0, false
	roundTrip("everything cleared", u)

	// The cleared username is free again.
	v := newUser(2)
	v.Username = "after"
	createUsers(t, s, v)
}

func testUserMissing(t *testing.T, s store.Store) {
	ctx := t.Context()
	err := s.Update(ctx, func(tx store.Tx) error { return tx.UpdateUser(ctx, newUser(1)) })
	notFound(t, "UpdateUser missing", err)
	err = s.Update(ctx, func(tx store.Tx) error { return tx.PurgeUser(ctx, userID(1)) })
	notFound(t, "PurgeUser missing", err)
	err = s.Update(ctx, func(tx store.Tx) error {
		_, err := tx.GetUser(ctx, userID(1))
		return err
	})
	notFound(t, "GetUser missing inside Update", err)
}

func testUserListPaging(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n = 60
	// Insert out of id order: lists follow ids, not insertion.
	var users []*steward.User
	for i := range n {
		users = append(users, newUser((i*37)%n+1))
	}
	createUsers(t, s, users...)

	var want []string
	for i := n; i >= 1; i-- {
		want = append(want, userID(i))
	}

	all, err := s.ListUsers(ctx, steward.UserFilter{Limit: 0})
	must(t, "ListUsers", err)
	sameIDs(t, "Limit 0 is the default page of 50", userIDs(all), want[:50])

	for _, size := range []int{1, 7, 60, 100} {
		var got []string
		before := ""
		for pages := 0; ; pages++ {
			if pages > n+1 {
				t.Fatalf("page size %d: paging does not end", size)
			}
			page, err := s.ListUsers(ctx, steward.UserFilter{Before: before, Limit: size})
			must(t, "ListUsers", err)
			if len(page) > size {
				t.Fatalf("page size %d: got %d rows", size, len(page))
			}
			got = append(got, userIDs(page)...)
			if len(page) < size {
				break
			}
			before = page[len(page)-1].ID
		}
		sameIDs(t, fmt.Sprintf("every page of %d", size), got, want)
	}

	page, err := s.ListUsers(ctx, steward.UserFilter{Before: userID(1), Limit: 10})
	must(t, "ListUsers", err)
	sameIDs(t, "before the oldest", userIDs(page), nil)
	page, err = s.ListUsers(ctx, steward.UserFilter{Before: "usr_zzz", Limit: 3})
	must(t, "ListUsers", err)
	sameIDs(t, "before past the newest", userIDs(page), want[:3])

	cnt, err := s.CountUsers(ctx, steward.UserFilter{Before: userID(10), Limit: 5})
	must(t, "CountUsers", err)
	if cnt != n {
		t.Errorf("CountUsers ignoring Before and Limit = %d, want %d", cnt, n)
	}
}

// userFixture is a population in which every filter selects a different set.
func userFixture() []*steward.User {
	names := map[int]string{
		3:  "Ada Lovelace",
		8:  "Grace Hopper",
		11: `Dwayne "The Rock" Johnson`,
		14: "Zoë Müller",
		20: "Alan Turing",
		25: "100% Real_Name",
	}
	var users []*steward.User
	for i := 1; i <= 30; i++ {
		u := newUser(i)
		u.Status = []steward.UserStatus{steward.StatusActive, steward.StatusSuspended, steward.StatusBanned, steward.StatusDeleted}[i%4]
		switch {
		case i == 30:
			u.Role = steward.RoleOwner
		case i%7 == 0:
			u.Role = steward.RoleSupport
		case i%5 == 0:
			u.Role = steward.RoleAdmin
		}
		switch i % 3 {
		case 0:
			u.TenantID, u.TenantRole = "ten_a", steward.TenantMember
		case 1:
			u.TenantID, u.TenantRole = "ten_b", steward.TenantAdmin
		}
		if i%2 == 0 {
			u.Tags = append(u.Tags, "vip")
		}
		if i%3 == 0 {
			u.Tags = append(u.Tags, "beta")
		}
		if i%4 == 0 {
			u.Email = fmt.Sprintf("person%02d@acme.io", i)
		} else {
			u.Email = fmt.Sprintf("person%02d@example.com", i)
		}
		if i%2 == 1 {
			u.Username = fmt.Sprintf("handle_%02d", i)
		}
		u.Name = names[i]
		users = append(users, u)
	}
	return users
}

// matches is the filter semantics every store implements, spelled in Go.
func matches(u *steward.User, f steward.UserFilter) bool {
	if f.Status != "" && u.Status != f.Status ||
		f.Role != "" && u.Role != f.Role ||
		len(f.Roles) > 0 && !slices.Contains(f.Roles, u.Role) ||
		f.TenantID != "" && u.TenantID != f.TenantID ||
		f.Tag != "" && !slices.Contains(u.Tags, f.Tag) {
		return false
	}
	if f.Q != "" {
		q := strings.ToLower(f.Q)
		if u.ID != f.Q && !strings.Contains(strings.ToLower(u.Email), q) &&
			!strings.Contains(strings.ToLower(u.Username), q) && !strings.Contains(strings.ToLower(u.Name), q) {
			return false
		}
	}
	return true
}

func testUserFilters(t *testing.T, s store.Store) {
	ctx := t.Context()
	users := userFixture()
	createUsers(t, s, users...)
	slices.SortFunc(users, func(a, b *steward.User) int { return cmp.Compare(b.ID, a.ID) })

	filters := []struct {
		name string
		f    steward.UserFilter
		min  int // guards the fixture: a filter that selects nothing proves little
	}{
		{"none", steward.UserFilter{}, 30},
		{"status", steward.UserFilter{Status: steward.StatusBanned}, 5},
		{"role", steward.UserFilter{Role: steward.RoleAdmin}, 3},
		{"roles", steward.UserFilter{Roles: []steward.Role{steward.RoleSupport, steward.RoleOwner}}, 4},
		{"tenant", steward.UserFilter{TenantID: "ten_a"}, 10},
		{"tag", steward.UserFilter{Tag: "vip"}, 15},
		{"tag none", steward.UserFilter{Tag: "nope"}, 0},
		{"tag and status", steward.UserFilter{Tag: "beta", Status: steward.StatusActive}, 2},
		{"status and role", steward.UserFilter{Status: steward.StatusActive, Role: steward.RoleUser}, 3},
		{"tenant and tag", steward.UserFilter{TenantID: "ten_b", Tag: "vip"}, 4},
		{"q email domain", steward.UserFilter{Q: "acme"}, 7},
		{"q email upper case", steward.UserFilter{Q: "ACME.IO"}, 7},
		{"q email exact", steward.UserFilter{Q: "person17@example.com"}, 1},
		{"q username", steward.UserFilter{Q: "handle_1"}, 5},
		{"q name", steward.UserFilter{Q: "LoVeLa"}, 1},
		{"q name non-ascii", steward.UserFilter{Q: "müll"}, 1},
		{"q exact id", steward.UserFilter{Q: userID(17)}, 1},
		{"q id prefix is not a match", steward.UserFilter{Q: userID(17)[:10]}, 0},
		{"q short", steward.UserFilter{Q: "da"}, 1},
		{"q short literal underscore", steward.UserFilter{Q: "_2"}, 5},
		{"q short literal percent", steward.UserFilter{Q: "0%"}, 1},
		{"q short no match", steward.UserFilter{Q: "a%"}, 0},
		{"q one char", steward.UserFilter{Q: "Z"}, 1},
		{"q double quote", steward.UserFilter{Q: `"The Rock"`}, 1},
		{"q lone double quote", steward.UserFilter{Q: `e "T`}, 1},
		{"q fts syntax", steward.UserFilter{Q: `rock* OR NEAR(a b)`}, 0},
		{"q no match", steward.UserFilter{Q: "zzzz"}, 0},
		{"q and status", steward.UserFilter{Q: "example.com", Status: steward.StatusSuspended}, 5},
		{"q and tag", steward.UserFilter{Q: "acme", Tag: "beta"}, 2},
		{"everything", steward.UserFilter{Q: "handle", Status: steward.StatusDeleted, Role: steward.RoleUser,
			Roles: []steward.Role{steward.RoleUser, steward.RoleAdmin}, TenantID: "ten_b"}, 1},
		{"everything with tag", steward.UserFilter{Q: "acme", Status: steward.StatusActive, Role: steward.RoleUser,
			TenantID: "ten_a", Tag: "vip"}, 2},
	}
	for _, tc := range filters {
		var want []string
		for _, u := range users {
			if matches(u, tc.f) {
				want = append(want, u.ID)
			}
		}
		if len(want) < tc.min {
			t.Fatalf("%s: fixture gives %d matches, want at least %d", tc.name, len(want), tc.min)
		}

		f := tc.f
		f.Limit = 100
		got, err := s.ListUsers(ctx, f)
		if err != nil {
			t.Errorf("%s: ListUsers: %v", tc.name, err)
			continue
		}
		sameIDs(t, tc.name, userIDs(got), want)

		n, err := s.CountUsers(ctx, tc.f)
		if err != nil {
			t.Errorf("%s: CountUsers: %v", tc.name, err)
		} else if n != int64(len(want)) {
			t.Errorf("%s: CountUsers = %d, want %d", tc.name, n, len(want))
		}

		// Keyset paging under the filter.
		var paged []string
		f.Limit, f.Before = 2, ""
		for range len(want) + 1 {
			page, err := s.ListUsers(ctx, f)
			if err != nil {
				t.Fatalf("%s: ListUsers page: %v", tc.name, err)
			}
			paged = append(paged, userIDs(page)...)
			if len(page) < f.Limit {
				break
			}
			f.Before = page[len(page)-1].ID
		}
		sameIDs(t, tc.name+" paged by 2", paged, want)
	}

	// Filters see updates: the search index and tags follow the row.
	u := users[0] // the newest user
	u.Name, u.Tags = "Quintessa Rarename", []string{"fresh"}
	update(t, s, func(tx store.Tx) error { return tx.UpdateUser(ctx, u) })
	got, err := s.ListUsers(ctx, steward.UserFilter{Q: "rarename"})
	must(t, "ListUsers", err)
	sameIDs(t, "q after update", userIDs(got), []string{u.ID})
	got, err = s.ListUsers(ctx, steward.UserFilter{Tag: "fresh"})
	must(t, "ListUsers", err)
	sameIDs(t, "tag after update", userIDs(got), []string{u.ID})
	got, err = s.ListUsers(ctx, steward.UserFilter{Tag: "vip", Q: u.ID})
	must(t, "ListUsers", err)
	sameIDs(t, "old tag after update", userIDs(got), nil)
}

func testUserBanExpired(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := t0
	ban := func(n int, status steward.UserStatus, expires *time.Time) *steward.User {
		u := newUser(n)
		u.Status = status
		u.Ban = &steward.Ban{Reason: "r", ExpiresAt: expires, By: "op", At: at(-72 * time.Hour)}
		return u
	}
	createUsers(t, s,
		ban(1, steward.StatusBanned, ptr(at(-2*time.Hour))), // expired
		ban(2, steward.StatusBanned, ptr(now)),              // expires exactly now: expired
		ban(3, steward.StatusBanned, ptr(at(time.Second))),  // not yet
		ban(4, steward.StatusBanned, nil),                   // permanent
		ban(5, steward.StatusActive, ptr(at(-time.Hour))),   // already lifted
		ban(6, steward.StatusBanned, ptr(at(-time.Hour))),   // expired
		newUser(7),
	)
	got, err := s.ListUsersBanExpired(ctx, now, 10)
	must(t, "ListUsersBanExpired", err)
	gotIDs := userIDs(got)
	slices.Sort(gotIDs)
	sameIDs(t, "expired bans", gotIDs, []string{userID(1), userID(2), userID(6)})

	got, err = s.ListUsersBanExpired(ctx, now, 2)
	must(t, "ListUsersBanExpired", err)
	if len(got) != 2 {
		t.Errorf("ListUsersBanExpired limit 2: got %d users", len(got))
	}
	for _, u := range got {
		if !u.BanExpired(now) {
			t.Errorf("ListUsersBanExpired returned %s whose ban has not expired", u.ID)
		}
	}
}

func testUserPurge(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := newUser(1), newUser(2)
	a.Tags, a.Name = []string{"doomed"}, "Purged Person"
	createUsers(t, s, a, b)
	createSessions(t, s, newSession(1, a.ID), newSession(2, a.ID), newSession(3, b.ID))
	appendAudit(t, s, &steward.AuditEntry{ID: auditID(1), Time: t0, ActorType: steward.ActorUser,
		ActorID: a.ID, Action: "user.login", TargetType: "user", TargetID: a.ID})

	update(t, s, func(tx store.Tx) error { return tx.PurgeUser(ctx, a.ID) })

	_, err := s.GetUser(ctx, a.ID)
	notFound(t, "GetUser after purge", err)
	_, err = s.GetSession(ctx, sessionID(1))
	notFound(t, "GetSession after purge", err)
	_, err = s.GetSessionByTokenHash(ctx, newSession(2, a.ID).TokenHash)
	notFound(t, "GetSessionByTokenHash after purge", err)
	list, err := s.ListSessions(ctx, steward.SessionFilter{UserID: a.ID, Now: t0})
	must(t, "ListSessions", err)
	sameIDs(t, "sessions after purge", sessionIDs(list), nil)
	list, err = s.ListSessions(ctx, steward.SessionFilter{Now: t0})
	must(t, "ListSessions", err)
	sameIDs(t, "other sessions after purge", sessionIDs(list), []string{sessionID(3)})
	for _, f := range []steward.UserFilter{{Tag: "doomed"}, {Q: "purged"}, {Q: a.ID}} {
		users, err := s.ListUsers(ctx, f)
		must(t, "ListUsers", err)
		sameIDs(t, fmt.Sprintf("ListUsers(%+v) after purge", f), userIDs(users), nil)
	}
	n, err := s.CountUsers(ctx, steward.UserFilter{})
	must(t, "CountUsers", err)
	if n != 1 {
		t.Errorf("CountUsers after purge = %d, want 1", n)
	}
	entries, err := s.ListAudit(ctx, steward.AuditFilter{ActorID: a.ID})
	must(t, "ListAudit", err)
	if len(entries) != 1 {
		t.Errorf("audit entries of a purged user = %d, want 1 (the log outlives users)", len(entries))
	}
	// The email is free again.
	createUsers(t, s, newUser(1))
}

func testTimes(t *testing.T, s store.Store) {
	ctx := t.Context()
	zone := time.FixedZone("UTC+5", 5*3600)
	local := time.Date(2024, 2, 29, 23, 59, 59, 999999000, zone)
	old := time.Date(1970, 1, 1, 0, 0, 0, 1000, time.UTC)
	far := time.Date(2199, 12, 31, 23, 59, 59, 123456000, time.UTC)
	u := newUser(1)
	u.CreatedAt, u.UpdatedAt, u.LastLoginAt, u.LockedUntil = local, old, &far, ptr(local)
	createUsers(t, s, u)
	got, err := s.GetUser(ctx, u.ID)
	must(t, "GetUser", err)
	for name, pair := range map[string][2]time.Time{
		"CreatedAt":   {got.CreatedAt, local},
		"UpdatedAt":   {got.UpdatedAt, old},
		"LastLoginAt": {*got.LastLoginAt, far},
		"LockedUntil": {*got.LockedUntil, local},
	} {
		g, w := pair[0], pair[1]
		if !g.Equal(w) || g.Location() != time.UTC {
			t.Errorf("%s = %s (%s), want %s in UTC", name, g.Format(time.RFC3339Nano), g.Location(), w.Format(time.RFC3339Nano))
		}
	}
}

func testSessionCRUD(t *testing.T, s store.Store) {
	ctx := t.Context()
	createUsers(t, s, newUser(1), newUser(2))
	a := newSession(1, userID(1))
	b := newSession(2, userID(1))
	b.ImpersonatorID, b.ReadOnly, b.IP, b.UserAgent = userID(2), true, "", ""
	createSessions(t, s, a, b)

	for _, want := range []*steward.Session{a, b} {
		got, err := s.GetSession(ctx, want.ID)
		must(t, "GetSession", err)
		equal(t, "GetSession", got, want)
		got, err = s.GetSessionByTokenHash(ctx, want.TokenHash)
		must(t, "GetSessionByTokenHash", err)
		equal(t, "GetSessionByTokenHash", got, want)
	}
	_, err := s.GetSession(ctx, sessionID(9))
	notFound(t, "GetSession missing", err)
	_, err = s.GetSessionByTokenHash(ctx, []byte("no such hash"))
	notFound(t, "GetSessionByTokenHash missing", err)

	dup := newSession(3, userID(2))
	dup.TokenHash = a.TokenHash
	err = s.Update(ctx, func(tx store.Tx) error { return tx.CreateSession(ctx, dup) })
	var de *store.DuplicateError
	if !errors.As(err, &de) {
		t.Errorf("CreateSession with a taken token hash: err = %v, want a DuplicateError", err)
	}

	a.LastSeenAt = at(30 * time.Minute)
	a.ExpiresAt = at(3 * time.Hour)
	a.RevokedAt = ptr(at(45 * time.Minute))
	a.RevokedReason = "logout"
	a.IP, a.UserAgent, a.ReadOnly = "2001:db8::1", "other/2.0", true
	update(t, s, func(tx store.Tx) error { return tx.UpdateSession(ctx, a) })
	got, err := s.GetSession(ctx, a.ID)
	must(t, "GetSession", err)
	equal(t, "GetSession after update", got, a)

	err = s.Update(ctx, func(tx store.Tx) error { return tx.UpdateSession(ctx, newSession(9, userID(1))) })
	notFound(t, "UpdateSession missing", err)
}

func testSessionList(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := t0
	createUsers(t, s, newUser(1), newUser(2))
	var all []*steward.Session
	add := func(n int, user string, state string) {
		x := newSession(n, user)
		switch state {
		case steward.SessionRevoked:
			x.RevokedAt, x.RevokedReason = ptr(at(-time.Minute)), "logout"
			if n%2 == 0 {
				x.ExpiresAt = at(-time.Minute) // revoked wins over expired
			}
		case steward.SessionExpired:
			x.ExpiresAt = at(-time.Duration(n) * time.Second)
			if n == 8 {
				x.ExpiresAt = now // expiring exactly now counts as expired
			}
		}
		all = append(all, x)
	}
	for n := 1; n <= 16; n++ {
		user := userID(1)
		if n%5 == 0 {
			user = userID(2)
		}
		add(n, user, []string{steward.SessionActive, steward.SessionRevoked, steward.SessionExpired}[n%3])
	}
	// Insert newest first, so order comes from ids.
	slices.Reverse(all)
	createSessions(t, s, all...)
	slices.Reverse(all)

	for _, user := range []string{"", userID(1), userID(2)} {
		for _, status := range []string{"", steward.SessionActive, steward.SessionRevoked, steward.SessionExpired} {
			var want []string
			for i := len(all) - 1; i >= 0; i-- {
				x := all[i]
				if (user == "" || x.UserID == user) && (status == "" || x.State(now) == status) {
					want = append(want, x.ID)
				}
			}
			f := steward.SessionFilter{UserID: user, Status: status, Now: now, Limit: 100}
			got, err := s.ListSessions(ctx, f)
			must(t, "ListSessions", err)
			name := fmt.Sprintf("user %q status %q", user, status)
			sameIDs(t, name, sessionIDs(got), want)

			var paged []string
			f.Limit = 3
			for range len(want) + 1 {
				page, err := s.ListSessions(ctx, f)
				must(t, "ListSessions", err)
				paged = append(paged, sessionIDs(page)...)
				if len(page) < f.Limit {
					break
				}
				f.Before = page[len(page)-1].ID
			}
			sameIDs(t, name+" paged by 3", paged, want)
		}
	}
	got, err := s.ListSessions(ctx, steward.SessionFilter{Now: now})
	must(t, "ListSessions", err)
	if len(got) != len(all) {
		t.Errorf("ListSessions with Limit 0 = %d sessions, want all %d", len(got), len(all))
	}
}

func testSessionRevokeUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := t0
	createUsers(t, s, newUser(1), newUser(2))
	active1, active2 := newSession(1, userID(1)), newSession(2, userID(1))
	expired := newSession(3, userID(1))
	expired.ExpiresAt = now
	revoked := newSession(4, userID(1))
	revoked.RevokedAt, revoked.RevokedReason = ptr(at(-time.Hour)), "earlier"
	other := newSession(5, userID(2))
	createSessions(t, s, active1, active2, expired, revoked, other)

	var n int64
	update(t, s, func(tx store.Tx) (err error) {
		n, err = tx.RevokeUserSessions(ctx, userID(1), now, "banned")
		return err
	})
	if n != 2 {
		t.Errorf("RevokeUserSessions = %d, want 2", n)
	}
	active1.RevokedAt, active1.RevokedReason = &now, "banned"
	active2.RevokedAt, active2.RevokedReason = &now, "banned"
	for _, want := range []*steward.Session{active1, active2, expired, revoked, other} {
		got, err := s.GetSession(ctx, want.ID)
		must(t, "GetSession", err)
		equal(t, "after RevokeUserSessions", got, want)
	}

	update(t, s, func(tx store.Tx) (err error) {
		n, err = tx.RevokeUserSessions(ctx, userID(1), now, "again")
		return err
	})
	if n != 0 {
		t.Errorf("second RevokeUserSessions = %d, want 0", n)
	}
}

// appendAudit chains entries onto the log as the service does.
func appendAudit(t *testing.T, s store.Store, entries ...*steward.AuditEntry) {
	t.Helper()
	update(t, s, func(tx store.Tx) error {
		for _, e := range entries {
			seq, prev, err := tx.LockAuditHead(t.Context())
			if err != nil {
				return err
			}
			e.Seq, e.PrevHash = seq+1, prev
			e.Hash = e.ComputeHash()
			if err := tx.InsertAudit(t.Context(), e); err != nil {
				return err
			}
		}
		return nil
	})
}

// auditFixture is 25 entries, a minute apart, with every field set on some.
func auditFixture() []*steward.AuditEntry {
	changes := []json.RawMessage{
		nil,
		json.RawMessage(`{"role":{"before":"user","after":"admin"}}`),
		json.RawMessage("{ \"a\" : 1 ,\"b\":[1, 2],\n\"a\":2 }"), // not canonical, duplicate key
		json.RawMessage(`{}`),
	}
	var out []*steward.AuditEntry
	for i := 1; i <= 25; i++ {
		e := &steward.AuditEntry{
			ID:         auditID(i),
			Time:       at(time.Duration(i) * time.Minute),
			ActorType:  steward.ActorOperator,
			ActorID:    userID(i%3 + 1),
			ActorRole:  string(steward.RoleAdmin),
			Action:     []string{"user.ban", "user.update", "session.revoke", "user.delete"}[i%4],
			TargetType: []string{"user", "session"}[i%2],
			TargetID:   userID(i%5 + 10),
			Reason:     fmt.Sprintf("reason %d", i),
			Changes:    changes[i%4],
			Metadata:   changes[(i+1)%4],
			IP:         "198.51.100.1",
			UserAgent:  "admin-cli",
			RequestID:  fmt.Sprintf("req_%d", i),
		}
		if i%4 == 0 {
			e.TenantID = "ten_a"
		}
		if i%6 == 0 {
			e.ImpersonatorID, e.CredentialID = userID(99), sessionID(i)
			e.ActorType = steward.ActorUser
		}
		if i == 7 {
			e.ActorType, e.ActorID, e.ActorRole = steward.ActorSystem, "system", ""
		}
		if i == 5 {
			e.Metadata = json.RawMessage{} // empty, not nil: reads back as nil
		}
		out = append(out, e)
	}
	return out
}

func auditMatches(e *steward.AuditEntry, f steward.AuditFilter) bool {
	return (f.ActorID == "" || e.ActorID == f.ActorID) &&
		(f.Action == "" || e.Action == f.Action) &&
		(f.TargetType == "" || e.TargetType == f.TargetType) &&
		(f.TargetID == "" || e.TargetID == f.TargetID) &&
		(f.TenantID == "" || e.TenantID == f.TenantID) &&
		(f.Since == nil || !e.Time.Before(*f.Since)) &&
		(f.Until == nil || e.Time.Before(*f.Until))
}

var auditFilters = []struct {
	name string
	f    steward.AuditFilter
}{
	{"none", steward.AuditFilter{}},
	{"actor", steward.AuditFilter{ActorID: userID(2)}},
	{"action", steward.AuditFilter{Action: "user.ban"}},
	{"action is exact", steward.AuditFilter{Action: "user"}},
	{"target type", steward.AuditFilter{TargetType: "session"}},
	{"target", steward.AuditFilter{TargetType: "user", TargetID: userID(11)}},
	{"tenant", steward.AuditFilter{TenantID: "ten_a"}},
	{"since", steward.AuditFilter{Since: ptr(at(20 * time.Minute))}},
	{"until", steward.AuditFilter{Until: ptr(at(5 * time.Minute))}},
	{"window", steward.AuditFilter{Since: ptr(at(3 * time.Minute)), Until: ptr(at(17*time.Minute + time.Second))}},
	{"actor and action", steward.AuditFilter{ActorID: userID(1), Action: "user.update"}},
}

func testAuditListFilters(t *testing.T, s store.Store) {
	ctx := t.Context()
	update(t, s, func(tx store.Tx) error {
		seq, hash, err := tx.LockAuditHead(ctx)
		if seq != 0 || hash != "" || err != nil {
			t.Errorf("LockAuditHead of an empty log = %d, %q, %v", seq, hash, err)
		}
		return err
	})
	entries := auditFixture()
	appendAudit(t, s, entries[:10]...)
	appendAudit(t, s, entries[10:]...)
	for _, e := range entries {
		if len(e.Changes) == 0 {
			e.Changes = nil // empty reads back as absent
		}
		if len(e.Metadata) == 0 {
			e.Metadata = nil
		}
	}
	last := entries[len(entries)-1]
	update(t, s, func(tx store.Tx) error {
		seq, hash, err := tx.LockAuditHead(ctx)
		if seq != last.Seq || hash != last.Hash || err != nil {
			t.Errorf("LockAuditHead = %d, %q, %v; want %d, %q", seq, hash, err, last.Seq, last.Hash)
		}
		return err
	})

	got, err := s.ListAudit(ctx, steward.AuditFilter{})
	must(t, "ListAudit", err)
	if len(got) != len(entries) {
		t.Fatalf("ListAudit = %d entries, want %d", len(got), len(entries))
	}
	for i, e := range got {
		want := entries[len(entries)-1-i]
		equal(t, "ListAudit entry", e, want)
		if e.ComputeHash() != e.Hash {
			t.Errorf("entry %d: hash no longer verifies after a round trip", e.Seq)
		}
	}

	for _, tc := range auditFilters {
		var want []string
		for i := len(entries) - 1; i >= 0; i-- {
			if auditMatches(entries[i], tc.f) {
				want = append(want, entries[i].ID)
			}
		}
		got, err := s.ListAudit(ctx, tc.f)
		must(t, "ListAudit", err)
		sameIDs(t, tc.name, ids(got, func(e *steward.AuditEntry) string { return e.ID }), want)

		var paged []string
		f := tc.f
		f.Limit = 4
		for range len(want) + 1 {
			page, err := s.ListAudit(ctx, f)
			must(t, "ListAudit", err)
			paged = append(paged, ids(page, func(e *steward.AuditEntry) string { return e.ID })...)
			if len(page) < f.Limit {
				break
			}
			f.BeforeSeq = page[len(page)-1].Seq
		}
		sameIDs(t, tc.name+" paged by 4", paged, want)
	}

	dup := *entries[3]
	dup.Seq = 100
	err = s.Update(ctx, func(tx store.Tx) error { return tx.InsertAudit(ctx, &dup) })
	var de *store.DuplicateError
	if !errors.As(err, &de) {
		t.Errorf("InsertAudit with a taken id: err = %v, want a DuplicateError", err)
	}
	dup = *entries[3]
	dup.ID = auditID(100)
	err = s.Update(ctx, func(tx store.Tx) error { return tx.InsertAudit(ctx, &dup) })
	if !errors.As(err, &de) {
		t.Errorf("InsertAudit with a taken seq: err = %v, want a DuplicateError", err)
	}
}

func testAuditScan(t *testing.T, s store.Store) {
	ctx := t.Context()
	entries := auditFixture()
	appendAudit(t, s, entries...)

	for _, tc := range auditFilters {
		var want []string
		for _, e := range entries {
			if auditMatches(e, tc.f) {
				want = append(want, e.ID)
			}
		}
		f := tc.f
		f.BeforeSeq, f.Limit = 3, 1 // ignored by scans
		var got []string
		prev := int64(0)
		err := s.ScanAudit(ctx, f, func(e *steward.AuditEntry) error {
			if e.Seq <= prev {
				t.Errorf("%s: seq %d after %d", tc.name, e.Seq, prev)
			}
			prev = e.Seq
			got = append(got, e.ID)
			return nil
		})
		must(t, "ScanAudit", err)
		sameIDs(t, "scan "+tc.name, got, want)
	}

	stop := errors.New("stop here")
	calls := 0
	err := s.ScanAudit(ctx, steward.AuditFilter{}, func(e *steward.AuditEntry) error {
		calls++
		if calls == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Errorf("ScanAudit whose fn fails: err = %v, want %v", err, stop)
	}
	if calls != 3 {
		t.Errorf("ScanAudit went on after fn failed: %d calls, want 3", calls)
	}

	// The store stays usable after a scan stopped part way.
	appendAudit(t, s, &steward.AuditEntry{ID: auditID(26), Time: t0, Action: "after.scan"})
}

func testAuditBytes(t *testing.T, s store.Store) {
	ctx := t.Context()
	odd := []json.RawMessage{
		json.RawMessage(`{"k":"\u00e9 é",  "n": 1.50, "big": 12345678901234567890}`),
		json.RawMessage("[\n\t1,\n\t2\n]\n"),
		json.RawMessage(`"just a string"`),
		json.RawMessage(`null`),
		json.RawMessage(`{"z":1,"a":{"y":[],"b":{}}}`),
	}
	var entries []*steward.AuditEntry
	for i, raw := range odd {
		entries = append(entries, &steward.AuditEntry{ID: auditID(i + 1), Time: t0, Action: "bytes",
			Changes: raw, Metadata: odd[len(odd)-1-i]})
	}
	appendAudit(t, s, entries...)
	var got []*steward.AuditEntry
	must(t, "ScanAudit", s.ScanAudit(ctx, steward.AuditFilter{}, func(e *steward.AuditEntry) error {
		got = append(got, e)
		return nil
	}))
	if len(got) != len(entries) {
		t.Fatalf("ScanAudit = %d entries, want %d", len(got), len(entries))
	}
	for i, e := range got {
		if !bytes.Equal(e.Changes, entries[i].Changes) || !bytes.Equal(e.Metadata, entries[i].Metadata) {
			t.Errorf("entry %d: Changes %q Metadata %q, want %q and %q byte for byte",
				e.Seq, e.Changes, e.Metadata, entries[i].Changes, entries[i].Metadata)
		}
		if e.ComputeHash() != entries[i].Hash {
			t.Errorf("entry %d: hash does not verify after a round trip", e.Seq)
		}
	}
}

func testSigningKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	keys, err := s.ListSigningKeys(ctx)
	must(t, "ListSigningKeys", err)
	if len(keys) != 0 {
		t.Fatalf("ListSigningKeys of a new store = %d keys", len(keys))
	}
	key := func(n int, created time.Time) *steward.SigningKey {
		priv := make([]byte, 64)
		for i := range priv {
			priv[i] = byte(n*31 + i)
		}
		return &steward.SigningKey{ID: fmt.Sprintf("key_%d", n), PrivateKey: priv, CreatedAt: created}
	}
	k1, k2, k3 := key(1, at(-48*time.Hour)), key(2, at(-24*time.Hour)), key(3, t0)
	k1.RetiredAt = ptr(at(-24 * time.Hour))
	update(t, s, func(tx store.Tx) error {
		for _, k := range []*steward.SigningKey{k3, k1, k2} {
			if err := tx.InsertSigningKey(ctx, k); err != nil {
				return err
			}
		}
		return nil
	})
	keys, err = s.ListSigningKeys(ctx)
	must(t, "ListSigningKeys", err)
	if len(keys) != 3 {
		t.Fatalf("ListSigningKeys = %d keys, want 3", len(keys))
	}
	for i, want := range []*steward.SigningKey{k1, k2, k3} {
		equal(t, "ListSigningKeys oldest first", keys[i], want)
	}

	k2.RetiredAt = ptr(t0)
	update(t, s, func(tx store.Tx) error { return tx.UpdateSigningKey(ctx, k2) })
	keys, err = s.ListSigningKeys(ctx)
	must(t, "ListSigningKeys", err)
	equal(t, "key after update", keys[1], k2)

	err = s.Update(ctx, func(tx store.Tx) error { return tx.UpdateSigningKey(ctx, key(9, t0)) })
	notFound(t, "UpdateSigningKey missing", err)
}

func testUpdateRollback(t *testing.T, s store.Store) {
	ctx := t.Context()
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateUser(ctx, newUser(1)); err != nil {
			return err
		}
		if err := tx.CreateSession(ctx, newSession(1, userID(1))); err != nil {
			return err
		}
		if err := tx.InsertAudit(ctx, &steward.AuditEntry{ID: auditID(1), Seq: 1, Time: t0, Action: "x", Hash: "h"}); err != nil {
			return err
		}
		if err := tx.InsertSigningKey(ctx, &steward.SigningKey{ID: "key_1", PrivateKey: []byte{1}, CreatedAt: t0}); err != nil {
			return err
		}
		return fmt.Errorf("wrapped: %w", boom)
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want the error fn returned", err)
	}
	assertEmpty(t, s)
}

func assertEmpty(t *testing.T, s store.Store) {
	t.Helper()
	ctx := t.Context()
	_, err := s.GetUser(ctx, userID(1))
	notFound(t, "user after rollback", err)
	_, err = s.GetSession(ctx, sessionID(1))
	notFound(t, "session after rollback", err)
	entries, err := s.ListAudit(ctx, steward.AuditFilter{})
	must(t, "ListAudit", err)
	if len(entries) != 0 {
		t.Errorf("audit after rollback = %d entries, want 0", len(entries))
	}
	keys, err := s.ListSigningKeys(ctx)
	must(t, "ListSigningKeys", err)
	if len(keys) != 0 {
		t.Errorf("signing keys after rollback = %d, want 0", len(keys))
	}
	n, err := s.CountUsers(ctx, steward.UserFilter{})
	must(t, "CountUsers", err)
	if n != 0 {
		t.Errorf("CountUsers after rollback = %d, want 0", n)
	}
}

func testUpdatePanic(t *testing.T, s store.Store) {
	ctx := t.Context()
	func() {
		defer func() {
			if r := recover(); r != "fn panicked" {
				t.Errorf("recovered %v, want the panic from fn", r)
			}
		}()
		_ = s.Update(ctx, func(tx store.Tx) error {
			if err := tx.CreateUser(ctx, newUser(1)); err != nil {
				return err
			}
			panic("fn panicked")
		})
	}()
	assertEmpty(t, s)
	// The write transaction was released.
	createUsers(t, s, newUser(1))
}

func testUpdateReadsOwnWrites(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := newUser(1)
	u.Username, u.Tags = "own", []string{"t"}
	update(t, s, func(tx store.Tx) error {
		if err := tx.CreateUser(ctx, u); err != nil {
			return err
		}
		if err := tx.CreateSession(ctx, newSession(1, u.ID)); err != nil {
			return err
		}
		for name, get := range map[string]func() (*steward.User, error){
			"GetUser":           func() (*steward.User, error) { return tx.GetUser(ctx, u.ID) },
			"GetUserByEmail":    func() (*steward.User, error) { return tx.GetUserByEmail(ctx, u.Email) },
			"GetUserByUsername": func() (*steward.User, error) { return tx.GetUserByUsername(ctx, "own") },
		} {
			got, err := get()
			if err != nil {
				return fmt.Errorf("%s inside the transaction: %w", name, err)
			}
			equal(t, name+" inside the transaction", got, u)
		}
		list, err := tx.ListUsers(ctx, steward.UserFilter{Tag: "t"})
		if err != nil {
			return err
		}
		sameIDs(t, "ListUsers inside the transaction", userIDs(list), []string{u.ID})
		if _, err := tx.GetSession(ctx, sessionID(1)); err != nil {
			return fmt.Errorf("GetSession inside the transaction: %w", err)
		}
		return tx.LockOperators(ctx)
	})
}

func testUpdateSerialised(t *testing.T, s store.Store) {
	ctx := t.Context()
	createUsers(t, s, newUser(1))
	const workers, rounds = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds)
	for range workers {
		wg.Go(func() {
			for range rounds {
				errs <- s.Update(ctx, func(tx store.Tx) error {
					if err := tx.LockOperators(ctx); err != nil {
						return err
					}
					u, err := tx.GetUser(ctx, userID(1))
					if err != nil {
						return err
					}
					u.TokenVersion++
					return tx.UpdateUser(ctx, u)
				})
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent Update: %v", err)
		}
	}
	u, err := s.GetUser(ctx, userID(1))
	must(t, "GetUser", err)
	if u.TokenVersion != workers*rounds {
		t.Errorf("TokenVersion after %d read-modify-write transactions = %d (lost updates)", workers*rounds, u.TokenVersion)
	}
}
