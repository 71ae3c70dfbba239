package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
)

// bindImpersonation registers the impersonation settings (docs/impersonation.md).
func bindImpersonation(cmd *cobra.Command, getenv func(string) string, c *config) {
	cmd.PersistentFlags().DurationVar(&c.ImpersonationMax, "impersonation-max", envDuration(getenv, c, "STEWARD_IMPERSONATION_MAX", time.Hour),
		"the longest an impersonation may last, 1m to 24h; a longer request is refused (STEWARD_IMPERSONATION_MAX)")
}

func (c *config) validateImpersonation() error {
	if c.ImpersonationMax < time.Minute || c.ImpersonationMax > 24*time.Hour {
		return fmt.Errorf("--impersonation-max %v: want a duration from 1m to 24h", c.ImpersonationMax)
	}
	return nil
}
