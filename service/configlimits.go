package service

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// The quotas, spending and switches sections of /admin/config: platform
// defaults that tenants and users inherit, and switches that turn a
// capability off below super_admin. Each is a flat object of keys of one
// kind; a key not stored has its default.

// keyKind is what a section key holds.
type keyKind int

const (
	kindLimit   keyKind = iota // a whole number 0..MaxLimitValue, or null (none)
	kindPercent                // a whole number 1..100
	kindBool                   // true or false
)

// configKey is one key of a flat section.
type configKey struct {
	name string
	kind keyKind
	def  any // the value when not stored: nil, an int or a bool
}

func (k configKey) rule() string {
	switch k.kind {
	case kindLimit:
		return "must be a whole number from 0 to 1000000000000, or null for none"
	case kindPercent:
		return "must be a whole number from 1 to 100, or null for the default"
	default:
		return "must be true or false, or null for the default"
	}
}

// check parses v (not null) as k's kind.
func (k configKey) check(v json.RawMessage) (any, bool) {
	switch k.kind {
	case kindBool:
		var b bool
		if json.Unmarshal(v, &b) != nil {
			return nil, false
		}
		return b, true
	default:
		var n int64
		if json.Unmarshal(v, &n) != nil {
			return nil, false
		}
		if k.kind == kindPercent {
			return n, n >= 1 && n <= 100
		}
		return n, n >= 0 && n <= steward.MaxLimitValue
	}
}

// flatSection is a section of keys, merge-patched: a value sets a key, null
// puts it back to its default. The stored document holds the keys set.
func flatSection(name string, keys []configKey) configSection {
	known := make([]string, len(keys))
	for i, k := range keys {
		known[i] = k.name
	}
	find := func(n string) (configKey, bool) {
		i := slices.IndexFunc(keys, func(k configKey) bool { return k.name == n })
		if i < 0 {
			return configKey{}, false
		}
		return keys[i], true
	}
	read := func(stored json.RawMessage) (map[string]json.RawMessage, error) {
		m := map[string]json.RawMessage{}
		if stored != nil {
			if err := json.Unmarshal(stored, &m); err != nil {
				return nil, fmt.Errorf("platform setting %s: %w", name, err)
			}
		}
		return m, nil
	}
	return configSection{name: name,
		view: func(stored json.RawMessage) (any, error) {
			m, err := read(stored)
			if err != nil {
				return nil, err
			}
			out := make(map[string]any, len(keys))
			for _, k := range keys {
				out[k.name] = k.def
				if v, ok := m[k.name]; ok {
					if out[k.name], ok = k.check(v); !ok {
						return nil, fmt.Errorf("platform setting %s.%s: stored value %s is not valid", name, k.name, v)
					}
				}
			}
			return out, nil
		},
		apply: func(_ context.Context, _ store.Tx, stored, patch json.RawMessage, fe steward.FieldErrors) (json.RawMessage, error) {
			m, err := read(stored)
			if err != nil {
				return nil, err
			}
			var p map[string]json.RawMessage
			if err := json.Unmarshal(patch, &p); err != nil {
				return nil, err
			}
			for n, v := range p {
				k, ok := find(n)
				switch {
				case !ok:
					fe.Add(name+"."+n, "unknown key; known: "+strings.Join(known, ", "))
				case string(v) == "null":
					delete(m, n)
				default:
					val, ok := k.check(v)
					if !ok {
						fe.Add(name+"."+n, k.rule())
						continue
					}
					m[n], _ = json.Marshal(val)
				}
			}
			if len(m) == 0 {
				return nil, nil
			}
			return json.Marshal(m)
		}}
}

// quotasSection: platform defaults of the tenant limits (null: unlimited).
func quotasSection() configSection {
	return flatSection("quotas", []configKey{
		{name: "max_users", kind: kindLimit},
		{name: "max_concurrent_tasks", kind: kindLimit},
		{name: "max_daily_tasks", kind: kindLimit},
	})
}

// spendingSection: platform defaults of the tenant spending caps and of the
// per-user caps (null: no cap).
func spendingSection() configSection {
	return flatSection("spending", []configKey{
		{name: "monthly_cap", kind: kindLimit},
		{name: "daily_cap", kind: kindLimit},
		{name: "alert_threshold_percent", kind: kindPercent, def: int64(steward.DefaultAlertThresholdPercent)},
		{name: "user_monthly_cap", kind: kindLimit},
		{name: "user_daily_cap", kind: kindLimit},
		{name: "user_session_cap", kind: kindLimit},
	})
}

// switchesSection: capabilities operators below super_admin may use.
func switchesSection() configSection {
	return flatSection("switches", []configKey{
		{name: SwitchImpersonation, kind: kindBool, def: true},
		{name: SwitchUserCreation, kind: kindBool, def: true},
		{name: SwitchUserDeletion, kind: kindBool, def: true},
	})
}

// platformDefaults are the stored quotas, spending and switches sections,
// typed for the code that applies them. A nil pointer is a key not set.
type platformDefaults struct {
	Quotas   steward.TenantLimits
	Spending platformSpending
	Switches struct {
		AllowImpersonation *bool `json:"allow_impersonation"`
		AllowUserCreation  *bool `json:"allow_user_creation"`
		AllowUserDeletion  *bool `json:"allow_user_deletion"`
	}
}

type platformSpending struct {
	MonthlyCap            *int64 `json:"monthly_cap"`
	DailyCap              *int64 `json:"daily_cap"`
	AlertThresholdPercent *int   `json:"alert_threshold_percent"`
	UserMonthlyCap        *int64 `json:"user_monthly_cap"`
	UserDailyCap          *int64 `json:"user_daily_cap"`
	UserSessionCap        *int64 `json:"user_session_cap"`
}

// settingsReader is store.Queries or store.Tx.
type settingsReader interface {
	PlatformSettings(ctx context.Context) (map[string]json.RawMessage, error)
}

// loadPlatformDefaults reads the platform defaults (one small table).
func loadPlatformDefaults(ctx context.Context, q settingsReader) (*platformDefaults, error) {
	stored, err := q.PlatformSettings(ctx)
	if err != nil {
		return nil, err
	}
	d := &platformDefaults{}
	for name, dst := range map[string]any{"quotas": &d.Quotas, "spending": &d.Spending, "switches": &d.Switches} {
		if doc := stored[name]; doc != nil {
			if err := json.Unmarshal(doc, dst); err != nil {
				return nil, fmt.Errorf("platform setting %s: %w", name, err)
			}
		}
	}
	return d, nil
}

// limitsFor resolves a tenant's limits: platform, then the plan, then the
// tenant's own (each non-nil value wins over the tier before it). A plan
// gone from the catalogue leaves the platform's and the tenant's.
func (d *platformDefaults) limitsFor(plan *steward.Plan, t *steward.Tenant) steward.TenantLimits {
	l := d.Quotas
	if plan != nil {
		l = l.Over(plan.Limits)
	}
	return l.Over(t.Limits)
}

// spendingFor resolves a tenant's caps: the tenant's own, else the
// platform's; the alert threshold likewise, else 80.
func (d *platformDefaults) spendingFor(t *steward.Tenant) steward.SpendingCaps {
	own, p := t.Spending, d.Spending
	c := steward.SpendingCaps{MonthlyCap: cmpOrNil(own.MonthlyCap, p.MonthlyCap),
		DailyCap:       cmpOrNil(own.DailyCap, p.DailyCap),
		UserMonthlyCap: cmpOrNil(own.UserMonthlyCap, p.UserMonthlyCap),
		UserDailyCap:   cmpOrNil(own.UserDailyCap, p.UserDailyCap),
		UserSessionCap: cmpOrNil(own.UserSessionCap, p.UserSessionCap)}
	c.AlertThresholdPercent = own.AlertThresholdPercent
	if c.AlertThresholdPercent == 0 && p.AlertThresholdPercent != nil {
		c.AlertThresholdPercent = *p.AlertThresholdPercent
	}
	if c.AlertThresholdPercent == 0 {
		c.AlertThresholdPercent = steward.DefaultAlertThresholdPercent
	}
	return c
}

// capTier says which tier a tenant's cap comes from.
func capTier(own *int64) string {
	if own != nil {
		return "tenant"
	}
	return "platform"
}

func cmpOrNil[T any](a, b *T) *T {
	if a != nil {
		return a
	}
	return b
}

// platformCapped reports whether the platform sets a tenant cap, so every
// tenant is capped.
func (d *platformDefaults) platformCapped() bool {
	return d.Spending.MonthlyCap != nil || d.Spending.DailyCap != nil
}

// present is presentTenant with the platform defaults read now.
func (s *Tenants) present(ctx context.Context, t *steward.Tenant) (*steward.Tenant, error) {
	d, err := loadPlatformDefaults(ctx, s.store)
	if err != nil {
		return nil, err
	}
	return s.presentTenant(d, t), nil
}
