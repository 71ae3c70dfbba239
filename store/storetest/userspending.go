package storetest

import (
	"errors"
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// testUserSpending: a user's own caps round-trip (all nil deletes the row,
// and a purged user's caps go with it); spend counters and session spend
// are upserts read back exactly, per tenant; ListSpendingTenants lists the
// tenants not deleted with their accounts.
func testUserSpending(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := newUser(1)
	createUsers(t, s, u)
	t1, t2, gone := newTenant(1), newTenant(2), newTenant(3)
	gone.Status = steward.TenantDeleted
	createTenants(t, s, t1, t2, gone)

	caps, err := s.GetUserCaps(ctx, u.ID)
	must(t, "GetUserCaps", err)
	equal(t, "caps of a user without any", caps, steward.UserCaps{})
	want := steward.UserCaps{MonthlyCap: ptr(int64(1) << 40), DailyCap: ptr(int64(0))}
	update(t, s, func(tx store.Tx) error { return tx.SetUserCaps(ctx, u.ID, want, at(0)) })
	caps, err = s.GetUserCaps(ctx, u.ID)
	must(t, "GetUserCaps", err)
	equal(t, "caps", caps, want)
	want = steward.UserCaps{SessionCap: ptr(int64(3))}
	update(t, s, func(tx store.Tx) error { return tx.SetUserCaps(ctx, u.ID, want, at(1)) })
	caps, _ = s.GetUserCaps(ctx, u.ID)
	equal(t, "caps replaced", caps, want)

	if _, err := s.GetUserSpend(ctx, t1.ID, u.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetUserSpend before any: %v, want ErrNotFound", err)
	}
	c1 := &steward.UserSpendCounter{TenantID: t1.ID, UserID: u.ID, DayStart: at(0), DaySpent: 4,
		MonthStart: at(-3 * 24 * 3600e9), MonthSpent: 1 << 40}
	c2 := &steward.UserSpendCounter{TenantID: t2.ID, UserID: u.ID, DayStart: at(0), DaySpent: 1, MonthStart: at(0), MonthSpent: 1}
	update(t, s, func(tx store.Tx) error {
		for _, c := range []*steward.UserSpendCounter{c1, c2} {
			if err := tx.PutUserSpend(ctx, c); err != nil {
				return err
			}
		}
		return tx.PutSessionSpend(ctx, t1.ID, u.ID, "ses-a", 7, at(0))
	})
	c1.DaySpent, c1.DayStart = 9, at(24*3600e9)
	update(t, s, func(tx store.Tx) error {
		// Read inside a transaction (locking the row), then replaced.
		if _, err := tx.GetUserSpend(ctx, t1.ID, u.ID); err != nil {
			return err
		}
		if err := tx.PutUserSpend(ctx, c1); err != nil {
			return err
		}
		return tx.PutSessionSpend(ctx, t1.ID, u.ID, "ses-a", 8, at(1))
	})
	for _, c := range []*steward.UserSpendCounter{c1, c2} {
		got, err := s.GetUserSpend(ctx, c.TenantID, c.UserID)
		must(t, "GetUserSpend", err)
		equal(t, "spend of "+c.TenantID, got, c)
	}
	for _, x := range []struct {
		tenant, session string
		want            int64
	}{{t1.ID, "ses-a", 8}, {t2.ID, "ses-a", 0}, {t1.ID, "ses-b", 0}} {
		n, err := s.GetSessionSpend(ctx, x.tenant, u.ID, x.session)
		must(t, "GetSessionSpend", err)
		if n != x.want {
			t.Errorf("session spend %s/%s = %d, want %d", x.tenant, x.session, n, x.want)
		}
	}

	list, err := s.ListSpendingTenants(ctx)
	must(t, "ListSpendingTenants", err)
	if len(list) != 2 || list[0].Tenant.ID != t1.ID || list[1].Tenant.ID != t2.ID {
		t.Fatalf("ListSpendingTenants = %+v, want %s and %s", list, t1.ID, t2.ID)
	}

	update(t, s, func(tx store.Tx) error { return tx.PurgeUser(ctx, u.ID) })
	caps, err = s.GetUserCaps(ctx, u.ID)
	must(t, "GetUserCaps after purge", err)
	equal(t, "caps of a purged user", caps, steward.UserCaps{})
}
