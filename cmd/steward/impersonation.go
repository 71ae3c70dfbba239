package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"
)

// bindImpersonation registers the impersonation settings (docs/impersonation.md).
func bindImpersonation(cmd *cobra.Command, getenv func(string) string, c *config) {
	cmd.PersistentFlags().DurationVar(&c.ImpersonationMax, "impersonation-max", envDuration(getenv, c, "STEWARD_IMPERSONATION_MAX", time.Hour),
		"the longest an impersonation may last, 1m to 24h; a longer request is refused (STEWARD_IMPERSONATION_MAX)")
	disclose := true
	if v := getenv("STEWARD_IMPERSONATION_DISCLOSE"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			c.envErrs = append(c.envErrs, fmt.Errorf("STEWARD_IMPERSONATION_DISCLOSE=%q: want true or false", v))
		}
		disclose = b || err != nil
	}
	cmd.PersistentFlags().BoolVar(&c.ImpersonationDisclose, "impersonation-disclose", disclose,
		"users see who impersonated them, when, how long and why, at GET /api/v1/auth/impersonations (STEWARD_IMPERSONATION_DISCLOSE)")
}

func (c *config) validateImpersonation() error {
	if c.ImpersonationMax < time.Minute || c.ImpersonationMax > 24*time.Hour {
		return fmt.Errorf("--impersonation-max %v: want a duration from 1m to 24h", c.ImpersonationMax)
	}
	return nil
}
