package steward

import (
	"context"
	"time"
)

// PeriodFigures is what moved in the current period, counted in a time
// zone: this calendar month's ledger movements and usage, and the sessions
// started today. It is read from hourly buckets kept in the same
// transaction as the rows (docs/overview.md). Credits.Outstanding is not a
// period figure and is left 0.
type PeriodFigures struct {
	Credits              CreditStats `json:"credits"`
	Usage                UsageStats  `json:"usage"`
	SessionsStartedToday int64       `json:"sessions_started_today"`
	Month                string      `json:"month"` // "2026-12"
	Today                string      `json:"today"` // "2026-12-07"
	TZ                   string      `json:"tz"`
}

// DayValue is one day of a dashboard series.
type DayValue struct {
	Date  string `json:"date"` // "2026-12-01", in the dashboard's zone
	Value int64  `json:"value"`
}

// DashboardSeries are the daily series of GET /admin/dashboard, oldest day
// first and today last, every day present. Usage by metric is keyed by
// metric; a metric appears when it has a non-zero day in the range.
type DashboardSeries struct {
	Signups         []DayValue            `json:"signups"`
	ActiveUsers     []DayValue            `json:"active_users"`
	SessionsStarted []DayValue            `json:"sessions_started"`
	CreditsGranted  []DayValue            `json:"credits_granted"`
	CreditsUsed     []DayValue            `json:"credits_used"` // deducted less refunded
	UsageEvents     []DayValue            `json:"usage_events"`
	UsageCostMicros []DayValue            `json:"usage_cost_micros"`
	UsageQuantity   map[string][]DayValue `json:"usage_quantity"`
	UsageByMetric   map[string][]DayValue `json:"usage_events_by_metric"`
}

// Dashboard is GET /admin/dashboard.
type Dashboard struct {
	Stats       *Stats          `json:"stats,omitempty"`
	Series      DashboardSeries `json:"series"`
	Days        int             `json:"days"`
	TZ          string          `json:"tz"`
	GeneratedAt time.Time       `json:"generated_at"`
}

// Dashboard bounds.
const (
	DefaultDashboardDays = 30
	MaxDashboardDays     = 365
)

// PlanBilling is one plan's tenants and monthly revenue. Tenants counts
// those not deleted; Active those billed, whose revenue is Active ×
// PriceCents. A plan no longer in the catalogue has InCatalogue false and
// no price.
type PlanBilling struct {
	Tenants      int64  `json:"tenants"`
	Active       int64  `json:"active"`
	Suspended    int64  `json:"suspended"`
	PriceCents   int64  `json:"price_cents"`
	Currency     string `json:"currency"`
	RevenueCents int64  `json:"revenue_cents"`
	InCatalogue  bool   `json:"in_catalogue"`
}

// BillingCredits: the month's ledger movements, and Outstanding, the sum of
// every balance now (current month only; null for a past month).
type BillingCredits struct {
	Granted     int64  `json:"granted"`
	Used        int64  `json:"used"`
	Outstanding *int64 `json:"outstanding"`
}

// BillingUsage is the month's usage across tenants.
type BillingUsage struct {
	Events     int64 `json:"events"`
	Quantity   int64 `json:"quantity"`
	CostMicros int64 `json:"cost_micros"`
}

// TenantFigures is one tenant's month in a top list.
type TenantFigures struct {
	TenantID        string `json:"tenant_id"`
	CreditsGranted  int64  `json:"credits_granted"`
	CreditsUsed     int64  `json:"credits_used"`
	UsageEvents     int64  `json:"usage_events"`
	UsageQuantity   int64  `json:"usage_quantity"`
	UsageCostMicros int64  `json:"usage_cost_micros"`
}

// CapStanding is a tenant at or past its alert threshold of a spending cap,
// by the figures the ledger enforces (the UTC day, the billing period).
type CapStanding struct {
	TenantID         string `json:"tenant_id"`
	Name             string `json:"name"`
	Cap              string `json:"cap"` // "daily" or "monthly"
	Limit            int64  `json:"limit"`
	Spent            int64  `json:"spent"`
	Percent          int64  `json:"percent"` // spent × 100 / limit, rounded down
	ThresholdPercent int64  `json:"threshold_percent"`
	Over             bool   `json:"over"` // spent ≥ limit: the next spend is refused
}

// Where PlanBilling figures come from.
const (
	PlansLive        = "live"        // the current month: the tenants now
	PlansSnapshot    = "snapshot"    // a past month: as the month closed
	PlansUnavailable = "unavailable" // a past month with no snapshot
)

// Billing is GET /admin/billing for one UTC calendar month.
type Billing struct {
	Month string `json:"month"`
	// Plans by plan id; null when PlansSource is "unavailable".
	Plans       map[string]PlanBilling `json:"plans"`
	PlansSource string                 `json:"plans_source"`
	PlansAsOf   *time.Time             `json:"plans_as_of"`
	// RevenueCents totals Plans by currency.
	RevenueCents        map[string]int64 `json:"revenue_cents"`
	Credits             BillingCredits   `json:"credits"`
	Usage               BillingUsage     `json:"usage"`
	TopTenantsByUsage   []TenantFigures  `json:"top_tenants_by_usage"`
	TopTenantsByCredits []TenantFigures  `json:"top_tenants_by_credits_used"`
	SpendingCaps        []CapStanding    `json:"spending_caps"` // current month only; null otherwise
	GeneratedAt         time.Time        `json:"generated_at"`
}

// SeriesService is the per-period overview: the dashboard's daily series,
// billing, and the figures of this period that GET /admin/stats shows.
type SeriesService interface {
	// PeriodFigures needs stats:read.
	PeriodFigures(ctx context.Context, loc *time.Location) (*PeriodFigures, error)
	// Dashboard needs stats:read; days 1..365 (0 is 30), tz an IANA zone
	// name ("" is UTC).
	Dashboard(ctx context.Context, days int, tz string) (*Dashboard, error)
	// Billing needs stats:read; month "YYYY-MM" ("" is the current UTC
	// month), not in the future.
	Billing(ctx context.Context, month string) (*Billing, error)
	// CheckCounters recounts the per-period figures from the rows and
	// returns each that disagrees; repair rewrites them in one audited
	// transaction. For steward doctor: no permission is checked.
	CheckCounters(ctx context.Context, repair bool) ([]CounterDrift, error)
}
