package storetest

import (
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

func newImpersonation(n int, user, operator string, started time.Time) *steward.Impersonation {
	return &steward.Impersonation{ID: idOf("imp", n), UserID: user, OperatorID: operator,
		SessionID: sessionID(n), TenantID: "ten_1", Reason: "ticket 42", ReadOnly: true,
		OperatorTokenVersion: 3, StartedAt: started, ExpiresAt: started.Add(15 * time.Minute)}
}

func idOf(prefix string, n int) string { return prefix + "_" + string(rune('a'+n)) }

func testImpersonations(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := newImpersonation(1, userID(1), userID(9), t0)
	b := newImpersonation(2, userID(2), userID(9), t0)
	b.ReadOnly, b.ExpiresAt = false, t0.Add(time.Hour)
	c := newImpersonation(3, userID(1), userID(8), t0)
	c.EndedAt, c.EndedBy = ptr(at(time.Minute)), userID(8)
	update(t, s, func(tx store.Tx) error {
		for _, m := range []*steward.Impersonation{a, b, c} {
			if err := tx.CreateImpersonation(ctx, m); err != nil {
				return err
			}
		}
		return nil
	})
	for _, want := range []*steward.Impersonation{a, b, c} {
		got, err := s.GetImpersonation(ctx, want.ID)
		must(t, "GetImpersonation", err)
		equal(t, "GetImpersonation", got, want)
	}
	_, err := s.GetImpersonation(ctx, "imp_missing")
	notFound(t, "GetImpersonation missing", err)

	ids := func(list []*steward.Impersonation, err error) []string {
		t.Helper()
		must(t, "ListImpersonations", err)
		out := []string{}
		for _, m := range list {
			out = append(out, m.ID)
		}
		return out
	}
	yes, no := true, false
	now := t0.Add(20 * time.Minute) // a has run out, b has not, c was stopped
	for _, tc := range []struct {
		name string
		f    steward.ImpersonationFilter
		want []string
	}{
		{"all", steward.ImpersonationFilter{Limit: 10}, []string{c.ID, b.ID, a.ID}},
		{"active", steward.ImpersonationFilter{Active: &yes, Now: now, Limit: 10}, []string{b.ID}},
		{"inactive", steward.ImpersonationFilter{Active: &no, Now: now, Limit: 10}, []string{c.ID, a.ID}},
		{"user", steward.ImpersonationFilter{UserID: userID(1), Limit: 10}, []string{c.ID, a.ID}},
		{"operator", steward.ImpersonationFilter{OperatorID: userID(9), Limit: 10}, []string{b.ID, a.ID}},
		{"page", steward.ImpersonationFilter{Before: c.ID, Limit: 1}, []string{b.ID}},
	} {
		got := ids(s.ListImpersonations(ctx, tc.f))
		equal(t, "ListImpersonations "+tc.name, got, tc.want)
	}
	lapsed := ids(s.ListImpersonationsLapsed(ctx, t0.Add(15*time.Minute), 10))
	equal(t, "ListImpersonationsLapsed at the instant", lapsed, []string{a.ID})
	lapsed = ids(s.ListImpersonationsLapsed(ctx, t0.Add(15*time.Minute-time.Microsecond), 10))
	equal(t, "ListImpersonationsLapsed before", lapsed, []string{})

	a.EndedAt, a.EndedBy = ptr(at(15*time.Minute)), steward.ImpersonationEndedExpired
	update(t, s, func(tx store.Tx) error { return tx.UpdateImpersonation(ctx, a) })
	got, err := s.GetImpersonation(ctx, a.ID)
	must(t, "GetImpersonation", err)
	equal(t, "GetImpersonation after update", got, a)
	err = s.Update(ctx, func(tx store.Tx) error {
		return tx.UpdateImpersonation(ctx, newImpersonation(7, userID(1), userID(9), t0))
	})
	notFound(t, "UpdateImpersonation missing", err)
}

// testEndImpersonations: each filter ends only the open impersonations it
// matches, returns them ended, and leaves ended and run-out ones alone.
func testEndImpersonations(t *testing.T, s store.Store) {
	ctx := t.Context()
	byUser := newImpersonation(1, userID(1), userID(9), t0)
	byOp := newImpersonation(2, userID(2), userID(8), t0)
	bySess := newImpersonation(3, userID(3), userID(7), t0)
	byTenant := newImpersonation(4, userID(4), userID(7), t0)
	byTenant.TenantID = "ten_2"
	stopped := newImpersonation(5, userID(1), userID(9), t0)
	stopped.EndedAt, stopped.EndedBy = ptr(at(time.Minute)), userID(9)
	ranOut := newImpersonation(6, userID(1), userID(8), t0)
	ranOut.ExpiresAt = t0.Add(time.Minute)
	all := []*steward.Impersonation{byUser, byOp, bySess, byTenant, stopped, ranOut}
	update(t, s, func(tx store.Tx) error {
		for _, m := range all {
			if err := tx.CreateImpersonation(ctx, m); err != nil {
				return err
			}
		}
		return nil
	})
	now := t0.Add(2 * time.Minute)
	end := func(f store.ImpersonationEnd, why string) []*steward.Impersonation {
		t.Helper()
		var out []*steward.Impersonation
		update(t, s, func(tx store.Tx) (err error) {
			out, err = tx.EndImpersonations(ctx, f, now, why)
			return err
		})
		return out
	}
	for _, tc := range []struct {
		f    store.ImpersonationEnd
		why  string
		want *steward.Impersonation
	}{
		{store.ImpersonationEnd{UserID: userID(1)}, "user.suspend", byUser},
		{store.ImpersonationEnd{OperatorID: userID(8)}, "operator.ban", byOp},
		{store.ImpersonationEnd{SessionID: bySess.SessionID}, "logout", bySess},
		{store.ImpersonationEnd{TenantID: "ten_2"}, "tenant.suspend", byTenant},
	} {
		tc.want.EndedAt, tc.want.EndedBy = &now, tc.why
		equal(t, "EndImpersonations "+tc.why, end(tc.f, tc.why), []*steward.Impersonation{tc.want})
		equal(t, "EndImpersonations again "+tc.why, len(end(tc.f, tc.why)), 0)
	}
	for _, want := range all {
		got, err := s.GetImpersonation(ctx, want.ID)
		must(t, "GetImpersonation", err)
		equal(t, "GetImpersonation after EndImpersonations", got, want)
	}
}
