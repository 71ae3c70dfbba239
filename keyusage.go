package steward

import (
	"context"
	"time"
)

// VerifyCodes are every verification code, in the order reports list them.
var VerifyCodes = []string{VerifyValid, VerifyNotFound, VerifyRevoked, VerifyExpired, VerifyDisabled,
	VerifyIPNotAllowed, VerifyRateLimited, VerifyOwnerInactive, VerifyInsufficientScope}

// KeyUsageGranularity is the width of one bucket of a key-usage series.
type KeyUsageGranularity string

const (
	KeyUsageMinute KeyUsageGranularity = "minute"
	KeyUsageHour   KeyUsageGranularity = "hour"
	KeyUsageDay    KeyUsageGranularity = "day"
)

// Duration is the bucket's width; 0 for an unknown granularity.
func (g KeyUsageGranularity) Duration() time.Duration {
	switch g {
	case KeyUsageMinute:
		return time.Minute
	case KeyUsageHour:
		return time.Hour
	case KeyUsageDay:
		return 24 * time.Hour
	}
	return 0
}

// KeyUsageCount is how many verifications of one key (KeyID "" for
// NOT_FOUND, which names no key) ended with Code in the UTC minute starting
// at Minute. TenantID is the key's tenant when it was verified.
type KeyUsageCount struct {
	KeyID    string
	TenantID string
	Minute   time.Time
	Code     string
	Count    int64
}

// KeyUsageQuery selects counts in [Since, Until) (both on bucket edges),
// summed into Granularity buckets. Empty fields do not filter; NOT_FOUND
// counts belong to no key and no tenant, so only a query with neither sees
// them.
type KeyUsageQuery struct {
	KeyID       string
	TenantID    string
	Code        string
	Since       time.Time
	Until       time.Time
	Granularity KeyUsageGranularity
}

// KeyUsagePoint is one bucket's count of one code.
type KeyUsagePoint struct {
	At    time.Time
	Code  string
	Count int64
}

// KeyUsageInput is the query of GET /admin/api-keys/{id}/usage (KeyID from
// the path) and GET /admin/api-keys/usage. Nil times take the defaults.
type KeyUsageInput struct {
	KeyID       string
	TenantID    string
	Code        string
	Granularity KeyUsageGranularity
	Since       *time.Time
	Until       *time.Time
}

// KeyUsageReport is verifications over time by outcome code. Buckets are
// UTC, aligned to the granularity, oldest first, every one present: the
// first holds Since, the last holds the instant before Until.
type KeyUsageReport struct {
	KeyID       string              `json:"key_id,omitempty"`
	TenantID    string              `json:"tenant_id,omitempty"`
	Code        string              `json:"code,omitempty"`
	Granularity KeyUsageGranularity `json:"granularity"`
	Since       time.Time           `json:"since"`
	Until       time.Time           `json:"until"`
	Total       int64               `json:"total"`
	// Totals has every code (only the one asked for under a code filter),
	// with 0 where there was none.
	Totals map[string]int64 `json:"totals"`
	Series []KeyUsageBucket `json:"series"`
}

// KeysUsageReport is the report over a tenant's keys or every key, with the
// keys verified most in its range.
type KeysUsageReport struct {
	*KeyUsageReport
	TopKeys []KeyUsageTopKey `json:"top_keys"`
}

// KeyUsageBucket is one bucket; ByCode has only the codes that occurred.
type KeyUsageBucket struct {
	At     time.Time        `json:"at"`
	Total  int64            `json:"total"`
	ByCode map[string]int64 `json:"by_code"`
}

// KeyUsageTopKey is one of the keys verified most in a report's range, with
// how often it was throttled and how often it was tried while revoked.
type KeyUsageTopKey struct {
	KeyID       string `json:"key_id"`
	TenantID    string `json:"tenant_id,omitempty"`
	Total       int64  `json:"total"`
	RateLimited int64  `json:"rate_limited"`
	Revoked     int64  `json:"revoked"`
}

// KeyUsageService reports key verifications over time (docs/api-keys.md,
// Key analytics).
type KeyUsageService interface {
	// KeyUsage reports one key: NOT_FOUND, VALIDATION_FAILED.
	KeyUsage(ctx context.Context, in *KeyUsageInput) (*KeyUsageReport, error)
	// KeysUsage reports a tenant's keys, or every key: VALIDATION_FAILED.
	KeysUsage(ctx context.Context, in *KeyUsageInput) (*KeysUsageReport, error)
}
