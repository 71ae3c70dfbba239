package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"sync/atomic"

	"github.com/spf13/cobra"

	"github.com/stewardhq/steward/api"
)

// bindReplica registers --replica-id, the name this process goes by in the
// detailed health report and its start-up log line.
func bindReplica(cmd *cobra.Command, getenv func(string) string, c *config) {
	cmd.PersistentFlags().StringVar(&c.ReplicaID, "replica-id", getenv("STEWARD_REPLICA_ID"),
		"this replica's name in GET /api/v1/admin/health/detailed and the logs (STEWARD_REPLICA_ID; default <hostname>-<pid>)")
}

var (
	replicaIDRe     = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)
	notReplicaIDRun = regexp.MustCompile(`[^A-Za-z0-9._:-]`)
)

// validateReplica fills in the default replica id, or checks the one given.
func (c *config) validateReplica() error {
	if c.ReplicaID == "" {
		c.ReplicaID = defaultReplicaID(os.Hostname, os.Getpid())
		return nil
	}
	if !replicaIDRe.MatchString(c.ReplicaID) {
		return fmt.Errorf("--replica-id %q: want 1-128 letters, digits, '.', '_', ':' or '-'", c.ReplicaID)
	}
	return nil
}

// defaultReplicaID is "<hostname>-<pid>": unique among the processes of one
// host, and the hostname is what container platforms name a replica by.
// Characters a replica id may not hold become '-'.
func defaultReplicaID(hostname func() (string, error), pid int) string {
	h, err := hostname()
	if err != nil || h == "" {
		h = "steward"
	}
	h = notReplicaIDRun.ReplaceAllString(h, "-")
	if len(h) > 100 {
		h = h[:100]
	}
	return h + "-" + strconv.Itoa(pid)
}

// buildInfo is what the detailed health report says of this build.
func (c *config) buildInfo() api.BuildInfo {
	v, rev, _ := build()
	return api.BuildInfo{Version: v, Commit: rev, ReplicaID: c.ReplicaID}
}

// connCounter counts the HTTP server's open connections, from its
// ConnState hook: a connection is open from StateNew until it closes or is
// hijacked.
type connCounter struct{ open atomic.Int64 }

func (cc *connCounter) track(_ net.Conn, s http.ConnState) {
	switch s {
	case http.StateNew:
		cc.open.Add(1)
	case http.StateClosed, http.StateHijacked:
		cc.open.Add(-1)
	}
}

func (cc *connCounter) Open() int { return int(cc.open.Load()) }
