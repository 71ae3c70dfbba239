package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
)

// TestServeOnABusyPortCreatesNoOperator: a port in use fails serve before
// bootstrap, so no password is printed for an operator nobody can reach,
// and the next start (on a free port) bootstraps and prints one that works.
func TestServeOnABusyPortCreatesNoOperator(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	env := map[string]string{"STEWARD_DB": "sqlite:" + filepath.Join(t.TempDir(), "s.db")}
	getenv := func(k string) string { return env[k] }
	var logs bytes.Buffer
	err = run(context.Background(), []string{"serve", "--addr", busy.Addr().String()}, getenv, nil, io.Discard, &logs)
	if err == nil || !strings.Contains(err.Error(), busy.Addr().String()) {
		t.Fatalf("serve on a busy port: err = %v", err)
	}
	if strings.Contains(logs.String(), "password=") || strings.Contains(logs.String(), "created the first operator") {
		t.Fatalf("bootstrap ran before the port was bound:\n%s", logs.String())
	}

	url, out, stop := boot(t, env)
	defer stop()
	m := regexp.MustCompile(`email=admin@localhost password=(\S+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("the next start did not bootstrap:\n%s", out.String())
	}
	if code := login(t, url, "admin@localhost", m[1]); code != 200 {
		t.Fatalf("login with the password of the second start: %d", code)
	}
}

// TestServeLogsTheDatabaseLocation: the start log says which file it uses.
func TestServeLogsTheDatabaseLocation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "where.db")
	_, logs, stop := boot(t, map[string]string{"STEWARD_DB": "sqlite:" + path})
	defer stop()
	if !strings.Contains(logs.String(), "location="+path) {
		t.Fatalf("no database location %s in the log:\n%s", path, logs.String())
	}
}

func TestDBLocationHidesThePassword(t *testing.T) {
	got := dbLocation("postgres://steward:s3cret@db.internal:5432/steward?sslmode=require")
	if got != "postgres://steward@db.internal:5432/steward" {
		t.Fatalf("dbLocation = %q", got)
	}
	if abs := dbLocation("sqlite:rel.db"); !filepath.IsAbs(abs) || filepath.Base(abs) != "rel.db" {
		t.Fatalf("sqlite location not absolute: %q", abs)
	}
}

// TestVersionFlagAndCommand: --version and the version command print the
// same line.
func TestVersionFlagAndCommand(t *testing.T) {
	getenv := func(string) string { return "" }
	var flag, cmd bytes.Buffer
	if err := run(context.Background(), []string{"--version"}, getenv, nil, &flag, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), []string{"version"}, getenv, nil, &cmd, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(flag.String(), "steward ") || flag.String() != cmd.String() {
		t.Fatalf("--version %q, version %q", flag.String(), cmd.String())
	}
}

// TestVersionString: the commit comes from -ldflags when make build set it,
// else from the build information go build stamps.
func TestVersionString(t *testing.T) {
	saved := readBuildInfo
	savedV, savedC, savedM := version, commit, modified
	t.Cleanup(func() { readBuildInfo, version, commit, modified = saved, savedV, savedC, savedM })

	readBuildInfo = func() (*debug.BuildInfo, bool) {
		return &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "true"}}}, true
	}
	version, commit, modified = "dev", "", ""
	if got := versionString(); got != "dev (commit 0123456789ab, modified)" {
		t.Fatalf("from build info: %q", got)
	}
	version, commit, modified = "v1.2.0", "fedcba9876543210", "false"
	if got := versionString(); got != "v1.2.0 (commit fedcba987654)" {
		t.Fatalf("from ldflags: %q", got)
	}
	readBuildInfo = func() (*debug.BuildInfo, bool) {
		return &debug.BuildInfo{Main: debug.Module{Version: "v1.3.0"}}, true
	}
	version, commit, modified = "dev", "", ""
	if got := versionString(); got != "v1.3.0" {
		t.Fatalf("go install'd module version: %q", got)
	}
}

// TestHelpShowsTheBootstrapEmailDefault: --help names the default the
// documentation gives, the one bootstrap uses.
func TestHelpShowsTheBootstrapEmailDefault(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"serve", "--help"}, func(string) string { return "" }, nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `first operator's email (STEWARD_BOOTSTRAP_EMAIL) (default "admin@localhost")`) {
		t.Fatalf("--help:\n%s", out.String())
	}
}
