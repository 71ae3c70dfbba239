package main

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestWebhookSettings: both address settings default to false, read the
// environment, and a value that is not a boolean stops the program with
// the variable named.
func TestWebhookSettings(t *testing.T) {
	for val, want := range map[string]bool{"": false, "true": true, "false": false, "1": true} {
		var cfg config
		bindConfig(&cobra.Command{}, func(k string) string {
			if k == "STEWARD_WEBHOOK_ALLOW_INSECURE" || k == "STEWARD_WEBHOOK_ALLOW_PRIVATE" {
				return val
			}
			return ""
		}, &cfg)
		if cfg.Webhooks.AllowInsecure != want || cfg.Webhooks.AllowPrivate != want {
			t.Errorf("=%q: %+v, want both %v", val, cfg.Webhooks, want)
		}
	}
	bad := map[string]string{"STEWARD_WEBHOOK_ALLOW_PRIVATE": "maybe"}
	err := run(context.Background(), []string{"migrate"}, func(k string) string { return bad[k] }, nil, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "STEWARD_WEBHOOK_ALLOW_PRIVATE") {
		t.Errorf("STEWARD_WEBHOOK_ALLOW_PRIVATE=maybe: err = %v, want it refused", err)
	}
}
