package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/stewardhq/steward/service"
)

// bindKeyUsage registers the key-analytics settings (docs/api-keys.md, Key
// analytics).
func bindKeyUsage(cmd *cobra.Command, getenv func(string) string, c *config) {
	cmd.PersistentFlags().DurationVar(&c.KeyUsageRetention, "key-usage-retention",
		envDuration(getenv, c, "STEWARD_KEY_USAGE_RETENTION", service.DefaultKeyUsageRetention),
		"how long per-minute counts of key verifications are kept, 24h or more; 2160h is 90 days (STEWARD_KEY_USAGE_RETENTION)")
}

func (c *config) validateKeyUsage() error {
	if c.KeyUsageRetention < 24*time.Hour {
		return fmt.Errorf("--key-usage-retention %v: want 24h or more", c.KeyUsageRetention)
	}
	return nil
}
