package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// runConfig runs steward with args and env, returning stdout and the error.
func runConfig(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := run(context.Background(), args, func(k string) string { return env[k] }, nil, &out, io.Discard)
	return out.String(), err
}

// shown parses `config show` into key → [value, source].
func shown(t *testing.T, env map[string]string, args ...string) map[string][2]string {
	t.Helper()
	out, err := runConfig(t, env, append([]string{"config", "show"}, args...)...)
	if err != nil {
		t.Fatalf("config show %v: %v", args, err)
	}
	m := map[string][2]string{}
	for _, line := range strings.Split(out, "\n") {
		switch f := strings.Fields(line); len(f) {
		case 3:
			m[f[0]] = [2]string{f[1], f[2]}
		case 2: // an empty value
			m[f[0]] = [2]string{"", f[1]}
		}
	}
	return m
}

// TestConfigPrecedence: for settings of every type, a flag beats the
// variable, the variable the file, the file the default.
func TestConfigPrecedence(t *testing.T) {
	settings := []struct {
		key, flag, env                  string
		def, file, fileVal, envV, flagV string
		want                            [4]string // default, file, env, flag as shown
	}{
		{key: "addr", flag: "--addr", env: "STEWARD_ADDR", file: `"127.0.0.1:9000"`, envV: "127.0.0.1:9001", flagV: "127.0.0.1:9002",
			want: [4]string{"127.0.0.1:8080", "127.0.0.1:9000", "127.0.0.1:9001", "127.0.0.1:9002"}},
		{key: "admin_rate_limit", flag: "--admin-rate-limit", env: "STEWARD_ADMIN_RATE_LIMIT", file: "600", envV: "700", flagV: "800",
			want: [4]string{"6000", "600", "700", "800"}},
		{key: "impersonation_disclose", flag: "--impersonation-disclose=false", env: "STEWARD_IMPERSONATION_DISCLOSE", file: "false", envV: "true",
			want: [4]string{"true", "false", "true", "false"}},
		{key: "hash_queue_wait", flag: "--hash-queue-wait", env: "STEWARD_HASH_QUEUE_WAIT", file: `"3s"`, envV: "4s", flagV: "5s",
			want: [4]string{"0s", "3s", "4s", "5s"}},
		{key: "audit_checkpoint_interval", flag: "--audit-checkpoint-interval", env: "STEWARD_AUDIT_CHECKPOINT_INTERVAL", file: `"20m"`, envV: "30m", flagV: "40m",
			want: [4]string{"15m0s", "20m", "30m", "40m"}},
		{key: "key_purposes", flag: "--key-purposes", env: "STEWARD_KEY_PURPOSES", file: `["api", "ci"]`, envV: "api,testing", flagV: "api,internal",
			want: [4]string{"[]", "[api,ci]", "[api,testing]", "[api,internal]"}},
		{key: "resource_stale_after", flag: "--resource-stale-after", env: "STEWARD_RESOURCE_STALE_AFTER", file: `"48h"`, envV: "72h", flagV: "96h",
			want: [4]string{"168h0m0s", "48h0m0s", "72h0m0s", "96h0m0s"}},
		{key: "log_level", flag: "--log-level", env: "STEWARD_LOG_LEVEL", file: `"warn"`, envV: "error", flagV: "debug",
			want: [4]string{"info", "warn", "error", "debug"}},
	}
	sources := [4]string{sourceDefault, sourceFile, sourceEnv, sourceFlag}
	for _, s := range settings {
		t.Run(s.key, func(t *testing.T) {
			cfgFile := writeFile(t, "steward.toml", s.key+" = "+s.file+"\n")
			for level := range 4 {
				env := map[string]string{}
				var args []string
				if level >= 1 {
					env["STEWARD_CONFIG"] = cfgFile
				}
				if level >= 2 {
					env[s.env] = s.envV
				}
				if level >= 3 {
					args = append(args, s.flag)
					if s.flagV != "" {
						args = append(args, s.flagV)
					}
				}
				got := shown(t, env, args...)[s.key]
				if got != [2]string{s.want[level], sources[level]} {
					t.Errorf("%s at level %s: got %v, want %s from %s", s.key, sources[level], got, s.want[level], sources[level])
				}
			}
		})
	}
}

// TestConfigFileErrors: a bad file stops start-up (serve) and fails check,
// naming the file, the line and the key.
func TestConfigFileErrors(t *testing.T) {
	cases := []struct{ name, body, want string }{
		{"unknown key", "addr = \"x:1\"\n\nbogus = 1\n", ":3:1: key bogus: unknown key"},
		{"flag without a type", "addr = \"x:1\"\n[[flags]]\nkey = \"a\"\n", "flags[0] (a): type: must be bool, int, string or string_list"},
		{"unknown flag field", "[[flags]]\nkey = \"a\"\ntype = \"bool\"\ndefault = true\nscope = 1\n", ":5:1: key flags.scope: unknown key"},
		{"flag tiers type", "[[flags]]\nkey = \"a\"\ntiers = \"user\"\n", ":3:9: key flags.tiers:"},
		{"flag default type", "[[flags]]\nkey = \"a\"\ntype = \"int\"\ndefault = \"x\"\ntiers = [\"user\"]\n", "flags[0] (a): default: want a whole number"},
		{"flag bad tier", "[[flags]]\nkey = \"a\"\ntype = \"bool\"\ndefault = true\ntiers = [\"org\"]\n", `flags[0] (a): tiers: "org" is not a tier`},
		{"plan feature unknown", "[[plans]]\nid = \"p\"\nname = \"P\"\n[plans.features]\nnope = 1\n", `plan "p": features.nope: unknown flag; the plan tier may set: api_access, audit_log_days, priority_support, sso`},
		{"plan feature type", "[[plans]]\nid = \"p\"\nname = \"P\"\n[plans.features]\nsso = 1\n", `plan "p": features.sso: want true or false`},
		{"plan feature tier", "[[flags]]\nkey = \"beta\"\ntype = \"bool\"\ndefault = false\ntiers = [\"user\"]\n[[plans]]\nid = \"p\"\nname = \"P\"\n[plans.features]\nbeta = true\n", `plan "p": features.beta: cannot be set at the plan tier (allowed: user)`},
		{"redefined flag breaks built-in plans", "[[flags]]\nkey = \"sso\"\ntype = \"int\"\ndefault = 0\ntiers = [\"plan\"]\n", `plan "free": features.sso: want a whole number`},
		{"unknown data key", "[data]\nx = 1\n", ":2:1: key data.x: unknown key"},
		{"string for int", "admin_rate_limit = \"many\"\n", ":1:20: key admin_rate_limit: want a whole number"},
		{"int for string", "\naddr = 8080\n", ":2:8: key addr: want a string"},
		{"int in a list", "key_purposes = [\"api\", 2]\n", "key key_purposes: want a list of strings"},
		{"string for bool", "impersonation_disclose = \"yes\"\n", ":1:26: key impersonation_disclose: want true or false"},
		{"bad duration", "hash_queue_wait = \"soon\"\n", ":1:19: key hash_queue_wait: want a duration"},
		{"malformed", "addr = [\n", ":1:"},
		{"unknown plan field", "[[plans]]\nid = \"p\"\nname = \"P\"\nprice = 5\n", ":4:1: key plans.price: unknown key"},
		{"plan field type", "[[plans]]\nid = \"p\"\nname = \"P\"\nprice_cents = \"5\"\n", ":4:15: key plans.price_cents:"},
		{"invalid plan", "[[plans]]\nid = \"p\"\nname = \"P\"\nperiod = \"week\"\n", "period must be month or year"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := writeFile(t, "bad.toml", c.body)
			want := path + c.want
			if !strings.HasPrefix(c.want, ":") { // no position to prefix with the path
				want = c.want
			}
			db := filepath.Join(t.TempDir(), "s.db")
			env := map[string]string{"STEWARD_DB": "sqlite:" + db, "STEWARD_CONFIG": path}
			_, err := runConfig(t, env, "serve", "--addr", "127.0.0.1:0")
			if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("serve with %q: err = %v, want %q", c.body, err, want)
			}
			if _, err := runConfig(t, nil, "config", "check", path); err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("config check %q: err = %v, want %q", c.body, err, want)
			}
			if _, err := os.Stat(db); err == nil {
				t.Fatal("serve opened the database before refusing the file")
			}
		})
	}
	if _, err := runConfig(t, nil, "config", "check", filepath.Join(t.TempDir(), "missing.toml")); err == nil {
		t.Fatal("a missing file must be refused")
	}
}

// TestConfigCheck: a good file passes; the argument wins over STEWARD_CONFIG;
// a setting the file gets wrong by value (not type) is refused too.
func TestConfigCheck(t *testing.T) {
	good := writeFile(t, "good.toml", "addr = \"127.0.0.1:9000\"\n")
	bad := writeFile(t, "bad.toml", "max_long_reads = 0\n")
	out, err := runConfig(t, map[string]string{"STEWARD_CONFIG": bad}, "config", "check", good)
	if err != nil || !strings.Contains(out, "configuration ok: "+good) {
		t.Fatalf("check good: %q, %v", out, err)
	}
	if _, err := runConfig(t, nil, "config", "check", bad); err == nil ||
		!strings.Contains(err.Error(), "--max-long-reads 0: want 1 or more (key max_long_reads in "+bad+")") {
		t.Fatalf("check a value out of range: %v", err)
	}
	if _, err := runConfig(t, map[string]string{"STEWARD_CONFIG": bad}, "config", "check"); err == nil {
		t.Fatal("check without an argument must read STEWARD_CONFIG")
	}
	if out, err := runConfig(t, nil, "config", "check"); err != nil || !strings.Contains(out, "no configuration file") {
		t.Fatalf("check without a file: %q, %v", out, err)
	}
}

// TestConfigShowMasksSecrets: secrets from the file or the environment and
// a database password never appear in `config show`.
func TestConfigShowMasksSecrets(t *testing.T) {
	const fileKey, envKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "HyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4="
	path := writeFile(t, "s.toml", "secret_key = \""+fileKey+"\"\nbootstrap_password = \"file-password-123\"\n")
	env := map[string]string{"STEWARD_CONFIG": path, "STEWARD_SECRET_KEY_PREVIOUS": envKey,
		"STEWARD_DB": "postgres://steward:db-pass-456@db.internal/steward"}
	out, err := runConfig(t, env, "config", "show")
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{fileKey, envKey, "file-password-123", "db-pass-456"} {
		if strings.Contains(out, secret) {
			t.Fatalf("config show printed a secret %q:\n%s", secret, out)
		}
	}
	got := shown(t, env)
	for key, want := range map[string][2]string{"secret_key": {"(set)", sourceFile}, "bootstrap_password": {"(set)", sourceFile},
		"secret_key_previous": {"(set)", sourceEnv}, "db": {"postgres://steward:xxxxx@db.internal/steward", sourceEnv}} {
		if got[key] != want {
			t.Errorf("%s: %v, want %v", key, got[key], want)
		}
	}
	if m := maskDSN("host=db user=s password=hunter2 dbname=s"); strings.Contains(m, "hunter2") {
		t.Fatalf("key=value DSN not masked: %s", m)
	}
	// A secret in the file is used: a malformed one is refused as from the environment.
	bad := writeFile(t, "s.toml", "secret_key = \"short\"\n")
	if _, err := runConfig(t, nil, "config", "check", bad); err == nil || !strings.Contains(err.Error(), "STEWARD_SECRET_KEY") {
		t.Fatalf("a bad secret key in the file: %v", err)
	}
}

// TestConfigFilePlans: [[plans]] in the file are served, then the plans of
// the JSON file plans_file (STEWARD_PLANS) names; one plan in both places is refused, naming it.
func TestConfigFilePlans(t *testing.T) {
	dir := t.TempDir()
	jsonPlans := writeFile(t, "plans.json", `{"plans": [{"id": "team", "name": "Team", "price_cents": 4900}]}`)
	conf := writeFile(t, "steward.toml", `plans_file = "`+jsonPlans+`"
[[plans]]
id = "hobby"
name = "Hobby"
[plans.limits]
max_users = 2
[plans.features]
api_access = true
`)
	url, _, stop := boot(t, map[string]string{"STEWARD_DB": "sqlite:" + filepath.Join(dir, "s.db"), "STEWARD_CONFIG": conf,
		"STEWARD_BOOTSTRAP_EMAIL": "ops@example.com", "STEWARD_BOOTSTRAP_PASSWORD": "plans-test-password"})
	var plans struct {
		Data []struct {
			ID       string         `json:"id"`
			Limits   map[string]any `json:"limits"`
			Features map[string]any `json:"features"`
		} `json:"data"`
	}
	_ = json.Unmarshal(getSignedIn(t, url, "ops@example.com", "plans-test-password", "/api/v1/admin/plans"), &plans)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if len(plans.Data) != 2 || plans.Data[0].ID != "hobby" || plans.Data[1].ID != "team" ||
		plans.Data[0].Limits["max_users"] != 2.0 || plans.Data[0].Features["api_access"] != true {
		t.Fatalf("plans served: %+v", plans)
	}

	dup := writeFile(t, "plans.json", `{"plans": [{"id": "hobby", "name": "Other"}]}`)
	_, err := runConfig(t, map[string]string{"STEWARD_CONFIG": conf, "STEWARD_PLANS": dup}, "config", "check")
	if err == nil || !regexp.MustCompile(`plan "hobby" is in both`).MatchString(err.Error()) {
		t.Fatalf("a plan in both places: %v", err)
	}
}

// TestDocumentedConfigExamples: deploy/steward.toml and the example in
// docs/configuration.md pass `config check`.
func TestDocumentedConfigExamples(t *testing.T) {
	if out, err := runConfig(t, nil, "config", "check", "../../deploy/steward.toml"); err != nil {
		t.Fatalf("deploy/steward.toml: %v %s", err, out)
	}
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```toml\n(.*?)```").FindAllSubmatch(doc, -1)
	if len(m) == 0 {
		t.Fatal("no toml example in docs/configuration.md")
	}
	for _, ex := range m {
		path := writeFile(t, "doc.toml", string(ex[1]))
		if _, err := runConfig(t, nil, "config", "check", path); err != nil {
			t.Fatalf("the documented example does not pass: %v\n%s", err, ex[1])
		}
	}
}

// TestVersionBesideABrokenConfigFile: the version command does not read the file.
func TestVersionBesideABrokenConfigFile(t *testing.T) {
	bad := writeFile(t, "bad.toml", "bogus = 1\n")
	if out, err := runConfig(t, map[string]string{"STEWARD_CONFIG": bad}, "version"); err != nil || !strings.HasPrefix(out, "steward ") {
		t.Fatalf("version: %q, %v", out, err)
	}
	if _, err := runConfig(t, map[string]string{"STEWARD_CONFIG": bad}, "migrate"); err == nil || !strings.Contains(err.Error(), "key bogus") {
		t.Fatalf("migrate must refuse the file: %v", err)
	}
}

// loadedConfig binds the settings as the root command does, parses args and
// reads the configuration file.
func loadedConfig(t *testing.T, env map[string]string, args ...string) (*config, error) {
	t.Helper()
	var c config
	getenv := func(k string) string { return env[k] }
	root := &cobra.Command{Use: "steward"}
	bindConfig(root, getenv, &c)
	if err := root.PersistentFlags().Parse(args); err != nil {
		t.Fatal(err)
	}
	return &c, c.loadConfigFile(root, getenv)
}

// TestConfigFileTrustedIssuers: [[trusted_issuers]] in the file join those
// of trusted_issuers_file; an issuer in both is refused, naming it; a bad
// entry is refused with the file and the entry named.
func TestConfigFileTrustedIssuers(t *testing.T) {
	jsonFile := writeFile(t, "issuers.json", `[{"issuer": "https://b.example", "audience": "steward", "jwks_url": "https://b.example/jwks"}]`)
	conf := writeFile(t, "steward.toml", `trusted_issuers_file = "`+jsonFile+`"
[[trusted_issuers]]
issuer = "https://a.example"
audience = "steward"
jwks_url = "https://a.example/jwks"
max_role = "support"
provision = true
`)
	c, err := loadedConfig(t, map[string]string{"STEWARD_CONFIG": conf})
	if err != nil {
		t.Fatal(err)
	}
	iss, err := c.trustedIssuers()
	if err != nil || len(iss) != 2 || iss[0].Issuer != "https://a.example" || iss[0].MaxRole != "support" || !iss[0].Provision ||
		iss[0].EmailClaim != "email" || iss[1].Issuer != "https://b.example" {
		t.Fatalf("issuers: %+v %v", iss, err)
	}

	dup := writeFile(t, "issuers.json", `[{"issuer": "https://a.example", "audience": "x", "jwks_url": "https://a.example/jwks"}]`)
	c, err = loadedConfig(t, map[string]string{"STEWARD_CONFIG": conf}, "--trusted-issuers", dup)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.trustedIssuers(); err == nil || !strings.Contains(err.Error(), `trusted issuer "https://a.example" is in both`) {
		t.Fatalf("an issuer in both places: %v", err)
	}

	for body, want := range map[string]string{
		"[[trusted_issuers]]\nissuer = \"https://a.example\"\njwks = \"x\"\n":                                                              ":3:1: key trusted_issuers.jwks: unknown key",
		"[[trusted_issuers]]\nissuer = \"https://a.example\"\naudience = \"s\"\njwks_url = \"https://a.example/j\"\nmax_role = \"boss\"\n": `: trusted_issuers: entry 1 ("https://a.example"): max_role`,
	} {
		path := writeFile(t, "bad.toml", body)
		if _, err := runConfig(t, nil, "config", "check", path); err == nil || !strings.Contains(err.Error(), path+want) {
			t.Fatalf("%q: err = %v, want %q", body, err, path+want)
		}
	}
}

// TestConfigShowsItsFile: `config show` names the file and where its name
// came from, and says (none) without one.
func TestConfigShowsItsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "steward.toml")
	if err := os.WriteFile(path, []byte("addr = \"127.0.0.1:9001\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		env  map[string]string
		args []string
		want [2]string
	}{
		{map[string]string{}, nil, [2]string{"(none)", "default"}},
		{map[string]string{"STEWARD_CONFIG": path}, nil, [2]string{path, "env"}},
		{map[string]string{}, []string{"--config", path}, [2]string{path, "flag"}},
	} {
		if got := shown(t, c.env, c.args...)["config"]; got != c.want {
			t.Errorf("env %v args %v: config row %v, want %v", c.env, c.args, got, c.want)
		}
	}
}
