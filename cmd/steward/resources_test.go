package main

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// TestResourceStaleAfterSetting: the default, the environment, and a value
// too short or unreadable stopping the program with the setting named (the
// file and flag are in TestConfigPrecedence).
func TestResourceStaleAfterSetting(t *testing.T) {
	for val, want := range map[string]time.Duration{"": 7 * 24 * time.Hour, "1m": time.Minute, "720h": 30 * 24 * time.Hour} {
		var cfg config
		bindConfig(&cobra.Command{}, func(k string) string {
			if k == "STEWARD_RESOURCE_STALE_AFTER" {
				return val
			}
			return ""
		}, &cfg)
		if cfg.ResourceStaleAfter != want {
			t.Errorf("STEWARD_RESOURCE_STALE_AFTER=%q: %v, want %v", val, cfg.ResourceStaleAfter, want)
		}
	}
	for _, val := range []string{"59s", "0s", "7d"} {
		bad := map[string]string{"STEWARD_RESOURCE_STALE_AFTER": val}
		err := run(context.Background(), []string{"migrate"}, func(k string) string { return bad[k] }, nil, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "RESOURCE_STALE_AFTER") && !strings.Contains(err.Error(), "--resource-stale-after") {
			t.Errorf("STEWARD_RESOURCE_STALE_AFTER=%s: err = %v, want it refused, naming the setting", val, err)
		}
	}
}
