package storetest

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

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
	if got.Ban != nil || got.LastLoginAt != nil || got.DeletedAt != nil || got.LoginResetAt != nil {
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
	u.LoginResetAt = ptr(at(15 * time.Minute))
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
	u.LastLoginAt, u.DeletedAt, u.LoginResetAt = nil, nil, nil
	u.StatusBeforeDelete, u.EmailVerified = "", false
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
		{"q backslash", steward.UserFilter{Q: `\`}, 0},
		{"q backslash long", steward.UserFilter{Q: `on\`}, 0},
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
	u.CreatedAt, u.UpdatedAt, u.LastLoginAt, u.LoginResetAt = local, old, &far, ptr(local)
	createUsers(t, s, u)
	got, err := s.GetUser(ctx, u.ID)
	must(t, "GetUser", err)
	for name, pair := range map[string][2]time.Time{
		"CreatedAt":    {got.CreatedAt, local},
		"UpdatedAt":    {got.UpdatedAt, old},
		"LastLoginAt":  {*got.LastLoginAt, far},
		"LoginResetAt": {*got.LoginResetAt, local},
	} {
		g, w := pair[0], pair[1]
		if !g.Equal(w) || g.Location() != time.UTC {
			t.Errorf("%s = %s (%s), want %s in UTC", name, g.Format(time.RFC3339Nano), g.Location(), w.Format(time.RFC3339Nano))
		}
	}
}
