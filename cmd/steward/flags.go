package main

import (
	"encoding/json"
	"fmt"

	"github.com/stewardhq/steward"
)

// parseFileFlags reads the file's [[flags]] through the JSON form, so the
// file and the registry share one set of rules.
func parseFileFlags(v any) ([]*steward.Flag, error) {
	doc, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("flags: %w", err)
	}
	return steward.ParseFlags(doc)
}

// catalogue is the plan catalogue (nil: the built-in one) and the flag
// registry, the plans' features checked against it: an unknown key, a
// wrong type or a flag the plan tier may not set stops start-up naming the
// plan and the key, wherever the plan was written (STEWARD_PLANS or
// [[plans]]).
func (c *config) catalogue() ([]*steward.Plan, *steward.FlagRegistry, error) {
	plans, err := c.plans()
	if err != nil {
		return nil, nil, err
	}
	reg, err := steward.NewFlagRegistry(c.fileFlagDefs)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", c.ConfigFile, err)
	}
	fromFile := map[*steward.Plan]bool{}
	for _, p := range c.filePlans {
		fromFile[p] = true
	}
	check, builtin := plans, false
	if len(check) == 0 {
		check, builtin = steward.DefaultPlans(), true
	}
	for _, p := range check {
		if err := reg.ValidatePlanFeatures([]*steward.Plan{p}); err != nil {
			where := c.PlansFile
			switch {
			case fromFile[p]:
				where = c.ConfigFile
			case builtin && c.ConfigFile != "":
				where = c.ConfigFile + " (its [[flags]] against the built-in plans)"
			case builtin:
				where = "built-in plans"
			}
			return nil, nil, fmt.Errorf("%s: %w", where, err)
		}
	}
	return plans, reg, nil
}
