package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/stewardhq/steward"
)

// The series the hourly buckets keep (migration 00009), each by UTC hour.
// Usage series are keyed by metric; the others have the key "".
const (
	SeriesSignups         = "signups"          // users by created_at
	SeriesSessions        = "sessions.started" // sessions by created_at
	SeriesCreditsGranted  = "credits.granted"  // grant entries' amounts
	SeriesCreditsDeducted = "credits.deducted" // deduct entries' amounts, positive
	SeriesCreditsRefunded = "credits.refunded" // refund entries' amounts
	SeriesCreditsExpired  = "credits.expired"  // expire entries' amounts, positive
	SeriesCreditsAdjusted = "credits.adjusted" // adjust entries' amounts, signed
	SeriesUsageEvents     = "usage.events"     // usage events by occurred_at
	SeriesUsageQuantity   = "usage.quantity"
	SeriesUsageCost       = "usage.cost_micros"
)

// HourlyValue is one series' bucket, its shards summed.
type HourlyValue struct {
	Name, Key string
	Hour      time.Time // the start of a UTC hour
	Value     int64
}

// SeriesTotal is one series and key summed over a range of hours.
type SeriesTotal struct {
	Name, Key string
	Value     int64
}

// TenantMonth is one tenant's figures for one UTC calendar month.
type TenantMonth struct {
	TenantID        string
	CreditsGranted  int64
	CreditsUsed     int64 // deducted less refunded
	UsageEvents     int64
	UsageQuantity   int64
	UsageCostMicros int64
}

// Top tenant orders for TopTenants.
const (
	TopByUsage       = "usage"        // usage events, most first
	TopByCreditsUsed = "credits_used" // credits used, most first
)

// CappedTenant is a tenant with a spending cap and its ledger account (nil
// before its first entry).
type CappedTenant struct {
	Tenant  *steward.Tenant
	Account *steward.CreditAccount
}

// PlanStatusCount is how many tenants of one plan have one status.
type PlanStatusCount struct {
	Plan   string
	Status steward.TenantStatus
	Count  int64
}

// BillingSnapshot is the tenants-by-plan figures stored as a month closed.
type BillingSnapshot struct {
	Month   string
	Plans   json.RawMessage
	TakenAt time.Time
}

// DayRange is one day of a zone ("2026-12-01") and the UTC hours
// [From, To) that count for it.
type DayRange struct {
	Day      string
	From, To time.Time
}

// MemoDay is a closed day's sums, remembered.
type MemoDay struct {
	DayRange
	Values []SeriesTotal
}

// SeriesQueries are the reads of the per-period figures.
type SeriesQueries interface {
	// HourlySeries returns the buckets of the named series with an hour in
	// [from, to), shards summed; a bucket that sums to 0 may be absent.
	HourlySeries(ctx context.Context, names []string, from, to time.Time) ([]HourlyValue, error)
	// SeriesTotals sums the named series over the hours in [from, to), by
	// name and key.
	SeriesTotals(ctx context.Context, names []string, from, to time.Time) ([]SeriesTotal, error)
	// TopTenants returns up to n tenants of month ("2026-12") by order
	// (TopByUsage or TopByCreditsUsed), largest first then tenant id,
	// leaving out tenants with 0 of it.
	TopTenants(ctx context.Context, month, order string, n int) ([]TenantMonth, error)
	// MonthTotals sums tenant_monthly for month over every tenant.
	MonthTotals(ctx context.Context, month string) (TenantMonth, error)
	// ActiveUsers counts the distinct users with activity in an hour in
	// [from, to).
	ActiveUsers(ctx context.Context, from, to time.Time) (int64, error)
	// SeriesMemo returns the remembered days of tz in [from, to]
	// ("2026-12-01") with their sums, by day; a remembered day with nothing
	// has an empty list. A change to any bucket of a day's hours forgets
	// the day.
	SeriesMemo(ctx context.Context, tz, from, to string) (map[string][]SeriesTotal, error)
	// ActiveSince counts the users whose latest activity is in an hour at
	// or after from: for a period that runs to now, its active users.
	ActiveSince(ctx context.Context, from time.Time) (int64, error)
	// ActiveDays returns the remembered counts of tz's days in [from, to]
	// ("2026-12-01"), by day.
	ActiveDays(ctx context.Context, tz, from, to string) (map[string]int64, error)
	// OutstandingCredits is the sum of every ledger account's balance.
	OutstandingCredits(ctx context.Context) (int64, error)
	// CountTenantsByPlan counts tenants by plan and status.
	CountTenantsByPlan(ctx context.Context) ([]PlanStatusCount, error)
	// ListCappedTenants returns the tenants not deleted with a daily or
	// monthly cap, with their accounts, by id.
	ListCappedTenants(ctx context.Context) ([]CappedTenant, error)
	// GetBillingSnapshot returns month's snapshot; ErrNotFound if none.
	GetBillingSnapshot(ctx context.Context, month string) (*BillingSnapshot, error)
	// RecountSeries compares the hourly buckets and the per-tenant monthly
	// rows with a recount from the rows they describe and returns each that
	// disagrees (counter "stat_hourly.<name>" keyed "<key>@<hour RFC 3339>",
	// "tenant_monthly.<column>" keyed "<tenant>@<month>", or
	// "user_last_active_hours" keyed by hour).
	RecountSeries(ctx context.Context) ([]steward.CounterDrift, error)
}

// SeriesTx are the writes of the per-period figures.
type SeriesTx interface {
	// RecordActivity remembers that each user was active in the UTC hour
	// starting at hours[i], and moves the user's latest active hour up to
	// it; a pair already held, or a user that no longer exists, is skipped.
	RecordActivity(ctx context.Context, users []string, hours []time.Time) error
	// LockSeriesMemo makes this transaction's bucket reads and its
	// SaveSeriesMemo one step: no change to a bucket commits in between
	// (PostgreSQL: a lock the buckets' trigger waits for; on SQLite the
	// single writer excludes it already). Take it before reading.
	LockSeriesMemo(ctx context.Context) error
	// SaveSeriesMemo remembers days of tz with their sums, replacing any
	// remembered already.
	SaveSeriesMemo(ctx context.Context, tz string, days []MemoDay) error
	// SaveActiveDays remembers the counts of closed days of tz (day → users).
	SaveActiveDays(ctx context.Context, tz string, days map[string]int64) error
	// SaveBillingSnapshot stores month's snapshot unless one exists; it
	// reports whether it stored it.
	SaveBillingSnapshot(ctx context.Context, s *BillingSnapshot) (bool, error)
	// CompactSeries folds the shards of each bucket with an hour before
	// before into one row, keeping its sum; it returns how many rows it
	// folded away. A no-op where there is one shard (SQLite).
	CompactSeries(ctx context.Context, before time.Time) (int64, error)
	// RebuildSeries replaces the hourly buckets, the per-tenant monthly rows
	// and the latest-active-hour counts with a recount from the rows.
	RebuildSeries(ctx context.Context) error
}

// JoinAccounts pairs each tenant with its account, if any.
func JoinAccounts(tenants []*steward.Tenant, accounts []*steward.CreditAccount) []CappedTenant {
	byTenant := make(map[string]*steward.CreditAccount, len(accounts))
	for _, a := range accounts {
		byTenant[a.TenantID] = a
	}
	out := make([]CappedTenant, len(tenants))
	for i, t := range tenants {
		out[i] = CappedTenant{Tenant: t, Account: byTenant[t.ID]}
	}
	return out
}

// monthlyColumns are tenant_monthly's figures, in the order MonthlyDrift
// takes their (stored, recounted) pairs.
var monthlyColumns = [5]string{"credits_granted", "credits_used", "usage_events", "usage_quantity", "usage_cost_micros"}

// MonthlyDrift lists the columns of one tenant's month whose stored value
// (v[2i]) differs from the recount (v[2i+1]).
func MonthlyDrift(tenant, month string, v [10]int64) []steward.CounterDrift {
	var out []steward.CounterDrift
	for i, col := range monthlyColumns {
		if v[2*i] != v[2*i+1] {
			out = append(out, steward.CounterDrift{Counter: "tenant_monthly." + col, Key: tenant + "@" + month,
				Stored: v[2*i], Recounted: v[2*i+1]})
		}
	}
	return out
}
