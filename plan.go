package steward

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

func limit(n int64) *int64 { return &n }

// DefaultPlans is the catalogue used when none is configured. Prices are in
// cents; a nil limit is unlimited.
func DefaultPlans() []*Plan {
	return []*Plan{
		{ID: "free", Name: "Free", Currency: "USD", Period: "month", IncludedCredits: 1_000,
			Limits:   TenantLimits{MaxUsers: limit(3), MaxConcurrentTasks: limit(1), MaxDailyTasks: limit(100)},
			Features: map[string]any{"api_access": true, "sso": false, "priority_support": false, "audit_log_days": 7}},
		{ID: "starter", Name: "Starter", PriceCents: 2_900, Currency: "USD", Period: "month", IncludedCredits: 10_000,
			Limits:   TenantLimits{MaxUsers: limit(10), MaxConcurrentTasks: limit(3), MaxDailyTasks: limit(1_000)},
			Features: map[string]any{"api_access": true, "sso": false, "priority_support": false, "audit_log_days": 30}},
		{ID: "pro", Name: "Pro", PriceCents: 9_900, Currency: "USD", Period: "month", IncludedCredits: 50_000,
			Limits:   TenantLimits{MaxUsers: limit(50), MaxConcurrentTasks: limit(10), MaxDailyTasks: limit(10_000)},
			Features: map[string]any{"api_access": true, "sso": true, "priority_support": true, "audit_log_days": 90}},
		{ID: "scale", Name: "Scale", PriceCents: 49_900, Currency: "USD", Period: "month", IncludedCredits: 250_000,
			Limits:   TenantLimits{MaxConcurrentTasks: limit(50)},
			Features: map[string]any{"api_access": true, "sso": true, "priority_support": true, "audit_log_days": 365}},
	}
}

var (
	planIDRe   = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)
	currencyRe = regexp.MustCompile(`^[A-Z]{3}$`)
	featureRe  = regexp.MustCompile(`^[a-z0-9][a-z0-9._:-]{0,63}$`)
)

// MaxLimitValue bounds a limit, a cap and included credits.
const MaxLimitValue = 1_000_000_000_000

// ValidateFeatureKeys reports a problem with a feature map's keys, or "".
func ValidateFeatureKeys(f map[string]any) string {
	for k := range f {
		if !featureRe.MatchString(k) {
			return fmt.Sprintf("feature name %q must be 1-64 characters of a-z, 0-9, '.', '_', ':' or '-'", k)
		}
	}
	if b, err := json.Marshal(f); err != nil || len(b) > 16<<10 {
		return "must be a JSON object of at most 16 KiB"
	}
	return ""
}

// ValidateLimits lists problems with limits under field (e.g. "limits").
func ValidateLimits(field string, l TenantLimits, fe FieldErrors) {
	for name, v := range map[string]*int64{"max_users": l.MaxUsers,
		"max_concurrent_tasks": l.MaxConcurrentTasks, "max_daily_tasks": l.MaxDailyTasks} {
		if v != nil && (*v < 0 || *v > MaxLimitValue) {
			fe.Add(field+"."+name, "must be between 0 and 1000000000000")
		}
	}
}

// ValidatePlans checks a catalogue: at least one plan, unique ids, and sane
// values. The error names the plan and the field.
func ValidatePlans(plans []*Plan) error {
	if len(plans) == 0 {
		return fmt.Errorf("plans: the catalogue needs at least one plan")
	}
	seen := map[string]bool{}
	for i, p := range plans {
		if p == nil {
			return fmt.Errorf("plans[%d]: is null", i)
		}
		where := fmt.Sprintf("plans[%d] (%s)", i, p.ID)
		fe := FieldErrors{}
		switch {
		case !planIDRe.MatchString(p.ID):
			fe.Add("id", "must be 1-32 characters of a-z, 0-9, '_' or '-'")
		case seen[p.ID]:
			fe.Add("id", "is used by an earlier plan")
		}
		seen[p.ID] = true
		if strings.TrimSpace(p.Name) == "" {
			fe.Add("name", "is required")
		}
		if p.PriceCents < 0 || p.PriceCents > MaxLimitValue {
			fe.Add("price_cents", "must be between 0 and 1000000000000")
		}
		if !currencyRe.MatchString(p.Currency) {
			fe.Add("currency", "must be a three-letter ISO 4217 code such as USD")
		}
		if p.Period != "month" && p.Period != "year" {
			fe.Add("period", "must be month or year")
		}
		if p.IncludedCredits < 0 || p.IncludedCredits > MaxLimitValue {
			fe.Add("included_credits", "must be between 0 and 1000000000000")
		}
		ValidateLimits("limits", p.Limits, fe)
		if p.Features == nil {
			p.Features = map[string]any{}
		}
		if msg := ValidateFeatureKeys(p.Features); msg != "" {
			fe.Add("features", msg)
		}
		if len(fe) > 0 {
			var parts []string
			for _, k := range slices.Sorted(maps.Keys(fe)) {
				parts = append(parts, k+" "+fe[k])
			}
			return fmt.Errorf("%s: %s", where, strings.Join(parts, "; "))
		}
	}
	return nil
}

// ParsePlans reads a catalogue file: {"plans": [{id, name, price_cents,
// currency, period, included_credits, limits, features}, …]}, in the order
// the console lists them. Unknown fields are an error, so a typo does not
// silently fall back to a default.
func ParsePlans(data []byte) ([]*Plan, error) {
	var doc struct {
		Plans []*Plan `json:"plans"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("plans: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("plans: trailing data after the JSON object")
	}
	for _, p := range doc.Plans {
		if p != nil && p.Currency == "" {
			p.Currency = "USD"
		}
		if p != nil && p.Period == "" {
			p.Period = "month"
		}
	}
	return doc.Plans, ValidatePlans(doc.Plans)
}
