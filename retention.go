package steward

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
)

// RetentionDays is how long one data set is kept: a number of days (1 or
// more), or RetentionNever. In JSON it is the number, or the string
// "never" (docs/retention.md).
type RetentionDays int

// RetentionNever keeps a data set forever.
const RetentionNever RetentionDays = 0

// MarshalJSON writes the days, or "never".
func (d RetentionDays) MarshalJSON() ([]byte, error) {
	if d == RetentionNever {
		return []byte(`"never"`), nil
	}
	return []byte(strconv.Itoa(int(d))), nil
}

// UnmarshalJSON reads a number of days or "never".
func (d *RetentionDays) UnmarshalJSON(b []byte) error {
	if string(b) == `"never"` {
		*d = RetentionNever
		return nil
	}
	n, err := strconv.Atoi(string(b))
	if err != nil || n < 1 {
		return fmt.Errorf(`retention: want a number of days or "never", got %s`, b)
	}
	*d = RetentionDays(n)
	return nil
}

// RetentionSettings is each data set's retention, defaults included: the
// document GET /admin/retention answers and PUT patches.
type RetentionSettings map[string]RetentionDays

// RetentionPatch is a JSON merge patch over RetentionSettings: per data
// set a number of days, "never", or null for the default. Values are kept
// raw so the service names the field of a bad one.
type RetentionPatch map[string]json.RawMessage

// RetentionTableRun is what a retention run did to one data set;
// RetentionDays is the retention it applied.
type RetentionTableRun struct {
	Purged        int64         `json:"purged"`
	RetentionDays RetentionDays `json:"retention_days"`
	// Anchor is where the audit chain now starts, for audit_log when the
	// run purged some of it.
	Anchor *AuditAnchor `json:"anchor,omitempty"`
}

// RetentionRun is the answer of POST /admin/retention/run.
type RetentionRun struct {
	TotalPurged int64                        `json:"total_purged"`
	Tables      map[string]RetentionTableRun `json:"tables"`
}

// RetentionService is how long Steward keeps its data and the purge
// (docs/retention.md).
type RetentionService interface {
	// Retention reports the settings; it needs PermConfigRead.
	Retention(ctx context.Context) (RetentionSettings, error)
	// UpdateRetention applies p and reports the result; it needs
	// PermConfigWrite: VALIDATION_FAILED naming the data set.
	UpdateRetention(ctx context.Context, p RetentionPatch) (RetentionSettings, error)
	// RunRetention purges every data set now; it needs PermRetentionRun.
	RunRetention(ctx context.Context) (*RetentionRun, error)
}
