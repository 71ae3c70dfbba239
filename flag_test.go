package steward_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/stewardhq/steward"
)

// tierValues are, per flag type, a default and one distinct value per tier
// (platform, plan, tenant, user), written as encoding/json decodes them
// from a stored document.
var tierValues = map[steward.FlagType][5]any{
	steward.FlagBool:       {false, true, false, true, false},
	steward.FlagInt:        {int64(1), 2.0, 3.0, 4.0, 5.0},
	steward.FlagString:     {"d", "platform", "plan", "tenant", "user"},
	steward.FlagStringList: {[]string{"d"}, []any{"p"}, []any{"pl", "x"}, []any{}, []any{"u"}},
}

// normalized is v as Resolve returns it.
func normalized(typ steward.FlagType, v any) any {
	switch x := v.(type) {
	case float64:
		return int64(x)
	case []any:
		out := []string{}
		for _, s := range x {
			out = append(out, s.(string))
		}
		return out
	}
	return v
}

// TestResolveEveryTierCombination: for every type and every combination
// of each tier being absent, null or set, the effective value is the last
// tier's that is set (default → platform → plan → tenant → user), and
// explain names that tier.
func TestResolveEveryTierCombination(t *testing.T) {
	all := []steward.FlagTier{steward.TierPlatform, steward.TierPlan, steward.TierTenant, steward.TierUser}
	for typ, vals := range tierValues {
		reg, err := steward.NewFlagRegistry([]*steward.Flag{{Key: "f", Type: typ, Default: vals[0], Tiers: all}})
		if err != nil {
			t.Fatal(err)
		}
		for combo := range 81 { // 3^4: absent, null, set per tier
			layers := [4]map[string]any{}
			want, wantTier := normalized(typ, vals[0]), steward.TierDefault
			var desc []string
			for i, c := 0, combo; i < 4; i, c = i+1, c/3 {
				switch c % 3 {
				case 0:
					desc = append(desc, "-")
				case 1:
					layers[i] = map[string]any{"f": nil}
					desc = append(desc, "null")
				case 2:
					layers[i] = map[string]any{"f": vals[i+1]}
					want, wantTier = normalized(typ, vals[i+1]), all[i]
					desc = append(desc, "set")
				}
			}
			got := reg.Resolve(steward.FlagLayers{Platform: layers[0], Plan: layers[1], Tenant: layers[2], User: layers[3]})
			if !reflect.DeepEqual(got.Effective["f"], want) || got.Explain["f"] != wantTier {
				t.Errorf("%s %v: got %#v from %s, want %#v from %s", typ, desc, got.Effective["f"], got.Explain["f"], want, wantTier)
			}
		}
	}
}

// TestResolveIgnoresWhatTheFlagDoesNotTake: a value at a tier the flag does
// not allow, a value of the wrong type and a key that names no flag leave
// the result as if they were absent; every flag of the registry is in the
// answer.
func TestResolveIgnoresWhatTheFlagDoesNotTake(t *testing.T) {
	reg, err := steward.NewFlagRegistry([]*steward.Flag{
		{Key: "seats", Type: steward.FlagInt, Default: 1, Tiers: []steward.FlagTier{steward.TierPlan, steward.TierPlatform}},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := reg.Resolve(steward.FlagLayers{
		Platform: map[string]any{"seats": 2.0, "ghost": true},
		Plan:     map[string]any{"seats": "many", "sso": true},
		Tenant:   map[string]any{"seats": 9.0, "sso": "yes"},
		User:     map[string]any{"seats": 10.0, "sso": false, "api_access": false},
	})
	want := map[string]any{"seats": int64(2), "sso": true, "api_access": false, "priority_support": false, "audit_log_days": int64(7)}
	wantExplain := map[string]steward.FlagTier{"seats": "platform", "sso": "plan", "api_access": "user",
		"priority_support": "default", "audit_log_days": "default"}
	if !reflect.DeepEqual(got.Effective, want) || !reflect.DeepEqual(got.Explain, wantExplain) {
		t.Fatalf("got %v %v, want %v %v", got.Effective, got.Explain, want, wantExplain)
	}
}

// TestFlagRegistryRules: what a [[flags]] entry must be, each refusal
// naming the flag and the field.
func TestFlagRegistryRules(t *testing.T) {
	tiers := []steward.FlagTier{steward.TierUser}
	for _, c := range []struct {
		f    steward.Flag
		want string
	}{
		{steward.Flag{Key: "Bad Key", Type: "bool", Default: true, Tiers: tiers}, "key: must be"},
		{steward.Flag{Key: "a", Type: "float", Default: 1.5, Tiers: tiers}, "type: must be bool, int, string or string_list"},
		{steward.Flag{Key: "a", Type: "bool", Tiers: tiers}, "default: is required"},
		{steward.Flag{Key: "a", Type: "bool", Default: "yes", Tiers: tiers}, "default: want true or false"},
		{steward.Flag{Key: "a", Type: "int", Default: 1.5, Tiers: tiers}, "default: want a whole number"},
		{steward.Flag{Key: "a", Type: "string_list", Default: []any{1}, Tiers: tiers}, "default: want a list"},
		{steward.Flag{Key: "a", Type: "string", Default: strings.Repeat("x", 1025), Tiers: tiers}, "default: want a string"},
		{steward.Flag{Key: "a", Type: "bool", Default: true, Tiers: []steward.FlagTier{"org"}}, `tiers: "org" is not a tier`},
		{steward.Flag{Key: "a", Type: "bool", Default: true, Tiers: []steward.FlagTier{"user", "user"}}, `tiers: "user" is listed twice`},
	} {
		_, err := steward.NewFlagRegistry([]*steward.Flag{&c.f})
		if err == nil || !strings.Contains(err.Error(), "flags[0] ("+c.f.Key+"): "+c.want) {
			t.Errorf("%+v: %v, want %q", c.f, err, c.want)
		}
	}
	_, err := steward.NewFlagRegistry([]*steward.Flag{
		{Key: "a", Type: "bool", Default: true}, {Key: "a", Type: "bool", Default: false}})
	if err == nil || !strings.Contains(err.Error(), "flags[1] (a): key is used by an earlier flag") {
		t.Errorf("duplicate key: %v", err)
	}
	// A flag with no tiers is valid: only its default ever applies.
	reg, err := steward.NewFlagRegistry([]*steward.Flag{{Key: "fixed", Type: "int", Default: 4}})
	if err != nil {
		t.Fatal(err)
	}
	if _, msg := reg.Check(steward.TierPlatform, "fixed", 5.0); !strings.Contains(msg, "cannot be set at the platform tier (allowed: none)") {
		t.Errorf("fixed flag at the platform tier: %q", msg)
	}
}

// TestFlagCheck: Check normalises a good value and says what is allowed
// for a bad one; null always passes (it means inherit).
func TestFlagCheck(t *testing.T) {
	reg := steward.DefaultFlagRegistry()
	for _, c := range []struct {
		tier steward.FlagTier
		key  string
		v    any
		want any
		msg  string
	}{
		{steward.TierTenant, "audit_log_days", 30.0, int64(30), ""},
		{steward.TierTenant, "audit_log_days", 30.5, nil, "want a whole number"},
		{steward.TierTenant, "audit_log_days", float64(1 << 54), nil, "want a whole number"},
		{steward.TierTenant, "sso", "true", nil, "want true or false"},
		{steward.TierUser, "sso", true, nil, "cannot be set at the user tier (allowed: platform, plan, tenant); the user tier may set: api_access"},
		{steward.TierUser, "nope", true, nil, "unknown flag; the user tier may set: api_access"},
		{steward.TierUser, "api_access", nil, nil, ""},
		{steward.TierPlatform, "api_access", false, false, ""},
	} {
		got, msg := reg.Check(c.tier, c.key, c.v)
		if msg != c.msg && (c.msg == "" || !strings.HasPrefix(msg, c.msg)) {
			t.Errorf("Check(%s, %s, %v) problem %q, want %q", c.tier, c.key, c.v, msg, c.msg)
		}
		if c.msg == "" && !reflect.DeepEqual(got, c.want) {
			t.Errorf("Check(%s, %s, %v) = %#v, want %#v", c.tier, c.key, c.v, got, c.want)
		}
	}
}

// TestBuiltinPlansMatchBuiltinFlags: the built-in catalogue validates
// against the built-in registry, so a deployment without configuration
// starts.
func TestBuiltinPlansMatchBuiltinFlags(t *testing.T) {
	if err := steward.DefaultFlagRegistry().ValidatePlanFeatures(steward.DefaultPlans()); err != nil {
		t.Fatal(err)
	}
	plans := steward.DefaultPlans()
	plans[0].Features["sso"] = 1
	err := steward.DefaultFlagRegistry().ValidatePlanFeatures(plans)
	if err == nil || err.Error() != `plan "free": features.sso: want true or false` {
		t.Fatalf("a bad plan feature: %v", err)
	}
}

// TestParseFlags reads the JSON form of [[flags]] and refuses unknown fields.
func TestParseFlags(t *testing.T) {
	flags, err := steward.ParseFlags([]byte(`[{"key": "n", "type": "int", "default": 3, "description": "d", "tiers": ["user"]}]`))
	if err != nil || len(flags) != 1 {
		t.Fatalf("%v %v", flags, err)
	}
	if _, err := steward.ParseFlags([]byte(`[{"key": "n", "type": "int", "default": 3, "scope": "x"}]`)); err == nil ||
		!strings.Contains(err.Error(), `unknown field "scope"`) {
		t.Fatalf("unknown field: %v", err)
	}
	b, _ := json.Marshal(steward.DefaultFlagRegistry().Toggleable(steward.TierUser))
	if !strings.Contains(string(b), `"key":"api_access"`) || strings.Contains(string(b), "sso") {
		t.Fatalf("user-tier toggleable = %s", b)
	}
}
