package storetest

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

func tenantID(n int) string     { return fmt.Sprintf("ten_%020d", n) }
func planChangeID(n int) string { return fmt.Sprintf("tpc_%020d", n) }

func newTenant(n int) *steward.Tenant {
	return &steward.Tenant{
		ID:                 tenantID(n),
		Name:               fmt.Sprintf("Tenant %d", n),
		Slug:               fmt.Sprintf("tenant-%d", n),
		Plan:               "free",
		Status:             steward.TenantActive,
		Features:           map[string]any{},
		BillingPeriodStart: at(time.Duration(n) * time.Second),
		CreatedAt:          at(time.Duration(n) * time.Second),
		UpdatedAt:          at(time.Duration(n) * time.Second),
	}
}

func createTenants(t *testing.T, s store.Store, tenants ...*steward.Tenant) {
	t.Helper()
	update(t, s, func(tx store.Tx) error {
		for _, tn := range tenants {
			if err := tx.CreateTenant(t.Context(), tn); err != nil {
				return fmt.Errorf("create %s: %w", tn.ID, err)
			}
		}
		return nil
	})
}

func tenantIDs(list []*steward.Tenant) []string {
	return ids(list, func(tn *steward.Tenant) string { return tn.ID })
}

func getTenant(t *testing.T, q store.Queries, id string) *steward.Tenant {
	t.Helper()
	tn, err := q.GetTenant(t.Context(), id)
	must(t, "GetTenant "+id, err)
	return tn
}

func getUser(t *testing.T, q store.Queries, id string) *steward.User {
	t.Helper()
	u, err := q.GetUser(t.Context(), id)
	must(t, "GetUser "+id, err)
	return u
}

func getSession(t *testing.T, q store.Queries, id string) *steward.Session {
	t.Helper()
	x, err := q.GetSession(t.Context(), id)
	must(t, "GetSession "+id, err)
	return x
}

func holds(t *testing.T, q store.Queries, tenantID string) steward.TenantHoldCounts {
	t.Helper()
	c, err := q.CountTenantHolds(t.Context(), tenantID)
	must(t, "CountTenantHolds", err)
	return c
}

func isDuplicate(t *testing.T, what string, err error, field string) {
	t.Helper()
	var dup *store.DuplicateError
	if !errors.As(err, &dup) || dup.Field != field {
		t.Errorf("%s: err = %v, want DuplicateError{%q}", what, err, field)
	}
}

// fullTenant has every stored field set, and EffectiveLimits, which is not
// stored.
func fullTenant(n int) *steward.Tenant {
	tn := newTenant(n)
	tn.Name, tn.Slug, tn.Plan = `Acme "Rockets" & Co`, "acme-rockets", "enterprise"
	tn.Status = steward.TenantDeleted
	tn.OwnerUserID = userID(1)
	tn.Limits = steward.TenantLimits{MaxUsers: ptr(int64(250)), MaxConcurrentTasks: ptr(int64(0)),
		MaxDailyTasks: ptr(int64(1) << 40)}
	tn.EffectiveLimits = steward.TenantLimits{MaxUsers: ptr(int64(9))}
	tn.Spending = steward.SpendingCaps{MonthlyCap: ptr(int64(1_000_000)), DailyCap: ptr(int64(0)),
		AlertThresholdPercent: 65, UserMonthlyCap: ptr(int64(5000)), UserDailyCap: ptr(int64(0)),
		UserSessionCap: ptr(int64(1) << 40)}
	tn.EffectiveSpending = steward.SpendingCaps{MonthlyCap: ptr(int64(7))}
	tn.Features = map[string]any{
		"sso":    true,
		"seats":  float64(12),
		"none":   nil,
		"nested": map[string]any{"list": []any{"x", float64(1.5), false}, "deep": map[string]any{"k": "ü"}},
	}
	tn.Notes = "line one\nline two, with 'quotes'"
	tn.BillingPeriodStart = at(-15*24*time.Hour + 7*time.Microsecond)
	tn.SuspensionReason = "unpaid invoice"
	tn.SuspendedAt = ptr(at(-time.Hour + time.Microsecond))
	tn.DeletedAt = ptr(at(-time.Minute - 3*time.Microsecond))
	tn.StatusBeforeDelete = steward.TenantSuspended
	tn.CreatedAt = at(-30 * 24 * time.Hour)
	tn.UpdatedAt = at(time.Microsecond)
	return tn
}

// stored is tn as a store reads it back: without EffectiveLimits, and with
// empty features rather than none.
func stored(tn *steward.Tenant) *steward.Tenant {
	c := *tn
	c.EffectiveLimits = steward.TenantLimits{}
	c.EffectiveSpending = steward.SpendingCaps{}
	if c.Features == nil {
		c.Features = map[string]any{}
	}
	return &c
}

func testTenantCreateGet(t *testing.T, s store.Store) {
	ctx := t.Context()
	full := fullTenant(1)
	bare := newTenant(2)
	bare.Features = nil // absent reads back as {}, never null
	createTenants(t, s, full, bare)

	for _, want := range []*steward.Tenant{stored(full), stored(bare)} {
		got, err := s.GetTenant(ctx, want.ID)
		must(t, "GetTenant", err)
		equal(t, "GetTenant", got, want)
		got, err = s.GetTenantBySlug(ctx, want.Slug)
		must(t, "GetTenantBySlug", err)
		equal(t, "GetTenantBySlug", got, want)
	}
	got := getTenant(t, s, bare.ID)
	if got.Features == nil || got.Limits.MaxUsers != nil || got.Limits.MaxConcurrentTasks != nil ||
		got.Limits.MaxDailyTasks != nil || got.Spending.MonthlyCap != nil || got.Spending.DailyCap != nil ||
		got.SuspendedAt != nil || got.DeletedAt != nil {
		t.Errorf("optional fields of a bare tenant = %+v, want unset", got)
	}

	update(t, s, func(tx store.Tx) error {
		got, err := tx.GetTenant(ctx, full.ID)
		if err != nil {
			return fmt.Errorf("GetTenant inside a transaction: %w", err)
		}
		equal(t, "GetTenant inside a transaction", got, stored(full))
		got, err = tx.GetTenantBySlug(ctx, full.Slug)
		if err != nil {
			return fmt.Errorf("GetTenantBySlug inside a transaction: %w", err)
		}
		equal(t, "GetTenantBySlug inside a transaction", got, stored(full))
		_, err = tx.GetTenant(ctx, tenantID(9))
		notFound(t, "GetTenant missing inside a transaction", err)
		return nil
	})

	_, err := s.GetTenant(ctx, tenantID(9))
	notFound(t, "GetTenant missing", err)
	_, err = s.GetTenantBySlug(ctx, "no-such-slug")
	notFound(t, "GetTenantBySlug missing", err)
	_, err = s.GetTenantBySlug(ctx, "")
	notFound(t, "GetTenantBySlug empty", err)

	dupSlug := newTenant(3)
	dupSlug.Slug = full.Slug
	dupID := newTenant(4)
	dupID.ID = bare.ID
	for _, tc := range []struct {
		tn    *steward.Tenant
		field string
	}{{dupSlug, "slug"}, {dupID, "id"}} {
		err := s.Update(ctx, func(tx store.Tx) error { return tx.CreateTenant(ctx, tc.tn) })
		isDuplicate(t, "CreateTenant with a taken "+tc.field, err, tc.field)
	}
	equal(t, "GetTenant after a duplicate", getTenant(t, s, bare.ID), stored(bare))
}

func testTenantUpdate(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := newTenant(1), newTenant(2)
	createTenants(t, s, a, b)

	roundTrip := func(what string, tn *steward.Tenant) {
		t.Helper()
		update(t, s, func(tx store.Tx) error { return tx.UpdateTenant(ctx, tn) })
		equal(t, what, getTenant(t, s, tn.ID), stored(tn))
		got, err := s.GetTenantBySlug(ctx, tn.Slug)
		must(t, what+": GetTenantBySlug", err)
		equal(t, what+": GetTenantBySlug", got, stored(tn))
	}
	// Every column changes, read-modify-write inside one transaction.
	full := fullTenant(1)
	update(t, s, func(tx store.Tx) error {
		if _, err := tx.GetTenant(ctx, a.ID); err != nil {
			return err
		}
		return tx.UpdateTenant(ctx, full)
	})
	equal(t, "every field", getTenant(t, s, a.ID), stored(full))
	_, err := s.GetTenantBySlug(ctx, a.Slug)
	notFound(t, "GetTenantBySlug of the old slug", err)

	// And back: every optional field cleared.
	cleared := newTenant(1)
	cleared.Slug, cleared.Features = "cleared", nil
	roundTrip("everything cleared", cleared)
	// The old slug is free again.
	c := newTenant(3)
	c.Slug = full.Slug
	createTenants(t, s, c)

	err = s.Update(ctx, func(tx store.Tx) error { return tx.UpdateTenant(ctx, newTenant(9)) })
	notFound(t, "UpdateTenant missing", err)
	taken := stored(b)
	taken.Slug = "cleared"
	err = s.Update(ctx, func(tx store.Tx) error { return tx.UpdateTenant(ctx, taken) })
	isDuplicate(t, "UpdateTenant to a taken slug", err, "slug")
	equal(t, "GetTenant after a duplicate slug", getTenant(t, s, b.ID), stored(b))
}

// tenantMatches is the filter semantics every store implements, spelled in
// Go. Case folding is asserted for ASCII letters only.
func tenantMatches(tn *steward.Tenant, f steward.TenantFilter) bool {
	if f.Status != "" && tn.Status != f.Status || f.Plan != "" && tn.Plan != f.Plan {
		return false
	}
	if f.Q != "" {
		q := strings.ToLower(f.Q)
		return tn.ID == f.Q || strings.Contains(strings.ToLower(tn.Name), q) || strings.Contains(tn.Slug, q)
	}
	return true
}

// tenantFixture is 60 tenants (more than a default page) in which every
// filter selects a different set.
func tenantFixture() []*steward.Tenant {
	names := map[int]string{
		3:  "Acme Corp",
		8:  "ACME Labs",
		14: "Globex",
		20: "Initech",
		25: "100% Real_Co",
		33: "Umbrella",
	}
	var list []*steward.Tenant
	for i := 1; i <= 60; i++ {
		tn := newTenant(i)
		tn.Status = []steward.TenantStatus{steward.TenantActive, steward.TenantSuspended, steward.TenantDeleted}[i%3]
		tn.Plan = []string{"free", "pro", "enterprise", "pro"}[i%4]
		if name, ok := names[i]; ok {
			tn.Name = name
		}
		if i%5 == 0 {
			tn.Slug = fmt.Sprintf("org-%02d", i)
		}
		list = append(list, tn)
	}
	return list
}

func testTenantList(t *testing.T, s store.Store) {
	ctx := t.Context()
	all := tenantFixture()
	// Insert out of id order: lists follow ids, not insertion.
	shuffled := slices.Clone(all)
	for i := range shuffled {
		j := (i * 37) % len(shuffled)
		shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
	}
	createTenants(t, s, shuffled...)
	slices.Reverse(all) // newest first

	filters := []struct {
		name string
		f    steward.TenantFilter
		min  int // guards the fixture: a filter that selects nothing proves little
	}{
		{"none", steward.TenantFilter{}, 60},
		{"status", steward.TenantFilter{Status: steward.TenantSuspended}, 20},
		{"plan", steward.TenantFilter{Plan: "pro"}, 30},
		{"plan none", steward.TenantFilter{Plan: "gold"}, 0},
		{"status and plan", steward.TenantFilter{Status: steward.TenantActive, Plan: "enterprise"}, 5},
		{"q name substring any case", steward.TenantFilter{Q: "aCmE"}, 2},
		{"q name substring", steward.TenantFilter{Q: "lobe"}, 1},
		{"q slug substring", steward.TenantFilter{Q: "org-"}, 12},
		{"q slug", steward.TenantFilter{Q: "ant-1"}, 9},
		{"q exact id", steward.TenantFilter{Q: tenantID(17)}, 1},
		{"q id prefix is not a match", steward.TenantFilter{Q: tenantID(17)[:10]}, 0},
		{"q literal percent", steward.TenantFilter{Q: "0%"}, 1},
		{"q literal underscore", steward.TenantFilter{Q: "l_"}, 1},
		{"q lone percent", steward.TenantFilter{Q: "%"}, 1},
		{"q lone underscore", steward.TenantFilter{Q: "_"}, 1},
		{"q backslash", steward.TenantFilter{Q: `\`}, 0},
		{"q no match", steward.TenantFilter{Q: "zzzz"}, 0},
		{"q and status", steward.TenantFilter{Q: "tenant", Status: steward.TenantDeleted}, 10},
		{"everything", steward.TenantFilter{Q: "org", Status: steward.TenantActive, Plan: "free"}, 1},
	}
	for _, tc := range filters {
		var want []string
		for _, tn := range all {
			if tenantMatches(tn, tc.f) {
				want = append(want, tn.ID)
			}
		}
		if len(want) < tc.min {
			t.Fatalf("%s: fixture gives %d matches, want at least %d", tc.name, len(want), tc.min)
		}

		f := tc.f
		f.Limit = 100
		got, err := s.ListTenants(ctx, f)
		must(t, tc.name+": ListTenants", err)
		sameIDs(t, tc.name, tenantIDs(got), want)

		// Counts ignore the page: Before and Limit are set to show it.
		cf := tc.f
		cf.Before, cf.Limit = tenantID(30), 1
		n, err := s.CountTenants(ctx, cf)
		must(t, tc.name+": CountTenants", err)
		if n != int64(len(want)) {
			t.Errorf("%s: CountTenants = %d, want %d", tc.name, n, len(want))
		}

		var paged []string
		f.Limit, f.Before = 7, ""
		for range len(want) + 1 {
			page, err := s.ListTenants(ctx, f)
			must(t, tc.name+": ListTenants page", err)
			paged = append(paged, tenantIDs(page)...)
			if len(page) < f.Limit {
				break
			}
			f.Before = page[len(page)-1].ID
		}
		sameIDs(t, tc.name+" paged by 7", paged, want)
	}

	got, err := s.ListTenants(ctx, steward.TenantFilter{})
	must(t, "ListTenants", err)
	sameIDs(t, "Limit 0 is the default page", tenantIDs(got), tenantIDs(all[:steward.DefaultLimit]))
	for i, tn := range got {
		equal(t, "listed tenant", tn, stored(all[i]))
	}
	got, err = s.ListTenants(ctx, steward.TenantFilter{Before: tenantID(1)})
	must(t, "ListTenants", err)
	sameIDs(t, "before the oldest", tenantIDs(got), nil)
	got, err = s.ListTenants(ctx, steward.TenantFilter{Before: "ten_zzz", Limit: 3})
	must(t, "ListTenants", err)
	sameIDs(t, "before past the newest", tenantIDs(got), tenantIDs(all[:3]))
}

func testTenantMembers(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenants(t, s, newTenant(1), newTenant(2))
	statuses := []steward.UserStatus{steward.StatusActive, steward.StatusActive, steward.StatusSuspended,
		steward.StatusBanned, steward.StatusActive, steward.StatusBanned}
	var users []*steward.User
	for i, st := range statuses {
		u := newUser(i + 1)
		u.TenantID, u.Status = tenantID(1), st
		users = append(users, u)
	}
	other := newUser(20)
	other.TenantID, other.Status = tenantID(2), steward.StatusDeleted
	createUsers(t, s, append(users, other, newUser(21))...)

	for _, tc := range []struct {
		tenant string
		want   map[steward.UserStatus]int64
	}{
		{tenantID(1), map[steward.UserStatus]int64{steward.StatusActive: 3, steward.StatusSuspended: 1, steward.StatusBanned: 2}},
		{tenantID(2), map[steward.UserStatus]int64{steward.StatusDeleted: 1}},
		{tenantID(3), map[steward.UserStatus]int64{}},
	} {
		got, err := s.CountTenantMembers(ctx, tc.tenant)
		must(t, "CountTenantMembers", err)
		equal(t, "CountTenantMembers "+tc.tenant, got, tc.want)
	}
	joined := newUser(22)
	joined.TenantID, joined.Status = tenantID(2), steward.StatusDeleted
	update(t, s, func(tx store.Tx) error {
		if err := tx.CreateUser(ctx, joined); err != nil {
			return err
		}
		got, err := tx.CountTenantMembers(ctx, tenantID(2))
		if err != nil {
			return err
		}
		equal(t, "CountTenantMembers inside the transaction", got, map[steward.UserStatus]int64{steward.StatusDeleted: 2})
		return nil
	})
}

func testTenantPlanChanges(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenants(t, s, newTenant(1), newTenant(2))
	plans := []string{"free", "pro", "enterprise"}
	var changes []*steward.PlanChange
	for n := 1; n <= 8; n++ {
		changes = append(changes, &steward.PlanChange{
			ID:        planChangeID(n),
			TenantID:  tenantID(1 + n%2),
			FromPlan:  plans[n%3],
			ToPlan:    plans[(n+1)%3],
			Prorate:   n%3 == 0,
			ChangedBy: userID(n),
			ChangedAt: at(time.Duration(n)*time.Hour + time.Microsecond),
		})
	}
	// Insert out of id order.
	update(t, s, func(tx store.Tx) error {
		for _, i := range []int{3, 0, 7, 5, 1, 6, 2, 4} {
			if err := tx.InsertPlanChange(ctx, changes[i]); err != nil {
				return err
			}
		}
		return nil
	})
	byTenant := map[string][]*steward.PlanChange{}
	for i := len(changes) - 1; i >= 0; i-- {
		c := changes[i]
		byTenant[c.TenantID] = append(byTenant[c.TenantID], c)
	}
	for _, tenant := range []string{tenantID(1), tenantID(2)} {
		want := byTenant[tenant]
		got, err := s.ListPlanChanges(ctx, tenant, "", 100)
		must(t, "ListPlanChanges", err)
		if len(got) != len(want) {
			t.Fatalf("ListPlanChanges(%s) = %d changes, want %d", tenant, len(got), len(want))
		}
		for i := range got {
			equal(t, "ListPlanChanges "+tenant, got[i], want[i])
		}
		var paged []string
		before := ""
		for range len(want) + 1 {
			page, err := s.ListPlanChanges(ctx, tenant, before, 3)
			must(t, "ListPlanChanges page", err)
			paged = append(paged, ids(page, func(c *steward.PlanChange) string { return c.ID })...)
			if len(page) < 3 {
				break
			}
			before = page[len(page)-1].ID
		}
		sameIDs(t, "ListPlanChanges "+tenant+" paged by 3", paged,
			ids(want, func(c *steward.PlanChange) string { return c.ID }))
	}
	got, err := s.ListPlanChanges(ctx, tenantID(1), "", 0)
	must(t, "ListPlanChanges", err)
	if len(got) != 4 {
		t.Errorf("ListPlanChanges with limit 0 = %d changes, want all 4", len(got))
	}
	got, err = s.ListPlanChanges(ctx, tenantID(3), "", 10)
	must(t, "ListPlanChanges", err)
	if got == nil || len(got) != 0 {
		t.Errorf("ListPlanChanges of a tenant without changes = %#v, want empty", got)
	}
	err = s.Update(ctx, func(tx store.Tx) error {
		c := *changes[0]
		return tx.InsertPlanChange(ctx, &c)
	})
	isDuplicate(t, "InsertPlanChange with a taken id", err, "id")
}

// cascadeFixture is a tenant (1) whose members are in every status and whose
// keys are in every state at t0, beside a second tenant (2) and a user of no
// tenant, each with sessions and keys.
type cascadeFixture struct {
	users    map[string]*steward.User
	sessions map[string]*steward.Session
	keys     map[string]*steward.APIKey
}

func newCascadeFixture(t *testing.T, s store.Store) *cascadeFixture {
	t.Helper()
	f := &cascadeFixture{users: map[string]*steward.User{}, sessions: map[string]*steward.Session{},
		keys: map[string]*steward.APIKey{}}
	createTenants(t, s, newTenant(1), newTenant(2))
	member := func(n int, tenant string, status steward.UserStatus) {
		u := newUser(n)
		u.TenantID, u.TenantRole, u.Status, u.TokenVersion = tenant, steward.TenantMember, status, int64(n)
		switch status {
		case steward.StatusSuspended:
			u.SuspensionReason = "suspended before"
		case steward.StatusBanned:
			u.Ban = &steward.Ban{Reason: "spam", By: userID(99), At: at(-time.Hour)}
		case steward.StatusDeleted:
			u.DeletedAt, u.StatusBeforeDelete = ptr(at(-time.Hour)), steward.StatusActive
		}
		f.users[u.ID] = u
	}
	member(1, tenantID(1), steward.StatusActive)
	member(2, tenantID(1), steward.StatusActive)
	member(3, tenantID(1), steward.StatusSuspended)
	member(4, tenantID(1), steward.StatusBanned)
	member(5, tenantID(1), steward.StatusDeleted)
	member(6, tenantID(1), steward.StatusActive)
	member(7, tenantID(2), steward.StatusActive)
	member(8, tenantID(2), steward.StatusActive)
	member(9, "", steward.StatusActive)
	session := func(n, user int, set func(x *steward.Session)) {
		x := newSession(n, userID(user))
		if set != nil {
			set(x)
		}
		f.sessions[x.ID] = x
	}
	session(1, 1, nil)
	session(2, 1, func(x *steward.Session) { x.ExpiresAt = t0 }) // expired at now
	session(3, 1, func(x *steward.Session) { x.RevokedAt, x.RevokedReason = ptr(at(-time.Minute)), "logout" })
	session(4, 2, nil)
	session(5, 3, nil) // suspended before: not the cascade's
	session(6, 6, func(x *steward.Session) { x.ExpiresAt = at(time.Microsecond) })
	session(7, 7, nil) // the other tenant
	session(8, 9, nil) // no tenant
	key := func(n, user int, tenant string, set func(k *steward.APIKey)) {
		k := newKey(n, userID(user))
		k.TenantID = tenant
		if set != nil {
			set(k)
		}
		f.keys[k.ID] = k
	}
	t1 := tenantID(1)
	key(1, 1, t1, func(k *steward.APIKey) { k.ExpiresAt = ptr(at(time.Microsecond)) }) // live
	key(2, 1, t1, func(k *steward.APIKey) { k.Status, k.RevokedAt = steward.KeyRevoked, ptr(at(-time.Hour)) })
	key(3, 1, t1, func(k *steward.APIKey) { k.RevokedAt = ptr(at(time.Hour)) }) // revocation to come: live
	key(4, 1, t1, func(k *steward.APIKey) { k.RevokedAt = ptr(t0) })            // revocation come at now
	key(5, 2, t1, func(k *steward.APIKey) { k.ExpiresAt = ptr(t0) })            // expired at now
	key(6, 2, t1, func(k *steward.APIKey) { k.Status = steward.KeyDisabled })   // disabled before
	key(7, 9, t1, nil)                                                          // live, owned outside the tenant
	key(8, 1, t1, nil)                                                          // live
	key(9, 2, t1, nil)                                                          // live
	key(10, 7, tenantID(2), nil)                                                // the other tenant
	key(11, 1, "", nil)                                                         // a member's key of no tenant
	key(12, 3, t1, nil)                                                         // live, of a member suspended before
	createUsers(t, s, sortedValues(f.users)...)
	createSessions(t, s, sortedValues(f.sessions)...)
	createKeys(t, s, sortedValues(f.keys)...)
	return f
}

// sortedValues returns m's values in the order of their keys.
func sortedValues[T any](m map[string]*T) []*T {
	var out []*T
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, m[k])
	}
	return out
}

// check compares every row of the fixture with what the store holds.
func (f *cascadeFixture) check(t *testing.T, what string, q store.Queries) {
	t.Helper()
	for _, u := range sortedValues(f.users) {
		equal(t, what+": user "+u.ID, getUser(t, q, u.ID), u)
	}
	for _, x := range sortedValues(f.sessions) {
		equal(t, what+": session "+x.ID, getSession(t, q, x.ID), x)
	}
	for _, k := range sortedValues(f.keys) {
		equal(t, what+": key "+k.ID, getKey(t, q, k.ID), k)
	}
}

func testTenantCascade(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := newCascadeFixture(t, s)
	f.check(t, "fixture", s)
	now := t0
	const reason = "tenant suspended"

	var nUsers, nSessions, nKeys int64
	update(t, s, func(tx store.Tx) (err error) {
		if nUsers, err = tx.HoldTenantUsers(ctx, tenantID(1), reason, now); err != nil {
			return err
		}
		if nSessions, err = tx.RevokeHeldSessions(ctx, tenantID(1), now, reason); err != nil {
			return err
		}
		if nKeys, err = tx.HoldTenantKeys(ctx, tenantID(1), now); err != nil {
			return err
		}
		equal(t, "CountTenantHolds inside the transaction", holds(t, tx, tenantID(1)),
			steward.TenantHoldCounts{Users: 3, APIKeys: 6})
		return nil
	})
	if nUsers != 3 || nSessions != 3 || nKeys != 6 {
		t.Errorf("cascade moved %d users, %d sessions, %d keys; want 3, 3, 6", nUsers, nSessions, nKeys)
	}
	for _, n := range []int{1, 2, 6} {
		u := f.users[userID(n)]
		u.Status, u.SuspensionReason, u.TokenVersion, u.UpdatedAt = steward.StatusSuspended, reason, u.TokenVersion+1, now
	}
	for _, n := range []int{1, 4, 6} {
		x := f.sessions[sessionID(n)]
		x.RevokedAt, x.RevokedReason = &now, reason
	}
	for _, n := range []int{1, 3, 7, 8, 9, 12} {
		k := f.keys[keyID(n)]
		k.Status, k.UpdatedAt = steward.KeyDisabled, now
	}
	f.check(t, "after the cascade", s)
	equal(t, "CountTenantHolds", holds(t, s, tenantID(1)), steward.TenantHoldCounts{Users: 3, APIKeys: 6})
	equal(t, "CountTenantHolds of the other tenant", holds(t, s, tenantID(2)), steward.TenantHoldCounts{})

	// A second cascade finds nothing left to move.
	update(t, s, func(tx store.Tx) (err error) {
		if nUsers, err = tx.HoldTenantUsers(ctx, tenantID(1), "again", at(time.Hour)); err != nil {
			return err
		}
		if nSessions, err = tx.RevokeHeldSessions(ctx, tenantID(1), at(time.Hour), "again"); err != nil {
			return err
		}
		nKeys, err = tx.HoldTenantKeys(ctx, tenantID(1), at(time.Hour))
		return err
	})
	if nUsers != 0 || nSessions != 0 || nKeys != 0 {
		t.Errorf("second cascade moved %d users, %d sessions, %d keys; want none", nUsers, nSessions, nKeys)
	}
	f.check(t, "after a second cascade", s)

	// Meanwhile an operator bans a held user and revokes a held key, and a
	// user joins and is suspended by the tenant (held twice: a no-op).
	later := at(time.Minute)
	banned := f.users[userID(6)]
	banned.Status, banned.Ban, banned.UpdatedAt = steward.StatusBanned, &steward.Ban{Reason: "abuse", By: userID(99), At: later}, later
	revoked := f.keys[keyID(8)]
	revoked.Status, revoked.RevokedAt, revoked.RevokedReason, revoked.UpdatedAt = steward.KeyRevoked, &later, "leaked", later
	joined := newUser(10)
	joined.TenantID, joined.Status, joined.SuspensionReason = tenantID(1), steward.StatusSuspended, reason
	f.users[joined.ID] = joined
	update(t, s, func(tx store.Tx) error {
		if err := tx.UpdateUser(ctx, banned); err != nil {
			return err
		}
		if err := tx.UpdateAPIKey(ctx, revoked); err != nil {
			return err
		}
		if err := tx.CreateUser(ctx, joined); err != nil {
			return err
		}
		for range 2 {
			if err := tx.HoldUser(ctx, tenantID(1), joined.ID); err != nil {
				return err
			}
		}
		return nil
	})
	update(t, s, func(tx store.Tx) error { return tx.HoldUser(ctx, tenantID(1), joined.ID) })
	equal(t, "CountTenantHolds after HoldUser", holds(t, s, tenantID(1)), steward.TenantHoldCounts{Users: 4, APIKeys: 6})

	// Purging a held user drops its hold, and its held key's.
	purged := newUser(11)
	purged.TenantID = tenantID(1)
	createUsers(t, s, purged)
	purgedKey := newKey(13, purged.ID)
	purgedKey.TenantID = tenantID(1)
	createKeys(t, s, purgedKey)
	update(t, s, func(tx store.Tx) error {
		if _, err := tx.HoldTenantUsers(ctx, tenantID(1), reason, later); err != nil {
			return err
		}
		_, err := tx.HoldTenantKeys(ctx, tenantID(1), later)
		return err
	})
	equal(t, "CountTenantHolds with one more held user and key", holds(t, s, tenantID(1)),
		steward.TenantHoldCounts{Users: 5, APIKeys: 7})
	update(t, s, func(tx store.Tx) error { return tx.PurgeUser(ctx, purged.ID) })
	equal(t, "CountTenantHolds after PurgeUser", holds(t, s, tenantID(1)), steward.TenantHoldCounts{Users: 4, APIKeys: 6})
	f.check(t, "before release", s)

	// Release restores exactly the rows still in the held state.
	release := at(2 * time.Hour)
	var rUsers, rKeys int64
	update(t, s, func(tx store.Tx) (err error) {
		rUsers, rKeys, err = tx.ReleaseTenant(ctx, tenantID(1), release)
		return err
	})
	if rUsers != 3 || rKeys != 5 {
		t.Errorf("ReleaseTenant = %d users, %d keys; want 3, 5", rUsers, rKeys)
	}
	for _, n := range []int{1, 2, 10} {
		u := f.users[userID(n)]
		u.Status, u.SuspensionReason, u.UpdatedAt = steward.StatusActive, "", release
	}
	for _, n := range []int{1, 3, 7, 9, 12} {
		k := f.keys[keyID(n)]
		k.Status, k.UpdatedAt = steward.KeyActive, release
	}
	f.check(t, "after release", s)
	equal(t, "CountTenantHolds after release", holds(t, s, tenantID(1)), steward.TenantHoldCounts{})

	update(t, s, func(tx store.Tx) (err error) {
		rUsers, rKeys, err = tx.ReleaseTenant(ctx, tenantID(1), at(3*time.Hour))
		return err
	})
	if rUsers != 0 || rKeys != 0 {
		t.Errorf("second ReleaseTenant = %d users, %d keys; want none", rUsers, rKeys)
	}
	f.check(t, "after a second release", s)
}

// A cascade inside a transaction that fails leaves nothing changed.
func testTenantRollback(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := newCascadeFixture(t, s)
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateTenant(ctx, newTenant(3)); err != nil {
			return err
		}
		tn, err := tx.GetTenant(ctx, tenantID(1))
		if err != nil {
			return err
		}
		tn.Status, tn.SuspendedAt = steward.TenantSuspended, ptr(t0)
		if err := tx.UpdateTenant(ctx, tn); err != nil {
			return err
		}
		if err := tx.InsertPlanChange(ctx, &steward.PlanChange{ID: planChangeID(1), TenantID: tenantID(1),
			FromPlan: "free", ToPlan: "pro", ChangedAt: t0}); err != nil {
			return err
		}
		if _, err := tx.HoldTenantUsers(ctx, tenantID(1), "x", t0); err != nil {
			return err
		}
		if _, err := tx.RevokeHeldSessions(ctx, tenantID(1), t0, "x"); err != nil {
			return err
		}
		if _, err := tx.HoldTenantKeys(ctx, tenantID(1), t0); err != nil {
			return err
		}
		if err := tx.HoldUser(ctx, tenantID(1), userID(3)); err != nil {
			return err
		}
		return fmt.Errorf("wrapped: %w", boom)
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want the error fn returned", err)
	}
	f.check(t, "after a rolled back cascade", s)
	equal(t, "tenant after rollback", getTenant(t, s, tenantID(1)), stored(newTenant(1)))
	_, err = s.GetTenant(ctx, tenantID(3))
	notFound(t, "tenant created in a rolled back transaction", err)
	equal(t, "CountTenantHolds after rollback", holds(t, s, tenantID(1)), steward.TenantHoldCounts{})
	changes, err := s.ListPlanChanges(ctx, tenantID(1), "", 10)
	must(t, "ListPlanChanges", err)
	if len(changes) != 0 {
		t.Errorf("plan changes after rollback = %d, want 0", len(changes))
	}

	// A purge that fails leaves everything too.
	update(t, s, func(tx store.Tx) error {
		_, err := tx.HoldTenantUsers(ctx, tenantID(1), "held", t0)
		return err
	})
	err = s.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.PurgeTenant(ctx, tenantID(1)); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want the error fn returned", err)
	}
	equal(t, "CountTenantHolds after a rolled back purge", holds(t, s, tenantID(1)), steward.TenantHoldCounts{Users: 3})
	for _, n := range []int{1, 2, 6} {
		u := f.users[userID(n)]
		u.Status, u.SuspensionReason, u.TokenVersion, u.UpdatedAt = steward.StatusSuspended, "held", u.TokenVersion+1, t0
	}
	f.check(t, "after a rolled back purge", s)
}

// Verification reads the status of the owner's tenant with the key.
func testTenantVerifyStatus(t *testing.T, s store.Store) {
	ctx := t.Context()
	suspended := newTenant(1)
	suspended.Status = steward.TenantSuspended
	createTenants(t, s, suspended, newTenant(2))
	for n, tenant := range map[int]string{1: tenantID(1), 2: tenantID(2), 3: "", 4: "ten_without_a_row"} {
		u := newUser(n)
		u.TenantID = tenant
		createUsers(t, s, u)
		// The key's own tenant_id does not matter: the owner's does.
		k := newKey(n, u.ID)
		k.TenantID = tenantID(2)
		createKeys(t, s, k)
	}
	for n, want := range map[int]steward.TenantStatus{1: steward.TenantSuspended, 2: steward.TenantActive, 3: "", 4: ""} {
		_, o, err := s.GetAPIKeyForVerify(ctx, newKey(n, userID(n)).SecretHash)
		must(t, "GetAPIKeyForVerify", err)
		if o == nil || o.TenantStatus != want {
			t.Errorf("owner %d: %+v, want TenantStatus %q", n, o, want)
			continue
		}
		if active := o.IsActive(t0); active != (want != steward.TenantSuspended) {
			t.Errorf("owner %d in a %q tenant: IsActive = %v", n, want, active)
		}
	}
	update(t, s, func(tx store.Tx) error {
		tn, err := tx.GetTenant(ctx, tenantID(1))
		if err != nil {
			return err
		}
		tn.Status = steward.TenantActive
		return tx.UpdateTenant(ctx, tn)
	})
	_, o, err := s.GetAPIKeyForVerify(ctx, newKey(1, userID(1)).SecretHash)
	must(t, "GetAPIKeyForVerify", err)
	if o == nil || o.TenantStatus != steward.TenantActive {
		t.Errorf("owner after the tenant's unsuspension: %+v, want TenantStatus active", o)
	}
}

func testTenantPurge(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := newCascadeFixture(t, s)
	// Names, tags and a key of another tenant owned by a member.
	named := f.users[userID(2)]
	named.Name, named.Tags, named.Username = "Purgeable Person", []string{"doomed"}, "purgeable"
	update(t, s, func(tx store.Tx) error { return tx.UpdateUser(ctx, named) })
	crossKey := newKey(20, userID(2))
	crossKey.TenantID = tenantID(2)
	createKeys(t, s, crossKey)
	otherKey := newKey(21, userID(9))
	createKeys(t, s, otherKey)
	f.keys[otherKey.ID] = otherKey
	update(t, s, func(tx store.Tx) error {
		for n, tenant := range map[int]int{1: 1, 2: 2, 3: 1} {
			if err := tx.InsertPlanChange(ctx, &steward.PlanChange{ID: planChangeID(n), TenantID: tenantID(tenant),
				FromPlan: "free", ToPlan: "pro", ChangedAt: t0}); err != nil {
				return err
			}
		}
		// Both tenants suspended: each holds its own rows.
		for _, tenant := range []string{tenantID(1), tenantID(2)} {
			if _, err := tx.HoldTenantUsers(ctx, tenant, "held", t0); err != nil {
				return err
			}
			if _, err := tx.HoldTenantKeys(ctx, tenant, t0); err != nil {
				return err
			}
		}
		return nil
	})
	appendAudit(t, s, &steward.AuditEntry{ID: auditID(1), Time: t0, Action: "tenant.suspend",
		TargetType: "tenant", TargetID: tenantID(1), TenantID: tenantID(1)})
	// Tenant 2 holds its members 7 and 8, its key 10 and the member's key 20.
	equal(t, "holds of the other tenant before purge", holds(t, s, tenantID(2)),
		steward.TenantHoldCounts{Users: 2, APIKeys: 2})
	// What stays: the rows of tenant 2, and of the user of no tenant (less
	// the key with tenant 1's id), as they are now.
	keep := &cascadeFixture{users: map[string]*steward.User{}, sessions: map[string]*steward.Session{},
		keys: map[string]*steward.APIKey{}}
	for _, n := range []int{7, 8, 9} {
		keep.users[userID(n)] = getUser(t, s, userID(n))
	}
	for _, n := range []int{7, 8} {
		keep.sessions[sessionID(n)] = getSession(t, s, sessionID(n))
	}
	for _, id := range []string{keyID(10), otherKey.ID} {
		keep.keys[id] = getKey(t, s, id)
	}

	var c steward.TenantPurgeCounts
	update(t, s, func(tx store.Tx) (err error) {
		c, err = tx.PurgeTenant(ctx, tenantID(1))
		return err
	})
	// Users 1-6; their sessions 1-6; keys 1-9, 12 (tenant 1), 11 (no
	// tenant) and 20 (tenant 2) of members, 7 of the outsider.
	want := steward.TenantPurgeCounts{Users: 6, Sessions: 6, APIKeys: 12, PlanChanges: 2}
	equal(t, "PurgeTenant counts", c, want)

	_, err := s.GetTenant(ctx, tenantID(1))
	notFound(t, "GetTenant after purge", err)
	for n := 1; n <= 6; n++ {
		_, err := s.GetUser(ctx, userID(n))
		notFound(t, "GetUser of a member after purge", err)
		_, err = s.GetSession(ctx, sessionID(n))
		notFound(t, "GetSession of a member after purge", err)
	}
	for _, n := range []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 20} {
		_, err := s.GetAPIKey(ctx, keyID(n))
		notFound(t, fmt.Sprintf("GetAPIKey %d after purge", n), err)
	}
	keys, err := s.ListAPIKeys(ctx, steward.KeyFilter{TenantID: tenantID(1)})
	must(t, "ListAPIKeys", err)
	sameIDs(t, "keys of the purged tenant", keyIDs(keys), nil)
	members, err := s.CountTenantMembers(ctx, tenantID(1))
	must(t, "CountTenantMembers", err)
	equal(t, "members after purge", members, map[steward.UserStatus]int64{})
	equal(t, "holds after purge", holds(t, s, tenantID(1)), steward.TenantHoldCounts{})
	changes, err := s.ListPlanChanges(ctx, tenantID(1), "", 10)
	must(t, "ListPlanChanges", err)
	if len(changes) != 0 {
		t.Errorf("plan changes after purge = %d, want 0", len(changes))
	}
	for _, uf := range []steward.UserFilter{{Tag: "doomed"}, {Q: "purgeable"}, {Q: "pu"}, {TenantID: tenantID(1)}} {
		users, err := s.ListUsers(ctx, uf)
		must(t, "ListUsers", err)
		sameIDs(t, fmt.Sprintf("ListUsers(%+v) after purge", uf), userIDs(users), nil)
	}
	entries, err := s.ListAudit(ctx, steward.AuditFilter{TenantID: tenantID(1)})
	must(t, "ListAudit", err)
	if len(entries) != 1 {
		t.Errorf("audit entries of a purged tenant = %d, want 1 (the log outlives tenants)", len(entries))
	}

	// The rest is untouched.
	keep.check(t, "after purge", s)
	equal(t, "the other tenant", getTenant(t, s, tenantID(2)), stored(newTenant(2)))
	// Key 20 went with its owner, and its hold with it.
	equal(t, "holds of the other tenant", holds(t, s, tenantID(2)), steward.TenantHoldCounts{Users: 2, APIKeys: 1})
	changes, err = s.ListPlanChanges(ctx, tenantID(2), "", 10)
	must(t, "ListPlanChanges", err)
	sameIDs(t, "plan changes of the other tenant", ids(changes, func(c *steward.PlanChange) string { return c.ID }),
		[]string{planChangeID(2)})
	n, err := s.CountUsers(ctx, steward.UserFilter{})
	must(t, "CountUsers", err)
	if n != 3 {
		t.Errorf("CountUsers after purge = %d, want 3", n)
	}
	// The slug and the email addresses are free again.
	createTenants(t, s, newTenant(1))
	createUsers(t, s, newUser(1))

	err = s.Update(ctx, func(tx store.Tx) error {
		_, err := tx.PurgeTenant(ctx, tenantID(9))
		return err
	})
	notFound(t, "PurgeTenant missing", err)
	// Without its tenant row, the purge deletes nothing, even where users
	// name the tenant and the caller goes on to commit.
	ghost := newUser(30)
	ghost.TenantID = "ten_ghost"
	createUsers(t, s, ghost)
	update(t, s, func(tx store.Tx) error {
		c, err := tx.PurgeTenant(ctx, "ten_ghost")
		notFound(t, "PurgeTenant without a tenant row", err)
		equal(t, "PurgeTenant counts without a tenant row", c, steward.TenantPurgeCounts{})
		return nil
	})
	equal(t, "a user of a tenant without a row", getUser(t, s, ghost.ID), ghost)
}
