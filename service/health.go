package service

import (
	"context"
	"fmt"
	"time"

	"github.com/stewardhq/steward"
)

// The thresholds past which DetailedHealth says "degraded" (docs/overview.md,
// Detailed health).
const (
	// HealthSlowDatabase: the database round trip (one version query on
	// an idle connection) normally takes well under a millisecond on
	// SQLite and a few on a nearby PostgreSQL; a quarter of a second means
	// every request is slow.
	HealthSlowDatabase = 250 * time.Millisecond
	// HealthPoolSaturated: the share of the pool's connections in use.
	// At 0.9 or more, requests are about to queue for a connection.
	HealthPoolSaturated = 0.9
	// healthProbeTimeout bounds the round trip: a database that does not
	// answer within it is down.
	healthProbeTimeout = 2 * time.Second
)

// Health implements steward.HealthService: the detailed health report and
// the record of this process's periodic jobs (healthjobs.go), kept in
// memory, so each replica reports its own.
type Health struct {
	*core
	started time.Time
	jobs    *jobLog
}

var _ steward.HealthService = (*Health)(nil)

func newHealth(c *core) *Health {
	return &Health{core: c, started: c.now(), jobs: newJobLog(c.now, knownJobs)}
}

// DetailedHealth implements steward.HealthService. Only the version query
// touches the database (plus the migration version when it answers), so the
// report costs two short reads. Version, commit, replica id and the HTTP
// figures belong to the process and the HTTP layer adds them.
func (s *Health) DetailedHealth(ctx context.Context) (*steward.HealthReport, error) {
	if _, err := authorize(ctx, steward.PermHealthRead); err != nil {
		return nil, err
	}
	rep := &steward.HealthReport{Status: steward.HealthOK, Problems: []string{}, StartedAt: s.started,
		Database: steward.DatabaseHealth{Dialect: s.store.Dialect()}}
	pctx, cancel := context.WithTimeout(ctx, healthProbeTimeout)
	defer cancel()
	begin := s.now()
	version, err := s.store.ServerVersion(pctx)
	latency := s.now().Sub(begin)
	rep.Database.LatencyMS = ms(latency)
	if err == nil {
		rep.MigrationVersion, err = s.store.MigrationVersion(pctx)
	}
	if err != nil {
		if ctx.Err() != nil { // the caller went away: nothing to report to
			return nil, ctx.Err()
		}
		s.log.WarnContext(ctx, "health: the database does not answer", "err", err)
		rep.Status = steward.HealthDown
		rep.Database.Error = err.Error()
		rep.Problems = append(rep.Problems, "the database does not answer: "+err.Error())
	} else {
		rep.Database.OK, rep.Database.Version = true, version
		if rep.AuditPending, err = s.auditPending(pctx); err != nil && ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	ps := s.store.PoolStats()
	rep.Database.Pool = steward.PoolHealth{Open: ps.Open, InUse: ps.InUse, Idle: ps.Idle, Max: ps.Max, WaitCount: ps.WaitCount}
	if ps.Max > 0 {
		rep.Database.Pool.Saturation = float64(ps.InUse) / float64(ps.Max)
	}
	rep.Jobs = s.jobs.snapshot()
	now := s.now()
	rep.CheckedAt = now
	rep.UptimeSeconds = int64(now.Sub(s.started) / time.Second)

	degrade := func(problem string) {
		rep.Problems = append(rep.Problems, problem)
		if rep.Status == steward.HealthOK {
			rep.Status = steward.HealthDegraded
		}
	}
	if rep.Database.OK && latency > HealthSlowDatabase {
		degrade(fmt.Sprintf("the database round trip took %s (over %s)", latency, HealthSlowDatabase))
	}
	if rep.Database.Pool.Saturation >= HealthPoolSaturated {
		degrade(fmt.Sprintf("%d of %d database connections in use", ps.InUse, ps.Max))
	}
	for _, j := range rep.Jobs {
		if j.LastRunAt != nil && !j.OK {
			degrade(fmt.Sprintf("job %s failed its last run: %s", j.Name, j.Error))
		}
	}
	return rep, nil
}

// ms is d in milliseconds, to the microsecond.
func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
