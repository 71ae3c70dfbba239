package e2e

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestDeployFilesUseRealSettings: the systemd unit, the Dockerfile and the
// compose file (which cannot be built here) name only settings Steward has,
// and build and start it the way make build and the tests do.
func TestDeployFilesUseRealSettings(t *testing.T) {
	conf, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	settingRe := regexp.MustCompile(`STEWARD_[A-Z_]+`)
	for _, f := range []string{"steward.service", "Dockerfile", "compose.yaml"} {
		b, err := os.ReadFile("../deploy/" + f)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range settingRe.FindAllString(string(b), -1) {
			if !strings.Contains(string(conf), "`"+name+"`") {
				t.Errorf("deploy/%s names %s, which docs/configuration.md does not list", f, name)
			}
		}
	}
	docker, _ := os.ReadFile("../deploy/Dockerfile")
	for _, want := range []string{"CGO_ENABLED=0 go build", "./cmd/steward", "USER nonroot", `CMD ["serve"]`} {
		if !strings.Contains(string(docker), want) {
			t.Errorf("deploy/Dockerfile lacks %q", want)
		}
	}
	unit, _ := os.ReadFile("../deploy/steward.service")
	if !strings.Contains(string(unit), "ExecStart=/usr/local/bin/steward serve") {
		t.Error("deploy/steward.service does not run steward serve")
	}
}
