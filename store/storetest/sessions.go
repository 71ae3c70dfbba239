package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

func testSessionCRUD(t *testing.T, s store.Store) {
	ctx := t.Context()
	createUsers(t, s, newUser(1), newUser(2))
	a := newSession(1, userID(1))
	b := newSession(2, userID(1))
	b.ImpersonatorID, b.ReadOnly, b.IP, b.UserAgent = userID(2), true, "", ""
	b.ImpersonationID = "imp_01"
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

			// Counts ignore the page: Before and Limit are set to show it.
			n, err := s.CountSessions(ctx, steward.SessionFilter{UserID: user, Status: status, Now: now,
				Before: all[len(all)/2].ID, Limit: 1})
			must(t, "CountSessions", err)
			if n != int64(len(want)) {
				t.Errorf("%s: CountSessions = %d, want %d", name, n, len(want))
			}

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
