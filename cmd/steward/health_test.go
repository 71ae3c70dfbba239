package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stewardhq/steward/service"
)

// TestDetailedHealthFromServe: serve logs its replica id and passes it, the
// build and the HTTP figures to GET /api/v1/admin/health/detailed, and lists
// every periodic job it records.
func TestDetailedHealthFromServe(t *testing.T) {
	env := map[string]string{"STEWARD_DB": "sqlite:" + filepath.Join(t.TempDir(), "s.db"), "STEWARD_BOOTSTRAP_EMAIL": "ops@example.com",
		"STEWARD_BOOTSTRAP_PASSWORD": "health-test-password", "STEWARD_REPLICA_ID": "eu-west-1a.web-2", "STEWARD_MAX_CONNECTIONS": "77"}
	url, logs, stop := boot(t, env)
	defer stop()
	if !strings.Contains(logs.String(), "replica_id=eu-west-1a.web-2") {
		t.Errorf("no replica id in the start log:\n%s", logs.String())
	}
	raw := getSignedIn(t, url, "ops@example.com", "health-test-password", "/api/v1/admin/health/detailed")
	var rep struct {
		Status    string `json:"status"`
		Version   string `json:"version"`
		Commit    string `json:"commit"`
		ReplicaID string `json:"replica_id"`
		Database  struct {
			Dialect string `json:"dialect"`
		} `json:"database"`
		Jobs []struct{ Name string } `json:"jobs"`
		HTTP struct {
			Open int `json:"open_connections"`
			Max  int `json:"max_connections"`
		} `json:"http"`
	}
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	v, rev, _ := build()
	// This very request is on an open connection.
	if rep.ReplicaID != "eu-west-1a.web-2" || rep.Version != v || rep.Commit != rev || rep.Database.Dialect != "sqlite" ||
		rep.HTTP.Max != 77 || rep.HTTP.Open < 1 {
		t.Fatalf("report: %s", raw)
	}
	// serve's own jobs are listed beside Maintain's sweeps.
	listed := map[string]bool{}
	for _, j := range rep.Jobs {
		listed[j.Name] = true
	}
	for _, name := range []string{service.JobAuditCheckpoint, service.JobKeyUseFlush, service.JobKeyUsageFlush, service.JobSigningKeys} {
		if !listed[name] {
			t.Fatalf("job %s not listed: %s", name, raw)
		}
	}
}

func TestReplicaIDSetting(t *testing.T) {
	c := config{ReplicaID: "bad id!"}
	if err := c.validateReplica(); err == nil || !strings.Contains(err.Error(), "--replica-id") {
		t.Errorf("a replica id with a space: %v", err)
	}
	c = config{ReplicaID: strings.Repeat("r", 129)}
	if err := c.validateReplica(); err == nil {
		t.Errorf("a 129-character replica id: accepted")
	}
	c = config{}
	if err := c.validateReplica(); err != nil || !replicaIDRe.MatchString(c.ReplicaID) {
		t.Errorf("default replica id %q: %v", c.ReplicaID, err)
	}
	for _, tc := range []struct {
		host string
		err  error
		want string
	}{
		{"web-1", nil, "web-1-42"},
		{"web 1/α", nil, "web-1---42"},
		{"", errors.New("no hostname"), "steward-42"},
		{strings.Repeat("h", 150), nil, strings.Repeat("h", 100) + "-42"},
	} {
		got := defaultReplicaID(func() (string, error) { return tc.host, tc.err }, 42)
		if got != tc.want || !replicaIDRe.MatchString(got) {
			t.Errorf("defaultReplicaID(%q, %v) = %q, want %q", tc.host, tc.err, got, tc.want)
		}
	}
}

// TestConnCounter: a connection counts from StateNew until it closes or is
// hijacked, whatever states it passes through between.
func TestConnCounter(t *testing.T) {
	var cc connCounter
	for _, s := range []http.ConnState{http.StateNew, http.StateActive, http.StateIdle, http.StateNew, http.StateActive, http.StateNew} {
		cc.track(nil, s)
	}
	if cc.Open() != 3 {
		t.Fatalf("three new: %d open", cc.Open())
	}
	cc.track(nil, http.StateClosed)
	cc.track(nil, http.StateHijacked)
	if cc.Open() != 1 {
		t.Fatalf("after a close and a hijack: %d open", cc.Open())
	}
}
