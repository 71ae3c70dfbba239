package verify_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportsOnlyStdlibStewardAndJose keeps verify light for the products
// that import it: the standard library, package steward, go-jose and x/text's NFC only —
// no database driver, none of Steward's server packages.
func TestImportsOnlyStdlibStewardAndJose(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}",
		"github.com/stewardhq/steward/verify").Output()
	if err != nil {
		t.Skipf("go list unavailable: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		switch {
		case dep == "github.com/stewardhq/steward", dep == "github.com/stewardhq/steward/verify":
		case dep == "github.com/go-jose/go-jose/v4", strings.HasPrefix(dep, "github.com/go-jose/go-jose/v4/"):
		// Unicode NFC for emails and usernames (steward.NormalizeEmail).
		case dep == "golang.org/x/text/unicode/norm", dep == "golang.org/x/text/transform":
		default:
			t.Errorf("verify depends on %s", dep)
		}
	}
}
