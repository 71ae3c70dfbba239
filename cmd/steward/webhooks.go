package main

import (
	"fmt"
	"strconv"

	"github.com/spf13/cobra"
)

// bindWebhooks registers the webhook receiver address settings
// (service.WebhookAddressPolicy, docs/webhooks.md#receiver-addresses).
func bindWebhooks(cmd *cobra.Command, getenv func(string) string, c *config) {
	boolEnv := func(name string) bool {
		v := getenv(name)
		if v == "" {
			return false
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			c.envErrs = append(c.envErrs, fmt.Errorf("%s=%q: want true or false", name, v))
		}
		return b
	}
	f := cmd.PersistentFlags()
	f.BoolVar(&c.Webhooks.AllowInsecure, "webhook-allow-insecure", boolEnv("STEWARD_WEBHOOK_ALLOW_INSECURE"),
		"webhook endpoints may be http:// and loopback addresses, for a receiver on this host (STEWARD_WEBHOOK_ALLOW_INSECURE)")
	f.BoolVar(&c.Webhooks.AllowPrivate, "webhook-allow-private", boolEnv("STEWARD_WEBHOOK_ALLOW_PRIVATE"),
		"webhook endpoints may be private and link-local addresses; cloud metadata addresses never (STEWARD_WEBHOOK_ALLOW_PRIVATE)")
}
