package steward

import "time"

// Stats is GET /admin/stats: what the platform holds now and what moved this
// month. Every figure is read from counters kept in the same transaction as
// the change that moves them (docs/overview.md); none scans a table. Every
// known status, role and type appears, with 0 where there is none.
type Stats struct {
	Users          UserStats          `json:"users"`
	Tenants        TenantStats        `json:"tenants"`
	Sessions       SessionStats       `json:"sessions"`
	APIKeys        KeyCounts          `json:"api_keys"`
	Credits        CreditStats        `json:"credits"`
	Usage          UsageStats         `json:"usage"`
	Impersonations ImpersonationStats `json:"impersonations"`
	Resources      ResourceStats      `json:"resources"`
	// Month is the calendar month the monthly figures cover ("2026-12"),
	// and TZ the zone its days and months are counted in.
	Month       string    `json:"month"`
	TZ          string    `json:"tz"`
	GeneratedAt time.Time `json:"generated_at"`
}

// UserStats counts every stored user (soft-deleted ones under "deleted").
type UserStats struct {
	Total    int64                `json:"total"`
	ByStatus map[UserStatus]int64 `json:"by_status"`
	ByRole   map[Role]int64       `json:"by_role"`
}

// TenantStats counts every stored tenant.
type TenantStats struct {
	Total    int64                  `json:"total"`
	ByStatus map[TenantStatus]int64 `json:"by_status"`
	ByPlan   map[string]int64       `json:"by_plan"`
}

// SessionStats: Active is sessions neither revoked nor expired now;
// StartedToday those created since the start of today.
type SessionStats struct {
	Active       int64 `json:"active"`
	StartedToday int64 `json:"started_today"`
}

// KeyCounts counts API keys by the state operators see (APIKey.State) and type.
type KeyCounts struct {
	Total    int64               `json:"total"`
	ByStatus map[KeyStatus]int64 `json:"by_status"`
	ByType   map[KeyType]int64   `json:"by_type"`
}

// CreditStats: this month's ledger movements, and Outstanding, the sum of
// every tenant's balance now. Used is Deducted less Refunded.
type CreditStats struct {
	Granted     int64 `json:"granted"`
	Deducted    int64 `json:"deducted"`
	Refunded    int64 `json:"refunded"`
	Used        int64 `json:"used"`
	Expired     int64 `json:"expired"`
	Adjusted    int64 `json:"adjusted"`
	Outstanding int64 `json:"outstanding"`
}

// UsageStats: usage events that occurred this month, by metric.
type UsageStats struct {
	Events     int64                  `json:"events"`
	Quantity   int64                  `json:"quantity"`
	CostMicros int64                  `json:"cost_micros"`
	ByMetric   map[string]MetricUsage `json:"by_metric"`
}

// MetricUsage is one metric's share of UsageStats.
type MetricUsage struct {
	Events     int64 `json:"events"`
	Quantity   int64 `json:"quantity"`
	CostMicros int64 `json:"cost_micros"`
}

// ImpersonationStats: Active is impersonations neither ended nor expired now.
type ImpersonationStats struct {
	Active int64 `json:"active"`
}

// CounterDrift is a stored counter that disagrees with a recount from the
// rows it counts, as steward doctor reports it.
type CounterDrift struct {
	Counter   string `json:"counter"` // "users.status"
	Key       string `json:"key"`     // "active"
	Stored    int64  `json:"stored"`
	Recounted int64  `json:"recounted"`
}
