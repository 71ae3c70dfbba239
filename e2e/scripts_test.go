package e2e

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// script runs one of scripts/ with env added to a clean environment.
func script(t *testing.T, env []string, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("../scripts/"+name, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestTestSummarySaysWhenPostgreSQLWasSkipped: the last lines of make test
// say plainly that the PostgreSQL half did not run and how to run it, and
// keep the tests' exit status.
func TestTestSummarySaysWhenPostgreSQLWasSkipped(t *testing.T) {
	out, err := script(t, nil, "test-summary", "0")
	if err != nil || !strings.Contains(out, "PostgreSQL: SKIPPED") || !strings.Contains(out, `eval "$(scripts/pg-up)" && make test`) ||
		!strings.HasSuffix(out, "make test: ok\n") {
		t.Fatalf("without STEWARD_TEST_POSTGRES: %v\n%s", err, out)
	}
	out, err = script(t, []string{"STEWARD_TEST_POSTGRES=postgres://postgres:secret@127.0.0.1:55432/postgres?sslmode=disable"}, "test-summary", "1")
	if err == nil || !strings.Contains(out, "ran against 127.0.0.1:55432") || strings.Contains(out, "secret") ||
		!strings.HasSuffix(out, "make test: FAILED (see above)\n") {
		t.Fatalf("with STEWARD_TEST_POSTGRES and failed tests: %v\n%s", err, out)
	}
}

// TestPGDownStopsOnlyWhatPGUpStarted: with no cluster of pg-up's it stops
// nothing, and it refuses a directory pg-up did not create.
func TestPGDownStopsOnlyWhatPGUpStarted(t *testing.T) {
	out, err := script(t, []string{"PGPORT=1"}, "pg-down")
	if err != nil || !strings.Contains(out, "nothing to stop") {
		t.Fatalf("no cluster: %v\n%s", err, out)
	}
	dir := t.TempDir()
	out, err = script(t, []string{"STEWARD_PGROOT=" + dir}, "pg-down")
	if err == nil || !strings.Contains(out, "refusing") {
		t.Fatalf("a foreign directory: %v\n%s", err, out)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("pg-down touched %s: %v", dir, err)
	}
}

// TestPGUpRefusesAnUnknownDurability: PGFSYNC is on or off; anything else
// stops pg-up before it starts a cluster.
func TestPGUpRefusesAnUnknownDurability(t *testing.T) {
	out, err := script(t, []string{"PGFSYNC=maybe", "PGPORT=1"}, "pg-up")
	if err == nil || !strings.Contains(out, "PGFSYNC=maybe: want on or off") {
		t.Fatalf("PGFSYNC=maybe: %v\n%s", err, out)
	}
}
