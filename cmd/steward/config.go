package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/api"
	"github.com/stewardhq/steward/service"
	"github.com/stewardhq/steward/store/datatables"
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
	// Long reads and connections: see httpserver.go.
	MaxLongReads       int
	StreamStallTimeout time.Duration
	MaxConnections     int
	// IssuersFile names the trusted external issuers (STEWARD_TRUSTED_ISSUERS).
	IssuersFile string
	// ImpersonationMax caps an impersonation's length (impersonation.go).
	ImpersonationMax      time.Duration
	ImpersonationDisclose bool
	// ReplicaID names this process (health.go).
	ReplicaID string
	// KeyUsageRetention is how long key-usage counts are kept (keyusage.go).
	KeyUsageRetention time.Duration
	// Webhooks are the receiver address settings (webhooks.go).
	Webhooks service.WebhookAddressPolicy
	// ResourceStaleAfter is the default age of a stale resource purge (resources.go).
	ResourceStaleAfter time.Duration
	// envErrs are environment values that did not parse; validate reports them.
	envErrs []error
	// ConfigFile is the TOML file (STEWARD_CONFIG); configfile.go reads it
	// into the flags it does not override, its plans into filePlans, and
	// where each setting came from into sources.
	ConfigFile  string
	filePlans   []*steward.Plan
	fileIssuers []service.TrustedIssuer
	sources     map[string]string
	fileFlags   []string // the flags the file set

	// fileFlagDefs are the file's [[flags]] (flags.go).
	fileFlagDefs []*steward.Flag
	// fileModels are the file's [[models]], validated (models.go).
	fileModels []*steward.Model
	// fileData is the file's [data] (configdata.go).
	fileData datatables.Config
	// fileActions are the file's [[actions]] (configactions.go).
	fileActions *fileActions
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
		"purposes a key may name, comma-separated (STEWARD_KEY_PURPOSES; default api,automation,ci,integration,internal,optimal,testing)")
	f.IntVar(&c.AdminRateLimit, "admin-rate-limit", envInt(getenv, c, "STEWARD_ADMIN_RATE_LIMIT", api.DefaultAdminRatePerMinute),
		"admin requests one credential may make per minute, per replica; 0 turns the limit off (STEWARD_ADMIN_RATE_LIMIT)")
	f.IntVar(&c.AdminRateBurst, "admin-rate-burst", envInt(getenv, c, "STEWARD_ADMIN_RATE_BURST", 0),
		"admin requests one credential may make at once; 0 is ten seconds' worth of the limit (STEWARD_ADMIN_RATE_BURST)")
	f.StringVar(&c.PlansFile, "plans", env("STEWARD_PLANS", ""),
		"JSON file with the plan catalogue (STEWARD_PLANS; default the built-in free, starter, pro, scale)")
	f.StringVar(&c.IssuersFile, "trusted-issuers", env("STEWARD_TRUSTED_ISSUERS", ""),
		"JSON file of external identity providers whose JWTs the admin surface accepts (STEWARD_TRUSTED_ISSUERS; default none)")
	// Environment only, like the bootstrap password: flags show up in ps.
	c.secretKeyRaw, c.secretKeyPreviousRaw = getenv("STEWARD_SECRET_KEY"), getenv("STEWARD_SECRET_KEY_PREVIOUS")
	f.StringVar(&c.checkpointIntervalRaw, "audit-checkpoint-interval", env("STEWARD_AUDIT_CHECKPOINT_INTERVAL", service.DefaultCheckpointInterval.String()),
		"how often the audit chain's head is signed when it has moved, 1m to 24h (STEWARD_AUDIT_CHECKPOINT_INTERVAL)")
	f.StringSliceVar(&c.TrustedProxies, "trusted-proxies", list(getenv("STEWARD_TRUSTED_PROXIES")),
		"CIDRs of reverse proxies whose X-Forwarded-For names the client, comma-separated (STEWARD_TRUSTED_PROXIES; default none)")
	f.IntVar(&c.HashConcurrency, "hash-concurrency", envInt(getenv, c, "STEWARD_HASH_CONCURRENCY", 0),
		"password hashes run at once, 64 MiB each (STEWARD_HASH_CONCURRENCY; default 0 = the number of CPUs)")
	f.DurationVar(&c.HashQueueWait, "hash-queue-wait", envDuration(getenv, c, "STEWARD_HASH_QUEUE_WAIT", 0),
		"how long a login waits for a hashing slot before a 429 (STEWARD_HASH_QUEUE_WAIT; default 0 = 2s)")
	f.IntVar(&c.MaxLongReads, "max-long-reads", envInt(getenv, c, "STEWARD_MAX_LONG_READS", api.DefaultMaxLongReads),
		"audit exports and chain verifications running at once; more are answered 429 (STEWARD_MAX_LONG_READS)")
	f.DurationVar(&c.StreamStallTimeout, "stream-stall-timeout", envDuration(getenv, c, "STEWARD_STREAM_STALL_TIMEOUT", api.DefaultStallTimeout),
		"how long a stream waits for a client to take its next 32 KiB before cutting it off (STEWARD_STREAM_STALL_TIMEOUT)")
	f.IntVar(&c.MaxConnections, "max-connections", envInt(getenv, c, "STEWARD_MAX_CONNECTIONS", defaultMaxConnections),
		"open HTTP connections at most; more wait to be accepted (STEWARD_MAX_CONNECTIONS)")
	bindImpersonation(cmd, getenv, c)
	bindReplica(cmd, getenv, c)
	bindKeyUsage(cmd, getenv, c)
	bindWebhooks(cmd, getenv, c)
	bindResources(cmd, getenv, c)
	bindConfigFile(cmd, getenv, c)
}

// plans reads the plan catalogue file and joins the configuration file's
// plans, or returns nil for the built-in catalogue.
func (c *config) plans() ([]*steward.Plan, error) {
	if c.PlansFile == "" {
		return c.filePlans, nil
	}
	data, err := os.ReadFile(c.PlansFile)
	if err != nil {
		return nil, fmt.Errorf("plan catalogue: %w", err)
	}
	plans, err := steward.ParsePlans(data)
	if err != nil {
		return nil, fmt.Errorf("plan catalogue %s: %w", c.PlansFile, err)
	}
	return mergePlans(c.filePlans, plans, c.ConfigFile, c.PlansFile)
}

// trustedIssuers reads the trusted-issuer file and joins the configuration
// file's, or returns nil when there are none.
func (c *config) trustedIssuers() ([]service.TrustedIssuer, error) {
	if c.IssuersFile == "" {
		return c.fileIssuers, nil
	}
	data, err := os.ReadFile(c.IssuersFile)
	if err != nil {
		return nil, fmt.Errorf("trusted issuers: %w", err)
	}
	iss, err := service.ParseTrustedIssuers(data)
	if err != nil {
		return nil, fmt.Errorf("trusted issuers %s: %w", c.IssuersFile, err)
	}
	return mergeIssuers(c.fileIssuers, iss, c.ConfigFile, c.IssuersFile)
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

// validate checks every setting; an error about a value the configuration
// file gave names the file's key too.
func (c *config) validate() error { return c.fileSource(c.validateSettings()) }

func (c *config) validateSettings() error {
	if err := errors.Join(c.envErrs...); err != nil {
		return err
	}
	if c.AdminRateLimit < 0 || c.AdminRateBurst < 0 {
		return fmt.Errorf("--admin-rate-limit and --admin-rate-burst: want 0 or more")
	}
	if c.MaxLongReads < 1 {
		return fmt.Errorf("--max-long-reads %d: want 1 or more", c.MaxLongReads)
	}
	if c.StreamStallTimeout < time.Second {
		return fmt.Errorf("--stream-stall-timeout %v: want 1s or more", c.StreamStallTimeout)
	}
	if c.MaxConnections < 1 {
		return fmt.Errorf("--max-connections %d: want 1 or more", c.MaxConnections)
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
	if err := c.validateImpersonation(); err != nil {
		return err
	}
	if err := c.validateReplica(); err != nil {
		return err
	}
	if err := c.validateKeyUsage(); err != nil {
		return err
	}
	if err := c.validateResources(); err != nil {
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
