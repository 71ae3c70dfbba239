package main

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestPlanFeaturesFromJSONAreChecked: a STEWARD_PLANS plan whose features
// name no flag, or a flag of another type, stops start-up naming the file,
// the plan and the key — the same rule as [[plans]] in the file.
func TestPlanFeaturesFromJSONAreChecked(t *testing.T) {
	for body, want := range map[string]string{
		`{"plans": [{"id": "p", "name": "P", "features": {"ssh": true}}]}`:           `plan "p": features.ssh: unknown flag; the plan tier may set: api_access, audit_log_days, priority_support, sso`,
		`{"plans": [{"id": "p", "name": "P", "features": {"audit_log_days": 1.5}}]}`: `plan "p": features.audit_log_days: want a whole number`,
	} {
		plans := writeFile(t, "plans.json", body)
		_, err := runConfig(t, map[string]string{"STEWARD_PLANS": plans}, "config", "check")
		if err == nil || !strings.Contains(err.Error(), plans+": "+want) {
			t.Errorf("config check with %s: %v, want %q", body, err, want)
		}
	}
	// A flag the file adds is one JSON plans may set.
	conf := writeFile(t, "steward.toml", "[[flags]]\nkey = \"ssh\"\ntype = \"bool\"\ndefault = false\ntiers = [\"plan\", \"user\"]\n")
	plans := writeFile(t, "plans.json", `{"plans": [{"id": "p", "name": "P", "features": {"ssh": true}}]}`)
	if out, err := runConfig(t, map[string]string{"STEWARD_PLANS": plans, "STEWARD_CONFIG": conf}, "config", "check"); err != nil {
		t.Fatalf("a plan setting a file flag: %v %s", err, out)
	}
	if got := shown(t, map[string]string{"STEWARD_CONFIG": conf})["[[flags]]"]; got != [2]string{"ssh", "file"} {
		t.Fatalf("config show lists the file's flags as %v", got)
	}
}

// TestCatalogueCarriesFileFlags: the registry start-up builds holds the
// file's flags beside the built-in ones, a redefinition replacing the
// built-in, and the plans' values normalised to the flag's type.
func TestCatalogueCarriesFileFlags(t *testing.T) {
	conf := writeFile(t, "steward.toml", `
[[flags]]
key = "sso"
type = "string"
default = "none"
description = "Which SSO"
tiers = ["tenant", "plan"]

[[flags]]
key = "seats"
type = "int"
default = 3
tiers = ["user", "platform"]

[[plans]]
id = "p"
name = "P"
[plans.features]
sso = "saml"
`)
	c := &config{}
	root := &cobra.Command{Use: "steward"}
	getenv := func(string) string { return "" }
	bindConfig(root, getenv, c)
	c.ConfigFile = conf
	if err := c.loadConfigFile(root, getenv); err != nil {
		t.Fatal(err)
	}
	plans, reg, err := c.catalogue()
	if err != nil {
		t.Fatal(err)
	}
	if f := reg.Get("sso"); f == nil || f.Type != "string" || f.Default != "none" || len(f.Tiers) != 2 || f.Tiers[0] != "plan" {
		t.Fatalf("sso = %+v, want the file's string flag, tiers in resolution order", f)
	}
	if f := reg.Get("seats"); f == nil || f.Default != int64(3) || f.Tiers[0] != "platform" {
		t.Fatalf("seats = %+v", f)
	}
	if reg.Get("api_access") == nil {
		t.Fatal("the built-in api_access is gone")
	}
	if len(plans) != 1 || plans[0].Features["sso"] != "saml" {
		t.Fatalf("plans = %+v", plans)
	}
}
