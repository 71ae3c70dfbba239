package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/stewardhq/steward/service"
)

// bindResources registers the resources settings (docs/resources.md).
func bindResources(cmd *cobra.Command, getenv func(string) string, c *config) {
	cmd.PersistentFlags().DurationVar(&c.ResourceStaleAfter, "resource-stale-after",
		envDuration(getenv, c, "STEWARD_RESOURCE_STALE_AFTER", service.DefaultResourceStaleAfter),
		"how long a resource may go unreported before POST /admin/computers/purge-stale erases it when the request names no older_than, 1m or more (STEWARD_RESOURCE_STALE_AFTER)")
}

func (c *config) validateResources() error {
	if c.ResourceStaleAfter < time.Minute {
		return fmt.Errorf("--resource-stale-after %v: want 1m or more", c.ResourceStaleAfter)
	}
	return nil
}
