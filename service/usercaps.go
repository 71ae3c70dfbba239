package service

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// Per-user spending caps. A user's caps resolve user → tenant (the tenant's
// spending.user_* defaults) → platform (spending.user_* of /admin/config).
// A deduct or a usage event naming a user counts its credits in the user's
// month, day and session counters, written in the ledger's transaction: the
// transaction holds the tenant's account lock (taken in tenant id order by
// the ledger batch), so every writer of a tenant's user counters waits for
// the one before it, on both stores, and the counters are exact.

// UserSpending implements steward.UserSpendingService:
// GET|PUT /admin/users/{id}/spending.
type UserSpending struct{ *core }

var _ steward.UserSpendingService = (*UserSpending)(nil)

// userKey names one user's counters in one tenant.
type userKey struct{ tenant, user string }

// userLedger is one user's spend inside a ledger transaction.
type userLedger struct {
	caps     steward.UserCaps // the user's own
	counter  steward.UserSpendCounter
	sessions map[string]int64 // session id → spent, as read or written
}

// platform returns the platform defaults, read once per transaction.
func (lk *ledgerLocks) platform(ctx context.Context) (*platformDefaults, error) {
	if lk.defaults == nil {
		d, err := loadPlatformDefaults(ctx, lk.tx)
		if err != nil {
			return nil, err
		}
		lk.defaults = d
	}
	return lk.defaults, nil
}

// userLedger reads uid's caps and counters in tl's tenant once per
// transaction.
func (lk *ledgerLocks) userLedger(ctx context.Context, tl *tenantLedger, uid string) (*userLedger, error) {
	k := userKey{tl.tenant.ID, uid}
	if ul, ok := lk.users[k]; ok {
		return ul, nil
	}
	caps, err := lk.tx.GetUserCaps(ctx, uid)
	if err != nil {
		return nil, err
	}
	c, err := lk.tx.GetUserSpend(ctx, tl.tenant.ID, uid)
	switch {
	case errors.Is(err, store.ErrNotFound):
		c = &steward.UserSpendCounter{TenantID: tl.tenant.ID, UserID: uid}
	case err != nil:
		return nil, err
	}
	ul := &userLedger{caps: caps, counter: *c, sessions: map[string]int64{}}
	if lk.users == nil {
		lk.users = map[userKey]*userLedger{}
	}
	lk.users[k] = ul
	return ul, nil
}

// rolled is c as of now: a counter of an earlier day or billing period
// starts again from 0.
func rolled(c steward.UserSpendCounter, t *steward.Tenant, now time.Time) steward.UserSpendCounter {
	if day := now.Truncate(24 * time.Hour); !c.DayStart.Equal(day) {
		c.DayStart, c.DaySpent = day, 0
	}
	if month, _ := t.PeriodAt(now); !c.MonthStart.Equal(month) {
		c.MonthStart, c.MonthSpent = month, 0
	}
	return c
}

// effectiveUserCaps resolves own over the tenant's defaults (t may be nil:
// a user in no tenant) over the platform's, naming each cap's tier.
func effectiveUserCaps(own steward.UserCaps, t *steward.Tenant, d *platformDefaults) (steward.UserCaps, map[string]string) {
	var tm, td, ts *int64
	if t != nil {
		tm, td, ts = t.Spending.UserMonthlyCap, t.Spending.UserDailyCap, t.Spending.UserSessionCap
	}
	explain := map[string]string{}
	pick := func(name string, tiers ...*int64) *int64 {
		for i, v := range tiers {
			if v != nil {
				explain[name] = [...]string{"user", "tenant", "platform"}[i]
				return v
			}
		}
		explain[name] = "none"
		return nil
	}
	p := d.Spending
	return steward.UserCaps{
		MonthlyCap: pick("monthly_cap", own.MonthlyCap, tm, p.UserMonthlyCap),
		DailyCap:   pick("daily_cap", own.DailyCap, td, p.UserDailyCap),
		SessionCap: pick("session_cap", own.SessionCap, ts, p.UserSessionCap),
	}, explain
}

// deductFor is deduct (capped) that, when uid is set, also checks and
// counts the user's caps: every check runs before anything is written, so
// a refusal leaves nothing behind. sid counts toward the session cap.
func (lk *ledgerLocks) deductFor(ctx context.Context, tl *tenantLedger, e *steward.LedgerEntry, amount int64, uid, sid string) error {
	if uid == "" {
		return lk.deduct(ctx, tl, e, amount, true)
	}
	d, err := lk.platform(ctx)
	if err != nil {
		return err
	}
	ul, err := lk.userLedger(ctx, tl, uid)
	if err != nil {
		return err
	}
	now := lk.s.now()
	next := rolled(ul.counter, tl.tenant, now)
	var session int64
	if sid != "" {
		var ok bool
		if session, ok = ul.sessions[sid]; !ok {
			if session, err = lk.tx.GetSessionSpend(ctx, tl.tenant.ID, uid, sid); err != nil {
				return err
			}
		}
	}
	eff, tiers := effectiveUserCaps(ul.caps, tl.tenant, d)
	checks := []struct {
		name, key string
		limit     *int64
		spent     int64
	}{{"daily", "daily_cap", eff.DailyCap, next.DaySpent}, {"monthly", "monthly_cap", eff.MonthlyCap, next.MonthSpent}}
	if sid != "" {
		checks = append(checks, struct {
			name, key string
			limit     *int64
			spent     int64
		}{"session", "session_cap", eff.SessionCap, session})
	}
	for _, c := range checks {
		if c.limit != nil && c.spent+amount > *c.limit {
			details := map[string]any{"scope": "user", "user_id": uid, "tier": tiers[c.key], "cap": c.name,
				"limit": *c.limit, "spent": c.spent, "requested": amount}
			if c.name == "session" {
				details["session_id"] = sid
			}
			return &steward.Error{Code: steward.CodeSpendingCapReached,
				Message: fmt.Sprintf("user %s has spent %d of its %s cap of %d (set by the %s)", uid, c.spent, c.name, *c.limit, tiers[c.key]),
				Details: details}
		}
	}
	if err := lk.deduct(ctx, tl, e, amount, true); err != nil {
		return err
	}
	next.DaySpent += amount
	next.MonthSpent += amount
	if err := lk.tx.PutUserSpend(ctx, &next); err != nil {
		return err
	}
	ul.counter = next
	if sid != "" {
		ul.sessions[sid] = session + amount
		return lk.tx.PutSessionSpend(ctx, tl.tenant.ID, uid, sid, session+amount, now)
	}
	return nil
}

// validSpender checks the optional user and session a deduct names.
func validSpender(uid, sid string, fe steward.FieldErrors) (string, string) {
	uid, sid = strings.TrimSpace(uid), strings.TrimSpace(sid)
	if len(uid) > 64 {
		fe.Add("user_id", "must be at most 64 characters")
	}
	if sid != "" && !usageIDRe.MatchString(sid) {
		fe.Add("session_id", "must be 1-128 characters of letters, digits, '.', '_', ':' or '-'")
	}
	return uid, sid
}

// view renders a user's spending from reads of q (the store or a tx).
func (s *UserSpending) view(ctx context.Context, q store.Queries, u *steward.User) (*steward.UserSpending, error) {
	own, err := q.GetUserCaps(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	d, err := loadPlatformDefaults(ctx, q)
	if err != nil {
		return nil, err
	}
	var t *steward.Tenant
	if u.TenantID != "" {
		if t, err = q.GetTenant(ctx, u.TenantID); errors.Is(err, store.ErrNotFound) {
			t, err = nil, nil
		}
		if err != nil {
			return nil, err
		}
	}
	eff, explain := effectiveUserCaps(own, t, d)
	out := &steward.UserSpending{UserID: u.ID, TenantID: u.TenantID, Caps: own, Effective: eff, Explain: explain}
	if t != nil {
		c, err := q.GetUserSpend(ctx, t.ID, u.ID)
		switch {
		case err == nil:
			r := rolled(*c, t, s.now())
			out.Spent = steward.UserSpent{Monthly: r.MonthSpent, Daily: r.DaySpent}
		case !errors.Is(err, store.ErrNotFound):
			return nil, err
		}
	}
	return out, nil
}

// UserSpending implements steward.UserSpendingService.
func (s *UserSpending) UserSpending(ctx context.Context, uid string) (*steward.UserSpending, error) {
	if _, err := authorize(ctx, steward.PermUsersRead); err != nil {
		return nil, err
	}
	u, err := s.store.GetUser(ctx, uid)
	if err != nil {
		return nil, notFound(err, "user", uid)
	}
	return s.view(ctx, s.store, u)
}

// UpdateUserSpending implements steward.UserSpendingService: a merge patch
// of the user's own caps, audited user.spending_update with each changed
// cap's before and after. Operators change users ranked below them only.
func (s *UserSpending) UpdateUserSpending(ctx context.Context, uid string, p *steward.UserCapsPatch) (*steward.UserSpending, error) {
	if _, err := authorize(ctx, steward.PermUsersWrite); err != nil {
		return nil, err
	}
	fe := steward.FieldErrors{}
	for name, o := range map[string]steward.Optional[int64]{"monthly_cap": p.MonthlyCap, "daily_cap": p.DailyCap,
		"session_cap": p.SessionCap} {
		if o.Set && !o.Null && (o.Value < 0 || o.Value > steward.MaxLimitValue) {
			fe.Add(name, "must be a whole number from 0 to 1000000000000, or null for the default")
		}
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	var out *steward.UserSpending
	err := s.update(ctx, func(tx store.Tx) error {
		a, err := s.currentActor(ctx, tx, steward.PermUsersWrite)
		if err != nil {
			return err
		}
		u, err := tx.GetUser(ctx, uid)
		if err != nil {
			return notFound(err, "user", uid)
		}
		if err := guardRank(a, u); err != nil {
			return err
		}
		before, err := tx.GetUserCaps(ctx, u.ID)
		if err != nil {
			return err
		}
		after := before
		setOpt(&after.MonthlyCap, p.MonthlyCap)
		setOpt(&after.DailyCap, p.DailyCap)
		setOpt(&after.SessionCap, p.SessionCap)
		changes := diff(&before, &after)
		if len(changes) > 0 {
			if err := tx.SetUserCaps(ctx, u.ID, after, s.now()); err != nil {
				return err
			}
			if err := s.audit(ctx, tx, event{Action: "user.spending_update", TargetType: "user", TargetID: u.ID,
				TenantID: u.TenantID, Changes: changes}); err != nil {
				return err
			}
		}
		out, err = s.view(ctx, tx, u)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
