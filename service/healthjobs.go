package service

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/stewardhq/steward"
)

// The periodic jobs, by the names the health report shows them under.
// Maintain runs the first five once a minute; the command's maintain loop
// runs the checkpoint after them and flushes key uses every
// KeyUseFlushInterval.
const (
	JobSigningKeys        = "signing_key_rotation"
	JobBanSweep           = "ban_expiry_sweep"
	JobCreditSweep        = "credit_expiry_sweep"
	JobImpersonationSweep = "impersonation_expiry_sweep"
	JobAuditCheckpoint    = "audit_checkpoint"
	JobKeyUseFlush        = "key_use_flush"
	JobRetentionSweep     = "retention_sweep"
	JobKeyUsageFlush      = "key_usage_flush"
	JobSeriesMaintain     = "series_maintenance"
	JobLapseSweep         = "lapse_sweep"
	JobActivityFlush      = "activity_flush"
)

// knownJobs are listed from the start, with no run yet, so a job that has
// never run shows as such rather than missing.
var knownJobs = []string{JobSigningKeys, JobBanSweep, JobCreditSweep, JobImpersonationSweep,
	JobLapseSweep, JobRetentionSweep, JobSeriesMaintain, JobAuditCheckpoint, JobKeyUseFlush,
	JobKeyUsageFlush, JobActivityFlush}

// jobLog is each job's last run and counts since the process started. It is
// per process on purpose: every replica runs its own jobs.
type jobLog struct {
	now  func() time.Time
	mu   sync.Mutex
	jobs []steward.JobHealth // in the order first seen
}

func newJobLog(now func() time.Time, names []string) *jobLog {
	l := &jobLog{now: now}
	for _, n := range names {
		l.jobs = append(l.jobs, steward.JobHealth{Name: n})
	}
	return l
}

// record notes one run that started at start and ended with err.
func (l *jobLog) record(name string, start time.Time, err error) {
	end := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	i := slices.IndexFunc(l.jobs, func(j steward.JobHealth) bool { return j.Name == name })
	if i < 0 {
		l.jobs = append(l.jobs, steward.JobHealth{Name: name})
		i = len(l.jobs) - 1
	}
	j := &l.jobs[i]
	j.LastRunAt, j.DurationMS, j.OK, j.Error = &start, ms(end.Sub(start)), err == nil, ""
	j.Runs++
	if err != nil {
		j.Error = err.Error()
		j.Failures++
	}
}

// snapshot copies the records, for a report.
func (l *jobLog) snapshot() []steward.JobHealth {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := slices.Clone(l.jobs)
	for i := range out {
		if out[i].LastRunAt != nil {
			t := *out[i].LastRunAt
			out[i].LastRunAt = &t
		}
	}
	return out
}

// RunJob runs one periodic job and records its start, duration and outcome
// under name, on the injected clock; it returns fn's error. A run cut short
// because ctx ended (the process stopping) is not recorded: it says
// nothing about the job.
func (s *Health) RunJob(ctx context.Context, name string, fn func(context.Context) error) error {
	start := s.now()
	err := fn(ctx)
	if err != nil && ctx.Err() != nil {
		return err
	}
	s.jobs.record(name, start, err)
	return err
}

// countless drops the count a sweep returns, for RunJob.
func countless[N int | int64](f func(context.Context) (N, error)) func(context.Context) error {
	return func(ctx context.Context) error { _, err := f(ctx); return err }
}
