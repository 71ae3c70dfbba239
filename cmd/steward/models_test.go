package main

import (
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
