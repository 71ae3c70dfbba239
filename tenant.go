package steward

import (
	"regexp"
	"time"
)

// TenantStatus is a tenant's lifecycle state.
type TenantStatus string

const (
	TenantActive    TenantStatus = "active"
	TenantSuspended TenantStatus = "suspended"
	TenantDeleted   TenantStatus = "deleted"
)

// Valid reports whether s is a known tenant status.
func (s TenantStatus) Valid() bool {
	switch s {
	case TenantActive, TenantSuspended, TenantDeleted:
		return true
	}
	return false
}

// TenantLimits are a tenant's quotas. In a plan, nil means unlimited; in a
// tenant, nil means "the plan's value".
type TenantLimits struct {
	MaxUsers           *int64 `json:"max_users"`
	MaxConcurrentTasks *int64 `json:"max_concurrent_tasks"`
	MaxDailyTasks      *int64 `json:"max_daily_tasks"`
}

// Over returns l with every limit o sets replaced by o's value.
func (l TenantLimits) Over(o TenantLimits) TenantLimits {
	if o.MaxUsers != nil {
		l.MaxUsers = o.MaxUsers
	}
	if o.MaxConcurrentTasks != nil {
		l.MaxConcurrentTasks = o.MaxConcurrentTasks
	}
	if o.MaxDailyTasks != nil {
		l.MaxDailyTasks = o.MaxDailyTasks
	}
	return l
}

// SpendingCaps bound how many credits a tenant may spend. A nil cap is no cap.
type SpendingCaps struct {
	MonthlyCap *int64 `json:"monthly_cap"`
	DailyCap   *int64 `json:"daily_cap"`
	// AlertThresholdPercent of a cap spent raises an alert; 0 means the
	// platform's (spending.alert_threshold_percent), by default 80.
	AlertThresholdPercent int `json:"alert_threshold_percent"`

	// The caps each of the tenant's users has unless the user sets its own
	// (nil: the platform's user_* default); see service/usercaps.go.
	UserMonthlyCap *int64 `json:"user_monthly_cap"`
	UserDailyCap   *int64 `json:"user_daily_cap"`
	UserSessionCap *int64 `json:"user_session_cap"`
}

// DefaultAlertThresholdPercent is used when a tenant sets none.
const DefaultAlertThresholdPercent = 80

// Plan is one entry of the plan catalogue, which is configuration.
type Plan struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// PriceCents is the price per Period in the smallest unit of Currency.
	PriceCents int64  `json:"price_cents"`
	Currency   string `json:"currency"`
	Period     string `json:"period"` // "month" or "year"
	// IncludedCredits are granted each month of the billing period.
	IncludedCredits int64          `json:"included_credits"`
	Limits          TenantLimits   `json:"limits"`
	Features        map[string]any `json:"features"`
}

// Tenant is a customer organisation of the product.
type Tenant struct {
	ID          string       `json:"id"`
	Name        string       `json:"name"`
	Slug        string       `json:"slug"`
	Plan        string       `json:"plan"`
	Status      TenantStatus `json:"status"`
	OwnerUserID string       `json:"owner_user_id"`
	// Limits are the tenant's own overrides (nil: the plan's value);
	// EffectiveLimits is what applies, filled in by the service.
	Limits          TenantLimits   `json:"limits"`
	EffectiveLimits TenantLimits   `json:"effective_limits"`
	Spending        SpendingCaps   `json:"spending"`
	Features        map[string]any `json:"features"` // overrides of the plan's features
	Notes           string         `json:"notes"`
	// BillingPeriodStart anchors the tenant's monthly periods.
	BillingPeriodStart time.Time  `json:"billing_period_start"`
	SuspensionReason   string     `json:"suspension_reason"`
	SuspendedAt        *time.Time `json:"suspended_at"`
	DeletedAt          *time.Time `json:"deleted_at"`
	CreatedAt          time.Time  `json:"created_at"`
	UpdatedAt          time.Time  `json:"updated_at"`

	// StatusBeforeDelete is what restore returns a deleted tenant to.
	StatusBeforeDelete TenantStatus `json:"-"`

	// EffectiveSpending is what applies: each cap the tenant does not set
	// comes from the platform's spending defaults. Filled in by the
	// service, not stored.
	EffectiveSpending SpendingCaps `json:"effective_spending"`
}

// TenantFilter selects tenants, newest first (id descending).
type TenantFilter struct {
	Q      string // substring of name or slug, or an exact id
	Status TenantStatus
	Plan   string
	Before string
	Limit  int
}

// PlanChange records one move of a tenant between plans.
type PlanChange struct {
	ID        string    `json:"id"`
	TenantID  string    `json:"tenant_id"`
	FromPlan  string    `json:"from_plan"`
	ToPlan    string    `json:"to_plan"`
	Prorate   bool      `json:"prorate"`
	ChangedBy string    `json:"changed_by"`
	ChangedAt time.Time `json:"changed_at"`
}

// TenantHoldCounts says how many rows a tenant's suspension holds.
type TenantHoldCounts struct {
	Users   int64 `json:"users"`
	APIKeys int64 `json:"api_keys"`
	// Resources whose desired suspension the tenant holds (held_by_tenant).
	Resources int64 `json:"resources"`
}

// TenantPurgeCounts says what erasing a tenant removed.
type TenantPurgeCounts struct {
	Users       int64 `json:"users_purged"`
	Sessions    int64 `json:"sessions_purged"`
	APIKeys     int64 `json:"api_keys_purged"`
	PlanChanges int64 `json:"plan_changes_purged"`
	// LedgerEntries and UsageEvents go with the tenant's credit account
	// and blocks.
	LedgerEntries int64 `json:"ledger_entries_purged"`
	UsageEvents   int64 `json:"usage_events_purged"`
	// Resources go with the tenant, whatever their state.
	Resources int64 `json:"resources_purged"`
}

var slugRe = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,46}[a-z0-9])?$`)

// MaxSlugLen bounds a slug.
const MaxSlugLen = 48

// ValidateSlug reports a problem with a slug, or "".
func ValidateSlug(s string) string {
	if !slugRe.MatchString(s) {
		return "must be 1-48 characters of a-z, 0-9 and '-', not starting or ending with '-'"
	}
	return ""
}
