package steward

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode/utf8"
)

// FlagType is the type of a feature flag's value.
type FlagType string

const (
	FlagBool       FlagType = "bool"
	FlagInt        FlagType = "int"
	FlagString     FlagType = "string"
	FlagStringList FlagType = "string_list"
)

// FlagTier is a level of the flag resolution, lowest first.
type FlagTier string

const (
	TierDefault  FlagTier = "default" // the registry's default; never set
	TierPlatform FlagTier = "platform"
	TierPlan     FlagTier = "plan"
	TierTenant   FlagTier = "tenant"
	TierUser     FlagTier = "user"
)

// FlagTiers are the tiers a value may be set at, in resolution order: a
// later tier wins over an earlier one.
var FlagTiers = []FlagTier{TierPlatform, TierPlan, TierTenant, TierUser}

// PermFeaturesRead lets a platform key call GET /platform/features (admin
// and up, like the other platform permissions).
const PermFeaturesRead Permission = "features:read"

// Bounds of a flag value, so a flag document stays small.
const (
	maxFlagString   = 1024
	maxFlagListLen  = 256
	maxFlagInt      = 1 << 53 // what a JSON number keeps exactly
	maxFlagDescLen  = 512
	maxFlagRegistry = 1000
)

// Flag is one entry of the flag registry, which is configuration: the
// built-in flags (BuiltinFlags) and the file's [[flags]].
type Flag struct {
	Key         string     `json:"key"`
	Type        FlagType   `json:"type"`
	Default     any        `json:"default"`
	Description string     `json:"description"`
	Tiers       []FlagTier `json:"tiers"` // which tiers may set it
}

// Allows reports whether the flag may be set at tier t.
func (f *Flag) Allows(t FlagTier) bool { return slices.Contains(f.Tiers, t) }

// Want says in words what a value of the flag's type is.
func (f *Flag) Want() string {
	switch f.Type {
	case FlagBool:
		return "want true or false"
	case FlagInt:
		return "want a whole number"
	case FlagString:
		return fmt.Sprintf("want a string of at most %d characters", maxFlagString)
	}
	return fmt.Sprintf("want a list of at most %d strings of at most %d characters", maxFlagListLen, maxFlagString)
}

// Value checks v (as encoding/json decodes it, or a Go value of the
// flag's type) against the flag's type and returns it normalised: bool,
// int64, string or []string. ok is false for a value of another type.
func (f *Flag) Value(v any) (any, bool) {
	switch f.Type {
	case FlagBool:
		b, ok := v.(bool)
		return b, ok
	case FlagInt:
		var n float64
		switch x := v.(type) {
		case float64:
			n = x
		case int:
			n = float64(x)
		case int64:
			n = float64(x)
		case json.Number:
			i, err := x.Int64()
			if err != nil {
				return nil, false
			}
			n = float64(i)
		default:
			return nil, false
		}
		if n != math.Trunc(n) || math.Abs(n) > maxFlagInt {
			return nil, false
		}
		return int64(n), true
	case FlagString:
		s, ok := v.(string)
		return s, ok && utf8.RuneCountInString(s) <= maxFlagString
	case FlagStringList:
		var items []any
		switch x := v.(type) {
		case []any:
			items = x
		case []string:
			for _, s := range x {
				items = append(items, s)
			}
		default:
			return nil, false
		}
		if len(items) > maxFlagListLen {
			return nil, false
		}
		out := make([]string, 0, len(items))
		for _, it := range items {
			s, ok := it.(string)
			if !ok || utf8.RuneCountInString(s) > maxFlagString {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	return nil, false
}

// BuiltinFlags are the flags every deployment has: the features the
// built-in plans set. A [[flags]] entry with the same key replaces one.
func BuiltinFlags() []*Flag {
	all := []FlagTier{TierPlatform, TierPlan, TierTenant, TierUser}
	return []*Flag{
		{Key: "api_access", Type: FlagBool, Default: true, Description: "Members may use the API", Tiers: all},
		{Key: "sso", Type: FlagBool, Default: false, Description: "Single sign-on is available",
			Tiers: []FlagTier{TierPlatform, TierPlan, TierTenant}},
		{Key: "priority_support", Type: FlagBool, Default: false, Description: "Support answers first",
			Tiers: []FlagTier{TierPlatform, TierPlan, TierTenant}},
		{Key: "audit_log_days", Type: FlagInt, Default: int64(7), Description: "Days of audit log the product shows the tenant",
			Tiers: []FlagTier{TierPlatform, TierPlan, TierTenant}},
	}
}

// FlagRegistry is the validated set of flags, by key.
type FlagRegistry struct {
	flags map[string]*Flag
	keys  []string // sorted
}

// NewFlagRegistry builds the registry from the built-in flags and extra
// (the file's), an extra flag replacing a built-in one of the same key. The
// error names the flag and the field.
func NewFlagRegistry(extra []*Flag) (*FlagRegistry, error) {
	r := &FlagRegistry{flags: map[string]*Flag{}}
	for _, f := range BuiltinFlags() {
		r.flags[f.Key] = f
	}
	seen := map[string]bool{}
	for i, f := range extra {
		if f == nil {
			return nil, fmt.Errorf("flags[%d]: is null", i)
		}
		if seen[f.Key] {
			return nil, fmt.Errorf("flags[%d] (%s): key is used by an earlier flag", i, f.Key)
		}
		seen[f.Key] = true
		nf, err := validateFlag(f)
		if err != nil {
			return nil, fmt.Errorf("flags[%d] (%s): %w", i, f.Key, err)
		}
		r.flags[f.Key] = nf
	}
	if len(r.flags) > maxFlagRegistry {
		return nil, fmt.Errorf("flags: at most %d flags", maxFlagRegistry)
	}
	for k := range r.flags {
		r.keys = append(r.keys, k)
	}
	slices.Sort(r.keys)
	return r, nil
}

// DefaultFlagRegistry is the registry of the built-in flags alone.
func DefaultFlagRegistry() *FlagRegistry {
	r, err := NewFlagRegistry(nil)
	if err != nil {
		panic(err) // the built-ins are constants
	}
	return r
}

func validateFlag(f *Flag) (*Flag, error) {
	nf := *f
	nf.Description = strings.TrimSpace(f.Description)
	switch {
	case !featureRe.MatchString(f.Key):
		return nil, fmt.Errorf("key: must be 1-64 characters of a-z, 0-9, '.', '_', ':' or '-'")
	case !slices.Contains([]FlagType{FlagBool, FlagInt, FlagString, FlagStringList}, f.Type):
		return nil, fmt.Errorf("type: must be bool, int, string or string_list")
	case len(nf.Description) > maxFlagDescLen:
		return nil, fmt.Errorf("description: at most %d characters", maxFlagDescLen)
	case f.Default == nil:
		return nil, fmt.Errorf("default: is required")
	}
	v, ok := nf.Value(f.Default)
	if !ok {
		return nil, fmt.Errorf("default: %s", nf.Want())
	}
	nf.Default = v
	nf.Tiers = nil
	for _, t := range f.Tiers {
		if !slices.Contains(FlagTiers, t) {
			return nil, fmt.Errorf("tiers: %q is not a tier; tiers are platform, plan, tenant, user", t)
		}
		if slices.Contains(nf.Tiers, t) {
			return nil, fmt.Errorf("tiers: %q is listed twice", t)
		}
		nf.Tiers = append(nf.Tiers, t)
	}
	// One order whatever the file wrote, so a listing reads the same.
	slices.SortFunc(nf.Tiers, func(a, b FlagTier) int {
		return slices.Index(FlagTiers, a) - slices.Index(FlagTiers, b)
	})
	return &nf, nil
}

// ParseFlags reads the [[flags]] of the configuration file as JSON (an
// array of {key, type, default, description, tiers}); unknown fields are
// an error.
func ParseFlags(data []byte) ([]*Flag, error) {
	var flags []*Flag
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(&flags); err != nil {
		return nil, fmt.Errorf("flags: %w", err)
	}
	if _, err := NewFlagRegistry(flags); err != nil {
		return nil, err
	}
	return flags, nil
}

// Get returns the flag of key, or nil.
func (r *FlagRegistry) Get(key string) *Flag { return r.flags[key] }

// Flags lists every flag, by key.
func (r *FlagRegistry) Flags() []*Flag {
	out := make([]*Flag, len(r.keys))
	for i, k := range r.keys {
		out[i] = r.flags[k]
	}
	return out
}

// Toggleable lists the flags tier t may set, by key.
func (r *FlagRegistry) Toggleable(t FlagTier) []*Flag {
	out := []*Flag{}
	for _, k := range r.keys {
		if f := r.flags[k]; f.Allows(t) {
			out = append(out, f)
		}
	}
	return out
}

func (r *FlagRegistry) toggleableKeys(t FlagTier) string {
	var keys []string
	for _, f := range r.Toggleable(t) {
		keys = append(keys, f.Key)
	}
	if len(keys) == 0 {
		return "(none)"
	}
	return strings.Join(keys, ", ")
}

// Check validates one value for key at tier t and returns it normalised,
// or the problem in words (listing what is allowed). A nil value is
// "inherit" and always valid.
func (r *FlagRegistry) Check(t FlagTier, key string, v any) (any, string) {
	f := r.flags[key]
	switch {
	case f == nil:
		return nil, fmt.Sprintf("unknown flag; the %s tier may set: %s", t, r.toggleableKeys(t))
	case !f.Allows(t):
		return nil, fmt.Sprintf("cannot be set at the %s tier (allowed: %s); the %s tier may set: %s",
			t, joinTiers(f.Tiers), t, r.toggleableKeys(t))
	case v == nil:
		return nil, ""
	}
	nv, ok := f.Value(v)
	if !ok {
		return nil, f.Want()
	}
	return nv, ""
}

func joinTiers(ts []FlagTier) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = string(t)
	}
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// CheckOverrides validates every value of m for tier t, adding a problem
// per key to fe as "<field>.<key>" and replacing each valid value with its
// normalised form. Null values are kept: in a patch they reset the key.
func (r *FlagRegistry) CheckOverrides(t FlagTier, field string, m map[string]any, fe FieldErrors) {
	for k, v := range m {
		nv, msg := r.Check(t, k, v)
		if msg != "" {
			fe.Add(field+"."+k, msg)
			continue
		}
		if v != nil {
			m[k] = nv
		}
	}
}

// ValidatePlanFeatures checks every plan's features against the registry:
// an unknown key, a wrong type or a flag the plan tier may not set stops
// start-up with the plan and key named.
func (r *FlagRegistry) ValidatePlanFeatures(plans []*Plan) error {
	for _, p := range plans {
		keys := make([]string, 0, len(p.Features))
		for k := range p.Features {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			nv, msg := r.Check(TierPlan, k, p.Features[k])
			if msg != "" {
				return fmt.Errorf("plan %q: features.%s: %s", p.ID, k, msg)
			}
			if p.Features[k] != nil {
				p.Features[k] = nv
			}
		}
	}
	return nil
}

// FlagLayers are the values set at each tier (nil maps for tiers that do
// not apply: no plan or tenant for a user without one).
type FlagLayers struct {
	Platform, Plan, Tenant, User map[string]any
}

// ResolvedFlags are the effective flag values and the tier that decided
// each.
type ResolvedFlags struct {
	Effective map[string]any      `json:"effective"`
	Explain   map[string]FlagTier `json:"explain"`
}

// Resolve applies the tiers in order over the defaults: built-in default,
// platform, plan, tenant, user. A null or absent value at a tier inherits;
// a value the flag does not take (a tier it does not allow, a wrong type,
// both possible when the registry changed under stored values) is ignored
// there, and so is a key that names no flag.
func (r *FlagRegistry) Resolve(l FlagLayers) ResolvedFlags {
	out := ResolvedFlags{Effective: make(map[string]any, len(r.keys)), Explain: make(map[string]FlagTier, len(r.keys))}
	layers := [...]map[string]any{l.Platform, l.Plan, l.Tenant, l.User}
	for _, k := range r.keys {
		f := r.flags[k]
		v, tier := f.Default, TierDefault
		for i, m := range layers {
			raw, ok := m[k]
			if !ok || raw == nil || !f.Allows(FlagTiers[i]) {
				continue
			}
			if nv, ok := f.Value(raw); ok {
				v, tier = nv, FlagTiers[i]
			}
		}
		out.Effective[k], out.Explain[k] = v, tier
	}
	return out
}

// FeatureState is the answer of GET|PUT /admin/tenants/{id}/features and
// /admin/users/{id}/features: the effective flags of the target, the
// target's own overrides as stored (keys that name no flag included), the
// tier that decided each effective value, and the flags this tier may set.
type FeatureState struct {
	Effective  map[string]any      `json:"effective"`
	Overrides  map[string]any      `json:"overrides"`
	Explain    map[string]FlagTier `json:"explain"`
	Toggleable []*Flag             `json:"toggleable"`
}

// EffectiveFeatures is the answer of GET /platform/features.
type EffectiveFeatures struct {
	UserID   string         `json:"user_id,omitempty"`
	TenantID string         `json:"tenant_id,omitempty"`
	Plan     string         `json:"plan,omitempty"`
	Features map[string]any `json:"features"`
}

// FeatureService reads and sets feature flags at the tenant and user tiers
// (the platform tier is the "features" section of /admin/config) and
// answers products (docs/flags.md).
type FeatureService interface {
	// TenantFeatures needs tenants:read; NOT_FOUND for a missing tenant.
	TenantFeatures(ctx context.Context, tenantID string) (*FeatureState, error)
	// UpdateTenantFeatures merge-patches the tenant's overrides (null
	// resets a key), audited features.update; it needs tenants:write.
	// VALIDATION_FAILED names "features.<key>" with what is allowed.
	UpdateTenantFeatures(ctx context.Context, tenantID string, patch map[string]any) (*FeatureState, error)
	// UserFeatures needs users:read; NOT_FOUND for a missing user.
	UserFeatures(ctx context.Context, userID string) (*FeatureState, error)
	// UpdateUserFeatures is UpdateTenantFeatures for a user's overrides;
	// it needs users:write.
	UpdateUserFeatures(ctx context.Context, userID string, patch map[string]any) (*FeatureState, error)
	// EffectiveFeatures answers a product from this replica's cache
	// (features:read): a user's flags (with their tenant's) when userID is
	// set, else a tenant's. NOT_FOUND for a missing or deleted one.
	EffectiveFeatures(ctx context.Context, userID, tenantID string) (*EffectiveFeatures, error)
}
