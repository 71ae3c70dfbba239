package steward

import (
	"context"
	"time"
)

// UserCaps bound how many credits one user may spend: per billing period
// of the tenant, per UTC day, and per session (usage reported with a
// session_id). A nil cap is not set at that tier.
type UserCaps struct {
	MonthlyCap *int64 `json:"monthly_cap"`
	DailyCap   *int64 `json:"daily_cap"`
	SessionCap *int64 `json:"session_cap"`
}

// UserSpending is the answer of GET|PUT /admin/users/{id}/spending.
type UserSpending struct {
	UserID   string `json:"user_id"`
	TenantID string `json:"tenant_id"`
	// Caps are the user's own; Effective what applies after the tenant's
	// and the platform's defaults; Explain names, per cap, the tier it
	// comes from: user, tenant, platform or none.
	Caps      UserCaps          `json:"caps"`
	Effective UserCaps          `json:"effective"`
	Explain   map[string]string `json:"explain"`
	// Spent is what the user spent in the tenant's current billing period
	// and UTC day, as the caps count it.
	Spent UserSpent `json:"spent"`
}

// UserSpent is a user's spend in the current periods.
type UserSpent struct {
	Monthly int64 `json:"monthly"`
	Daily   int64 `json:"daily"`
}

// UserCapsPatch is the body of PUT /admin/users/{id}/spending (JSON Merge
// Patch): null removes the user's own cap, so the default applies.
type UserCapsPatch struct {
	MonthlyCap Optional[int64] `json:"monthly_cap"`
	DailyCap   Optional[int64] `json:"daily_cap"`
	SessionCap Optional[int64] `json:"session_cap"`
}

// UserSpendCounter is what a user spent in a tenant, as stored: the
// counters belong to the day and billing period they start.
type UserSpendCounter struct {
	TenantID   string
	UserID     string
	DayStart   time.Time
	DaySpent   int64
	MonthStart time.Time
	MonthSpent int64
}

// UserSpendingService reads and sets users' spending caps.
type UserSpendingService interface {
	UserSpending(ctx context.Context, userID string) (*UserSpending, error)
	UpdateUserSpending(ctx context.Context, userID string, p *UserCapsPatch) (*UserSpending, error)
}
