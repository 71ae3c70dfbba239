package steward

import (
	"context"
	"time"
)

// HealthService is GET /admin/health/detailed: what an on-call engineer
// looks at first. It needs PermHealthRead.
type HealthService interface {
	// DetailedHealth probes the database and reports it with this
	// replica's background jobs. A database that does not answer is not an
	// error: the report says "down".
	DetailedHealth(ctx context.Context) (*HealthReport, error)
}

// HealthStatus sums a HealthReport up.
type HealthStatus string

const (
	HealthOK       HealthStatus = "ok"
	HealthDegraded HealthStatus = "degraded" // serving, but something needs a look (Problems says what)
	HealthDown     HealthStatus = "down"     // the database does not answer
)

// HealthReport is this replica's detailed health. Jobs and the HTTP figures
// are this replica's own (each replica keeps them in memory), the database
// figures what this replica sees of the database.
type HealthReport struct {
	Status HealthStatus `json:"status"`
	// Problems says why the status is not ok, one line each; [] when ok.
	Problems         []string       `json:"problems"`
	Database         DatabaseHealth `json:"database"`
	MigrationVersion int64          `json:"migration_version"`
	UptimeSeconds    int64          `json:"uptime_seconds"`
	StartedAt        time.Time      `json:"started_at"`
	Version          string         `json:"version"`
	Commit           string         `json:"commit"`
	ReplicaID        string         `json:"replica_id"`
	Jobs             []JobHealth    `json:"jobs"`
	// AuditPending is the audit sequencer's backlog, the seal lag; nil
	// when the database does not answer.
	AuditPending *AuditPending `json:"audit_pending"`
	HTTP         HTTPHealth    `json:"http"`
	CheckedAt    time.Time     `json:"checked_at"`
}

// DatabaseHealth is one round trip to the database (asking its version),
// and the connection pool as it stood after it.
type DatabaseHealth struct {
	OK        bool    `json:"ok"`
	LatencyMS float64 `json:"latency_ms"`
	Dialect   string  `json:"dialect"`
	// Version is the server's own ("3.50.4", "17.2"); "" when down.
	Version string     `json:"version"`
	Error   string     `json:"error,omitempty"`
	Pool    PoolHealth `json:"pool"`
}

// PoolHealth is the connection pool (on SQLite the reader pool and the
// writer together). Saturation is InUse / Max, from 0 to 1; WaitCount is
// how many times since start a caller had to wait for a connection.
type PoolHealth struct {
	Open       int     `json:"open"`
	InUse      int     `json:"in_use"`
	Idle       int     `json:"idle"`
	Max        int     `json:"max"`
	WaitCount  int64   `json:"wait_count"`
	Saturation float64 `json:"saturation"`
}

// JobHealth is one periodic job's record on this replica since it started.
// LastRunAt is nil until the job has run once; OK and Error describe that
// last run.
type JobHealth struct {
	Name       string     `json:"name"`
	LastRunAt  *time.Time `json:"last_run_at"`
	DurationMS float64    `json:"duration_ms"`
	OK         bool       `json:"ok"`
	Error      string     `json:"error"`
	Runs       int64      `json:"runs"`
	Failures   int64      `json:"failures"`
}

// HTTPHealth is this replica's open HTTP connections and their cap
// (MaxConnections 0: no cap, or not known).
type HTTPHealth struct {
	OpenConnections int `json:"open_connections"`
	MaxConnections  int `json:"max_connections"`
}
