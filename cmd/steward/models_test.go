package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

const fileModels = `
[[models]]
id = "large-2"
name = "Large 2"
provider = "acme"
context_window = 200000
input_micros_per_mtok = 3000000
output_micros_per_mtok = 15000000
enabled = true
default = true

[[models]]
id = "small-1"
name = "Small 1"
provider = "acme"
context_window = 32000
`

// TestConfigFileModels: [[models]] reach the service's configuration
// (enabled left out is true) and config show; a bad catalogue stops config
// check naming the file, the model and the field; no [[models]] is an
// empty catalogue.
func TestConfigFileModels(t *testing.T) {
	conf := writeFile(t, "steward.toml", fileModels)
	env := map[string]string{"STEWARD_CONFIG": conf}
	if out, err := runConfig(t, env, "config", "check"); err != nil {
		t.Fatalf("config check: %v %s", err, out)
	}
	c, err := loadedConfig(t, env)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.fileModels) != 2 || !c.fileModels[0].Default || c.fileModels[0].InputMicrosPerMtok != 3_000_000 ||
		!c.fileModels[1].Enabled || c.fileModels[1].Default {
		t.Fatalf("models read: %+v %+v", c.fileModels[0], c.fileModels[1])
	}
	if got := shown(t, env)["[[models]]"]; got != [2]string{"large-2,small-1", "file"} {
		t.Fatalf("config show lists the file's models as %v", got)
	}
	if c, err := loadedConfig(t, map[string]string{"STEWARD_CONFIG": writeFile(t, "none.toml", "log_level = \"info\"\n")}); err != nil || c.fileModels != nil {
		t.Fatalf("a file without [[models]]: %v %v", err, c.fileModels)
	}

	for body, want := range map[string]string{
		strings.Replace(fileModels, "context_window = 32000", "context_window = 0", 1): "models[1] (small-1): context_window must be between 1 and 1000000000 tokens",
		strings.Replace(fileModels, "enabled = true", "enabled = false", 1):            "models[0] (large-2): default is true on a disabled model",
		strings.Replace(fileModels, "default = true", "", 1):                           "models: exactly one enabled model must have default = true; none has",
		fileModels + "default = true\n":                                                "models: exactly one enabled model must have default = true; large-2, small-1 all have",
		strings.Replace(fileModels, `provider = "acme"`, `provider = ""`, 1):           "models[0] (large-2): provider is required",
	} {
		path := writeFile(t, "bad.toml", body)
		_, err := runConfig(t, nil, "config", "check", path)
		if err == nil || !strings.Contains(err.Error(), path+": "+want) {
			t.Errorf("config check: %v, want %q", err, path+": "+want)
		}
	}
	// A key the schema does not know is refused with its line.
	path := writeFile(t, "typo.toml", fileModels+"colour = \"red\"\n")
	if _, err := runConfig(t, nil, "config", "check", path); err == nil || !strings.Contains(err.Error(), path+":17:1: key models.colour: unknown key") {
		t.Errorf("an unknown key in [[models]]: %v", err)
	}
}

// TestServeKeepsTheActiveModel: serve with [[models]] records the default
// as active; a restart whose file disables it keeps it active and reports
// the catalogue unhealthy.
func TestServeKeepsTheActiveModel(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"STEWARD_DB": "sqlite:" + filepath.Join(dir, "s.db"), "STEWARD_BOOTSTRAP_PASSWORD": "models-test-password",
		"STEWARD_CONFIG": writeFile(t, "steward.toml", fileModels)}
	status := func(url string) map[string]any {
		t.Helper()
		body, _ := json.Marshal(map[string]string{"email": "admin@localhost", "password": env["STEWARD_BOOTSTRAP_PASSWORD"]})
		resp, err := http.Post(url+"/api/v1/auth/login", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		var login struct {
			AccessToken string `json:"access_token"`
		}
		err = json.NewDecoder(resp.Body).Decode(&login)
		resp.Body.Close()
		if err != nil || login.AccessToken == "" {
			t.Fatalf("login: %d %v", resp.StatusCode, err)
		}
		req, _ := http.NewRequest("GET", url+"/api/v1/admin/optimal/status", nil)
		req.Header.Set("Authorization", "Bearer "+login.AccessToken)
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var st map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || resp.StatusCode != 200 {
			t.Fatalf("status: %d %v", resp.StatusCode, err)
		}
		return st
	}
	url, _, stop := boot(t, env)
	st := status(url)
	if active, _ := st["active"].(map[string]any); active["model_id"] != "large-2" || st["healthy"] != true {
		t.Fatalf("status after the first start: %v", st)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	// large-2 disabled and small-1 the default now.
	edited := strings.Replace(strings.Replace(fileModels, "enabled = true\ndefault = true", "enabled = false", 1),
		"context_window = 32000", "context_window = 32000\ndefault = true", 1)
	env["STEWARD_CONFIG"] = writeFile(t, "edited.toml", edited)
	url, _, stop = boot(t, env)
	defer stop()
	st = status(url)
	active, _ := st["active"].(map[string]any)
	problems, _ := st["problems"].([]any)
	if active["model_id"] != "large-2" || st["healthy"] != false || len(problems) != 1 ||
		problems[0].(map[string]any)["code"] != "active_disabled" || st["default_model"] != "small-1" {
		t.Fatalf("status after a restart disabling the active model: %v", st)
	}
}
