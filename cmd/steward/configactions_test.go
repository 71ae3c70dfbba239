package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/service"
	"github.com/stewardhq/steward/store/datatables"
)

const (
	fileActionSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	envActionSecret  = "whsec_C2FWz3Jm5sdIaEY0tTnc0sFy8kFzyBZe"
)

// actionsFile is a valid [[actions]] section: a user action with its
// secret in the file and every key, a tenant action with its secret in the
// environment and the defaults.
const actionsFile = `
[[actions]]
name = "refund_last_order"
label = "Refund the last order"
target = "user"
min_role = "support"
read_only = false
url = "https://app.example/steward/refund?token=abc123"
timeout = "30s"
secret = "` + fileActionSecret + `"

[[actions]]
name = "resync"
target = "tenant"
url = "http://127.0.0.1:8081/resync"
secret_env = "APP_ACTION_SECRET"
`

// TestConfigFileActions: [[actions]] from the file reach service.Config
// with their defaults and secrets (from the file or from secret_env);
// `config check` passes and `config show` lists each action without its
// secret or its URL's query.
func TestConfigFileActions(t *testing.T) {
	path := writeFile(t, "actions.toml", actionsFile)
	env := map[string]string{"STEWARD_CONFIG": path, "APP_ACTION_SECRET": envActionSecret,
		"STEWARD_WEBHOOK_ALLOW_INSECURE": "true"}
	c, err := loadedConfig(t, env)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := c.serviceConfig(io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := []steward.AdminAction{
		{Name: "refund_last_order", Label: "Refund the last order", Target: "user", MinRole: steward.RoleSupport,
			URL: "https://app.example/steward/refund?token=abc123", Timeout: 30_000, Secret: fileActionSecret},
		{Name: "resync", Label: "resync", Target: "tenant", MinRole: steward.RoleAdmin,
			URL: "http://127.0.0.1:8081/resync", Timeout: 10_000, Secret: envActionSecret},
	}
	if len(sc.Actions) != len(want) {
		t.Fatalf("actions %+v", sc.Actions)
	}
	for i := range want {
		if sc.Actions[i] != want[i] {
			t.Errorf("action %d = %+v, want %+v", i, sc.Actions[i], want[i])
		}
	}
	if out, err := runConfig(t, env, "config", "check"); err != nil || !strings.Contains(out, "configuration ok") {
		t.Fatalf("config check: %q %v", out, err)
	}
	out, err := runConfig(t, env, "config", "show")
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{fileActionSecret, envActionSecret, "abc123"} {
		if strings.Contains(out, secret) {
			t.Errorf("config show printed %q:\n%s", secret, out)
		}
	}
	got := shown(t, env)
	if g := got["actions.refund_last_order"]; g != [2]string{"target=user,min_role=support,read_only=false,url=https://app.example/steward/refund?…,timeout=30s,secret=(set)", sourceFile} {
		t.Errorf("refund_last_order shown as %v", g)
	}
	if g := got["actions.resync"]; g != [2]string{"target=tenant,min_role=admin,read_only=false,url=http://127.0.0.1:8081/resync,timeout=10s,secret=$APP_ACTION_SECRET", sourceFile} {
		t.Errorf("resync shown as %v", g)
	}
}

// TestConfigFileActionTableTarget: a target naming a configured data table
// is accepted; one naming no table is refused.
func TestConfigFileActionTableTarget(t *testing.T) {
	path := writeFile(t, "actions.toml", strings.Replace(actionsFile, `target = "user"`, `target = "orders"`, 1))
	env := map[string]string{"STEWARD_CONFIG": path, "APP_ACTION_SECRET": envActionSecret, "STEWARD_WEBHOOK_ALLOW_INSECURE": "true"}
	c, err := loadedConfig(t, env)
	if err != nil {
		t.Fatal(err)
	}
	acts, err := c.adminActions(service.Config{Webhooks: c.Webhooks,
		Data: datatables.Config{Tables: []datatables.TableConfig{{Name: "invoices"}, {Name: "orders"}}}})
	if err != nil || len(acts) != 2 || acts[0].Target != "orders" {
		t.Fatalf("a table target: %+v %v", acts, err)
	}
	_, err = c.adminActions(service.Config{Webhooks: c.Webhooks,
		Data: datatables.Config{Tables: []datatables.TableConfig{{Name: "invoices"}}}})
	if err == nil || !strings.Contains(err.Error(), path+":5: key actions.target: names no table of [[data.tables]]") ||
		!strings.Contains(err.Error(), "invoices") {
		t.Fatalf("an unknown table target: %v", err)
	}
}

// TestConfigFileActionErrors: each mistake stops start-up and `config
// check` before the database is opened, naming the file, the line of the
// key and the key.
func TestConfigFileActionErrors(t *testing.T) {
	line := func(key, val string) string { // actionsFile with the first action's key set to val
		lines := strings.Split(actionsFile, "\n")
		for i, l := range lines[:10] {
			if strings.HasPrefix(l, key+" = ") {
				lines[i] = key + " = " + val
			}
		}
		return strings.Join(lines, "\n")
	}
	cases := []struct{ name, body, want string }{
		{"bad name", line("name", `"Refund!"`), ":3: key actions.name: must be 1 to 64 of a-z"},
		{"unknown target", line("target", `"orders"`), ":5: key actions.target: names no table of [[data.tables]]"},
		{"bad role", line("min_role", `"user"`), ":6: key actions.min_role: must be one of support, admin, owner, super_admin"},
		{"http url", line("url", `"http://app.example/x"`), ":8: key actions.url: must be https"},
		{"private url", line("url", `"https://10.0.0.5/x"`), ":8: key actions.url: host is a private or link-local address"},
		{"long timeout", line("timeout", `"2m"`), ":9: key actions.timeout: must be more than 0 and at most 1m0s"},
		{"zero timeout", line("timeout", `"0s"`), ":9: key actions.timeout: must be at least 1ms"},
		{"bad timeout", line("timeout", `"soon"`), ":9:11: key actions.timeout: want a duration"},
		{"bad secret", line("secret", `"hunter2"`), `:10: key actions.secret: must start with "whsec_"`},
		{"no secret", line("secret", `""`), ":10: key actions.secret: is required"},
		{"both secrets", line("secret", `"`+fileActionSecret+`"`+"\nsecret_env = \"APP_ACTION_SECRET\""), ":11: key actions.secret_env: set secret or secret_env, not both"},
		{"unknown key", line("read_only", "false\nretries = 3"), ":8:1: key actions.retries: unknown key"},
		{"wrong type", line("read_only", `"no"`), ":7:13: key actions.read_only:"},
		{"duplicate", strings.Replace(actionsFile, `"resync"`, `"refund_last_order"`, 1), ":13: key actions.name: is already used by another action"},
		{"unset secret_env", actionsFile, ":16: key actions.secret_env: names APP_ACTION_SECRET, which is not set"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := writeFile(t, "bad.toml", c.body)
			db := filepath.Join(t.TempDir(), "s.db")
			env := map[string]string{"STEWARD_DB": "sqlite:" + db, "STEWARD_CONFIG": path, "STEWARD_WEBHOOK_ALLOW_INSECURE": "true"}
			if c.name != "unset secret_env" {
				env["APP_ACTION_SECRET"] = envActionSecret
			}
			_, err := runConfig(t, env, "serve", "--addr", "127.0.0.1:0")
			if err == nil || !strings.Contains(err.Error(), path+c.want) {
				t.Fatalf("serve: err = %v, want %q", err, path+c.want)
			}
			if _, err := os.Stat(db); err == nil {
				t.Fatal("serve opened the database before refusing the file")
			}
			if _, err := runConfig(t, env, "config", "check"); err == nil || !strings.Contains(err.Error(), path+c.want) {
				t.Fatalf("config check: err = %v, want %q", err, path+c.want)
			}
		})
	}
}
