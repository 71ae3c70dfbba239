package main

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// TestImpersonationSettings: the default, the environment, and a value out
// of range stopping the program with the setting named.
func TestImpersonationSettings(t *testing.T) {
	for val, want := range map[string]time.Duration{"": time.Hour, "30m": 30 * time.Minute} {
		var cfg config
		bindConfig(&cobra.Command{}, func(k string) string {
			if k == "STEWARD_IMPERSONATION_MAX" {
				return val
			}
			return ""
		}, &cfg)
		if cfg.ImpersonationMax != want {
			t.Errorf("STEWARD_IMPERSONATION_MAX=%q: %v, want %v", val, cfg.ImpersonationMax, want)
		}
	}
	for val, want := range map[string]bool{"": true, "false": false, "true": true, "0": false} {
		var cfg config
		bindConfig(&cobra.Command{}, func(k string) string {
			if k == "STEWARD_IMPERSONATION_DISCLOSE" {
				return val
			}
			return ""
		}, &cfg)
		if cfg.ImpersonationDisclose != want {
			t.Errorf("STEWARD_IMPERSONATION_DISCLOSE=%q: %v, want %v", val, cfg.ImpersonationDisclose, want)
		}
	}
	bad := map[string]string{"STEWARD_IMPERSONATION_DISCLOSE": "sometimes"}
	if err := run(context.Background(), []string{"migrate"}, func(k string) string { return bad[k] }, nil, io.Discard, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "STEWARD_IMPERSONATION_DISCLOSE") {
		t.Errorf("STEWARD_IMPERSONATION_DISCLOSE=sometimes: err = %v, want it refused", err)
	}
	for _, val := range []string{"30s", "25h", "soon"} {
		bad := map[string]string{"STEWARD_IMPERSONATION_MAX": val}
		err := run(context.Background(), []string{"migrate"}, func(k string) string { return bad[k] }, nil, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "IMPERSONATION_MAX") && !strings.Contains(err.Error(), "--impersonation-max") {
			t.Errorf("STEWARD_IMPERSONATION_MAX=%s: err = %v, want it refused, naming the setting", val, err)
		}
	}
}
