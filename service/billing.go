package service

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// topTenants is how many tenants each top list of billing shows.
const topTenants = 10

const monthLayout = "2006-01"

// Billing implements steward.SeriesService. Months are UTC calendar months.
func (s *Series) Billing(ctx context.Context, month string) (*steward.Billing, error) {
	if _, err := authorize(ctx, steward.PermStatsRead); err != nil {
		return nil, err
	}
	now := s.now()
	current := now.Format(monthLayout)
	if month == "" {
		month = current
	}
	if m, err := time.Parse(monthLayout, month); err != nil || m.Format(monthLayout) != month {
		return nil, steward.FieldError("month", "must be a month as YYYY-MM")
	}
	if month > current {
		return nil, steward.FieldError("month", "must not be in the future")
	}
	b := &steward.Billing{Month: month, GeneratedAt: now, RevenueCents: map[string]int64{}}
	totals, err := s.store.MonthTotals(ctx, month)
	if err != nil {
		return nil, err
	}
	b.Credits = steward.BillingCredits{Granted: totals.CreditsGranted, Used: totals.CreditsUsed}
	b.Usage = steward.BillingUsage{Events: totals.UsageEvents, Quantity: totals.UsageQuantity,
		CostMicros: totals.UsageCostMicros}
	if b.TopTenantsByUsage, err = s.top(ctx, month, store.TopByUsage); err != nil {
		return nil, err
	}
	if b.TopTenantsByCredits, err = s.top(ctx, month, store.TopByCreditsUsed); err != nil {
		return nil, err
	}
	if month == current {
		if b.Plans, err = s.livePlans(ctx); err != nil {
			return nil, err
		}
		b.PlansSource, b.PlansAsOf = steward.PlansLive, &now
		outstanding, err := s.store.OutstandingCredits(ctx)
		if err != nil {
			return nil, err
		}
		b.Credits.Outstanding = &outstanding
		if b.SpendingCaps, err = s.capStandings(ctx, now); err != nil {
			return nil, err
		}
	} else {
		snap, err := s.store.GetBillingSnapshot(ctx, month)
		switch {
		case errors.Is(err, store.ErrNotFound):
			b.PlansSource = steward.PlansUnavailable
		case err != nil:
			return nil, err
		default:
			if err := json.Unmarshal(snap.Plans, &b.Plans); err != nil {
				return nil, err
			}
			b.PlansSource, b.PlansAsOf = steward.PlansSnapshot, &snap.TakenAt
		}
	}
	for _, p := range b.Plans {
		if p.InCatalogue {
			b.RevenueCents[p.Currency] += p.RevenueCents
		}
	}
	return b, nil
}

func (s *Series) top(ctx context.Context, month, order string) ([]steward.TenantFigures, error) {
	list, err := s.store.TopTenants(ctx, month, order, topTenants)
	if err != nil {
		return nil, err
	}
	out := make([]steward.TenantFigures, len(list))
	for i, m := range list {
		out[i] = steward.TenantFigures{TenantID: m.TenantID, CreditsGranted: m.CreditsGranted, CreditsUsed: m.CreditsUsed,
			UsageEvents: m.UsageEvents, UsageQuantity: m.UsageQuantity, UsageCostMicros: m.UsageCostMicros}
	}
	return out, nil
}

// livePlans counts the tenants of every plan now, every catalogue plan
// included (with 0), priced from the catalogue. Active tenants are the
// billed ones; suspended and deleted tenants bring no revenue.
func (s *Series) livePlans(ctx context.Context) (map[string]steward.PlanBilling, error) {
	counts, err := s.store.CountTenantsByPlan(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]steward.PlanBilling{}
	for _, p := range s.cfg.Plans {
		out[p.ID] = steward.PlanBilling{PriceCents: p.PriceCents, Currency: p.Currency, InCatalogue: true}
	}
	for _, c := range counts {
		p := out[c.Plan]
		switch c.Status {
		case steward.TenantActive:
			p.Active += c.Count
		case steward.TenantSuspended:
			p.Suspended += c.Count
		}
		if c.Status != steward.TenantDeleted {
			p.Tenants += c.Count
		}
		out[c.Plan] = p
	}
	for id, p := range out {
		p.RevenueCents = p.Active * p.PriceCents
		out[id] = p
	}
	return out, nil
}

// capStandings lists the tenants at or past the alert threshold of a cap,
// with the spend the ledger checks against it (service/credits.go spend):
// the UTC day's and the billing period's, 0 when the account's counters
// belong to an earlier day or period.
func (s *Series) capStandings(ctx context.Context, now time.Time) ([]steward.CapStanding, error) {
	d, err := loadPlatformDefaults(ctx, s.store)
	if err != nil {
		return nil, err
	}
	list := s.store.ListCappedTenants
	if d.platformCapped() { // every tenant is capped
		list = s.store.ListSpendingTenants
	}
	capped, err := list(ctx)
	if err != nil {
		return nil, err
	}
	out := []steward.CapStanding{}
	day := now.Truncate(24 * time.Hour)
	for _, c := range capped {
		t, caps := c.Tenant, d.spendingFor(c.Tenant)
		var daySpent, monthSpent int64
		if a := c.Account; a != nil {
			if a.DayStart.Equal(day) {
				daySpent = a.DaySpent
			}
			if period, _ := t.PeriodAt(now); a.MonthStart.Equal(period) {
				monthSpent = a.MonthSpent
			}
		}
		threshold := int64(caps.AlertThresholdPercent)
		for _, x := range []struct {
			name  string
			limit *int64
			spent int64
		}{{"daily", caps.DailyCap, daySpent}, {"monthly", caps.MonthlyCap, monthSpent}} {
			if x.limit == nil || x.spent*100 < threshold**x.limit {
				continue
			}
			pct := int64(100)
			if *x.limit > 0 {
				pct = x.spent * 100 / *x.limit
			}
			out = append(out, steward.CapStanding{TenantID: t.ID, Name: t.Name, Cap: x.name, Limit: *x.limit,
				Spent: x.spent, Percent: pct, ThresholdPercent: threshold, Over: x.spent >= *x.limit})
		}
	}
	// Over first, then the most spent of its cap.
	slices.SortStableFunc(out, func(a, b steward.CapStanding) int {
		if a.Over != b.Over {
			if a.Over {
				return -1
			}
			return 1
		}
		return cmp.Or(cmp.Compare(b.Percent, a.Percent), cmp.Compare(a.TenantID, b.TenantID))
	})
	return out, nil
}

// SnapshotBilling stores the tenants-by-plan figures of the month that
// last closed, unless stored already: Maintain calls it, so the first run
// after a month closes takes it. It reports whether it stored one.
func (s *Series) SnapshotBilling(ctx context.Context) (bool, error) {
	now := s.now()
	y, m, _ := now.Date()
	closed := time.Date(y, m-1, 1, 0, 0, 0, 0, time.UTC).Format(monthLayout)
	if _, err := s.store.GetBillingSnapshot(ctx, closed); !errors.Is(err, store.ErrNotFound) {
		return false, err
	}
	plans, err := s.livePlans(ctx)
	if err != nil {
		return false, err
	}
	raw, err := json.Marshal(plans)
	if err != nil {
		return false, err
	}
	var saved bool
	err = s.update(ctx, func(tx store.Tx) (err error) {
		saved, err = tx.SaveBillingSnapshot(ctx, &store.BillingSnapshot{Month: closed, Plans: raw, TakenAt: now})
		return err
	})
	return saved, err
}
