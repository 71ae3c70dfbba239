package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/api"
	"github.com/stewardhq/steward/service"
)

// config is every setting, read from flags with environment fallbacks.
// docs/configuration.md lists them; keep the two in step.
type config struct {
	Addr              string
	DB                string
	KeyPrefix         string
	BootstrapEmail    string
	BootstrapPassword string
	LogLevel          string
	LogFormat         string
	UserKeyScopes     []string
	KeyPurposes       []string
	PlansFile         string
	AdminRateLimit    int // admin requests per credential per minute; 0 = no limit
	AdminRateBurst    int // 0 = ten seconds' worth
	envErrs           []error
	// SecretKey and SecretKeyPrevious come from the environment only
	// (STEWARD_SECRET_KEY, STEWARD_SECRET_KEY_PREVIOUS), parsed by validate.
	SecretKey, SecretKeyPrevious       []byte
	secretKeyRaw, secretKeyPreviousRaw string
	CheckpointInterval                 time.Duration
	checkpointIntervalRaw              string
	TrustedProxies                     []string
	HashConcurrency                    int
	HashQueueWait                      time.Duration

	trustedProxies []netip.Prefix // TrustedProxies, parsed by validate
}

// bindConfig registers the flags; an environment variable fills a flag the
// command line did not set.
func bindConfig(cmd *cobra.Command, getenv func(string) string, c *config) {
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	f := cmd.PersistentFlags()
	f.StringVar(&c.Addr, "addr", env("STEWARD_ADDR", "127.0.0.1:8080"), "listen address (STEWARD_ADDR)")
	f.StringVar(&c.DB, "db", env("STEWARD_DB", "sqlite:steward.db"), "database: sqlite:<path> or a postgres:// URL (STEWARD_DB)")
	f.StringVar(&c.KeyPrefix, "key-prefix", env("STEWARD_KEY_PREFIX", "stw"), "prefix of tokens and keys (STEWARD_KEY_PREFIX)")
	f.StringVar(&c.BootstrapEmail, "bootstrap-email", env("STEWARD_BOOTSTRAP_EMAIL", service.DefaultBootstrapEmail), "first operator's email (STEWARD_BOOTSTRAP_EMAIL)")
	c.BootstrapPassword = getenv("STEWARD_BOOTSTRAP_PASSWORD") // environment only: flags show up in ps
	f.StringVar(&c.LogLevel, "log-level", env("STEWARD_LOG_LEVEL", "info"), "debug, info, warn or error (STEWARD_LOG_LEVEL)")
	f.StringVar(&c.LogFormat, "log-format", env("STEWARD_LOG_FORMAT", "text"), "text or json (STEWARD_LOG_FORMAT)")
	f.StringSliceVar(&c.UserKeyScopes, "user-key-scopes", list(getenv("STEWARD_USER_KEY_SCOPES")),
		"scopes end users' keys may carry, comma-separated (STEWARD_USER_KEY_SCOPES; default read,write)")
	f.StringSliceVar(&c.KeyPurposes, "key-purposes", list(getenv("STEWARD_KEY_PURPOSES")),
		"purposes a key may name, comma-separated (STEWARD_KEY_PURPOSES; default api,automation,ci,integration,internal,testing)")
	envInt := func(name string, def int) int {
		v := getenv(name)
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			c.envErrs = append(c.envErrs, fmt.Errorf("%s=%q: want a whole number, 0 or more", name, v))
		}
		return n
	}
	f.IntVar(&c.AdminRateLimit, "admin-rate-limit", envInt("STEWARD_ADMIN_RATE_LIMIT", api.DefaultAdminRatePerMinute),
		"admin requests one credential may make per minute, per replica; 0 turns the limit off (STEWARD_ADMIN_RATE_LIMIT)")
	f.IntVar(&c.AdminRateBurst, "admin-rate-burst", envInt("STEWARD_ADMIN_RATE_BURST", 0),
		"admin requests one credential may make at once; 0 is ten seconds' worth of the limit (STEWARD_ADMIN_RATE_BURST)")
	f.StringVar(&c.PlansFile, "plans", env("STEWARD_PLANS", ""),
		"JSON file with the plan catalogue (STEWARD_PLANS; default the built-in free, starter, pro, scale)")
	// Environment only, like the bootstrap password: flags show up in ps.
	c.secretKeyRaw, c.secretKeyPreviousRaw = getenv("STEWARD_SECRET_KEY"), getenv("STEWARD_SECRET_KEY_PREVIOUS")
	f.StringVar(&c.checkpointIntervalRaw, "audit-checkpoint-interval", env("STEWARD_AUDIT_CHECKPOINT_INTERVAL", service.DefaultCheckpointInterval.String()),
		"how often the audit chain's head is signed when it has moved, 1m to 24h (STEWARD_AUDIT_CHECKPOINT_INTERVAL)")
	f.StringSliceVar(&c.TrustedProxies, "trusted-proxies", list(getenv("STEWARD_TRUSTED_PROXIES")),
		"CIDRs of reverse proxies whose X-Forwarded-For names the client, comma-separated (STEWARD_TRUSTED_PROXIES; default none)")
	f.IntVar(&c.HashConcurrency, "hash-concurrency", envCount(getenv, "STEWARD_HASH_CONCURRENCY"),
		"password hashes run at once, 64 MiB each (STEWARD_HASH_CONCURRENCY; default 0 = the number of CPUs)")
	f.DurationVar(&c.HashQueueWait, "hash-queue-wait", envDuration(getenv, "STEWARD_HASH_QUEUE_WAIT"),
		"how long a login waits for a hashing slot before a 429 (STEWARD_HASH_QUEUE_WAIT; default 0 = 2s)")
}

// envCount and envDuration read a numeric setting; a malformed one is kept
// as -1 so that validate names it rather than falling back silently.
func envCount(getenv func(string) string, name string) int {
	v := getenv(name)
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return -1
	}
	return n
}

func envDuration(getenv func(string) string, name string) time.Duration {
	v := getenv(name)
	if v == "" {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return -1
	}
	return d
}

// plans reads the plan catalogue file, or returns nil for the built-in one.
func (c *config) plans() ([]*steward.Plan, error) {
	if c.PlansFile == "" {
		return nil, nil
	}
	data, err := os.ReadFile(c.PlansFile)
	if err != nil {
		return nil, fmt.Errorf("plan catalogue: %w", err)
	}
	plans, err := steward.ParsePlans(data)
	if err != nil {
		return nil, fmt.Errorf("plan catalogue %s: %w", c.PlansFile, err)
	}
	return plans, nil
}

// adminRate is the admin limit as api.Deps takes it (there, 0 is the
// default and below 0 is off).
func (c *config) adminRate() (perMinute, burst int) {
	if c.AdminRateLimit == 0 {
		return -1, 0
	}
	return c.AdminRateLimit, c.AdminRateBurst
}

// list splits a comma-separated setting, dropping empty items.
func list(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (c *config) validate() error {
	if err := errors.Join(c.envErrs...); err != nil {
		return err
	}
	if c.AdminRateLimit < 0 || c.AdminRateBurst < 0 {
		return fmt.Errorf("--admin-rate-limit and --admin-rate-burst: want 0 or more")
	}
	if c.KeyPrefix == "" || len(c.KeyPrefix) > 16 || strings.ContainsAny(c.KeyPrefix, "_ ") {
		return fmt.Errorf("key prefix %q: 1-16 characters without '_' or spaces", c.KeyPrefix)
	}
	if c.HashConcurrency < 0 {
		return fmt.Errorf("hash concurrency: want a whole number of slots, 0 for one per CPU")
	}
	if c.HashQueueWait < 0 {
		return fmt.Errorf("hash queue wait: want a duration such as 2s, 0 for the default")
	}
	var err error
	if c.trustedProxies, err = api.ParseTrustedProxies(c.TrustedProxies); err != nil {
		return err
	}
	return c.validateAuditSettings()
}

// validateAuditSettings parses the key-encryption secrets and the
// checkpoint interval.
func (c *config) validateAuditSettings() error {
	var err error
	if c.secretKeyRaw != "" {
		if c.SecretKey, err = service.ParseSecretKey(c.secretKeyRaw); err != nil {
			return fmt.Errorf("STEWARD_SECRET_KEY %w", err)
		}
	}
	if c.secretKeyPreviousRaw != "" {
		if c.SecretKeyPrevious, err = service.ParseSecretKey(c.secretKeyPreviousRaw); err != nil {
			return fmt.Errorf("STEWARD_SECRET_KEY_PREVIOUS %w", err)
		}
	}
	d, err := time.ParseDuration(c.checkpointIntervalRaw)
	if err != nil || d < time.Minute || d > 24*time.Hour {
		return fmt.Errorf("audit checkpoint interval %q: want a duration from 1m to 24h, such as 15m", c.checkpointIntervalRaw)
	}
	c.CheckpointInterval = d
	return nil
}

func (c *config) logger(w io.Writer) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return nil, fmt.Errorf("log level %q: %w", c.LogLevel, err)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch c.LogFormat {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log format %q: want text or json", c.LogFormat)
}
