package main

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// TestKeyUsageRetentionSetting: the default, the environment, and a value
// too short or unreadable stopping the program with the setting named.
func TestKeyUsageRetentionSetting(t *testing.T) {
	for val, want := range map[string]time.Duration{"": 90 * 24 * time.Hour, "24h": 24 * time.Hour, "8760h": 365 * 24 * time.Hour} {
		var cfg config
		bindConfig(&cobra.Command{}, func(k string) string {
			if k == "STEWARD_KEY_USAGE_RETENTION" {
				return val
			}
			return ""
		}, &cfg)
		if cfg.KeyUsageRetention != want {
			t.Errorf("STEWARD_KEY_USAGE_RETENTION=%q: %v, want %v", val, cfg.KeyUsageRetention, want)
		}
	}
	for _, val := range []string{"23h59m", "0s", "90d"} {
		bad := map[string]string{"STEWARD_KEY_USAGE_RETENTION": val}
		err := run(context.Background(), []string{"migrate"}, func(k string) string { return bad[k] }, nil, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "KEY_USAGE_RETENTION") && !strings.Contains(err.Error(), "--key-usage-retention") {
			t.Errorf("STEWARD_KEY_USAGE_RETENTION=%s: err = %v, want it refused, naming the setting", val, err)
		}
	}
}
