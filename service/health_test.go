package service_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
	"github.com/stewardhq/steward/internal/clock"
	"github.com/stewardhq/steward/internal/testdb"
	"github.com/stewardhq/steward/service"
	"github.com/stewardhq/steward/store"
)

// healthStore shapes what the health report sees of a real store: a
// round trip that takes a set time on the fake clock, chosen pool figures,
// a failing ban sweep.
type healthStore struct {
	store.Store
	clk      *clock.Fake
	latency  time.Duration
	pool     *store.PoolStats
	banSweep error
}

func (h *healthStore) ServerVersion(ctx context.Context) (string, error) {
	h.clk.Advance(h.latency)
	return h.Store.ServerVersion(ctx)
}

func (h *healthStore) PoolStats() store.PoolStats {
	if h.pool != nil {
		return *h.pool
	}
	return h.Store.PoolStats()
}

func (h *healthStore) ListUsersBanExpired(ctx context.Context, now time.Time, limit int) ([]*steward.User, error) {
	if h.banSweep != nil {
		return nil, h.banSweep
	}
	return h.Store.ListUsersBanExpired(ctx, now, limit)
}

func newHealthService(t *testing.T, b testdb.Backend) (*service.Service, *healthStore) {
	clk := clock.NewFake(apptest.Start)
	hs := &healthStore{Store: b.Open(t), clk: clk}
	return service.New(service.Config{Store: hs, Now: clk.Now}), hs
}

// TestDetailedHealthThresholds: degraded past the round-trip threshold and
// at the pool saturation threshold, ok just below each, on both stores.
func TestDetailedHealthThresholds(t *testing.T) {
	for _, b := range testdb.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			svc, hs := newHealthService(t, b)
			ctx := apptest.System()
			for _, tc := range []struct {
				name    string
				latency time.Duration
				pool    *store.PoolStats
				want    steward.HealthStatus
				problem string
			}{
				{"quick", 0, nil, steward.HealthOK, ""},
				{"at the latency threshold", service.HealthSlowDatabase, nil, steward.HealthOK, ""},
				{"past it", service.HealthSlowDatabase + time.Millisecond, nil, steward.HealthDegraded, "round trip took 251ms"},
				{"pool below", 0, &store.PoolStats{Open: 10, InUse: 8, Idle: 2, Max: 10}, steward.HealthOK, ""},
				{"pool saturated", 0, &store.PoolStats{Open: 10, InUse: 9, Idle: 1, Max: 10, WaitCount: 4}, steward.HealthDegraded,
					"9 of 10 database connections in use"},
			} {
				hs.latency, hs.pool = tc.latency, tc.pool
				rep, err := svc.Health.DetailedHealth(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if rep.Status != tc.want || !rep.Database.OK || rep.Database.LatencyMS != float64(tc.latency.Microseconds())/1000 {
					t.Errorf("%s: %+v", tc.name, rep)
				}
				if tc.problem == "" && len(rep.Problems) != 0 || tc.problem != "" && (len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0], tc.problem)) {
					t.Errorf("%s: problems %q, want %q", tc.name, rep.Problems, tc.problem)
				}
				if tc.pool != nil && (rep.Database.Pool.Saturation != float64(tc.pool.InUse)/10 || rep.Database.Pool.WaitCount != tc.pool.WaitCount) {
					t.Errorf("%s: pool %+v", tc.name, rep.Database.Pool)
				}
			}
		})
	}
}

// TestDetailedHealthDown: a store that no longer answers (closed) is down,
// with why, and the report is still made.
func TestDetailedHealthDown(t *testing.T) {
	for _, b := range testdb.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			svc, hs := newHealthService(t, b)
			if err := hs.Store.Close(); err != nil {
				t.Fatal(err)
			}
			rep, err := svc.Health.DetailedHealth(apptest.System())
			if err != nil {
				t.Fatal(err)
			}
			if rep.Status != steward.HealthDown || rep.Database.OK || rep.Database.Error == "" || rep.Database.Version != "" ||
				rep.Database.Dialect != b.Name || len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0], "does not answer") {
				t.Fatalf("closed store: %+v", rep)
			}
		})
	}
}

// TestDetailedHealthNeedsHealthRead: an end user is refused.
func TestDetailedHealthNeedsHealthRead(t *testing.T) {
	svc, _ := newHealthService(t, testdb.Backends(t)[0])
	ctx := steward.WithActor(context.Background(), steward.Actor{Type: "user", ID: "usr_x", Role: steward.RoleUser})
	if _, err := svc.Health.DetailedHealth(ctx); code(err) != steward.CodeForbidden {
		t.Fatalf("a user: %v", err)
	}
}

// TestMaintainRecordsEachSweep: one failing sweep is recorded as failed,
// and the sweeps after it still run and are recorded as ok.
func TestMaintainRecordsEachSweep(t *testing.T) {
	svc, hs := newHealthService(t, testdb.Backends(t)[0])
	hs.banSweep = errors.New("injected ban sweep failure")
	if err := svc.Maintain(context.Background()); !errors.Is(err, hs.banSweep) {
		t.Fatalf("Maintain = %v, want the ban sweep's error", err)
	}
	rep, err := svc.Health.DetailedHealth(apptest.System())
	if err != nil {
		t.Fatal(err)
	}
	jobs := map[string]steward.JobHealth{}
	for _, j := range rep.Jobs {
		jobs[j.Name] = j
	}
	if j := jobs[service.JobBanSweep]; j.OK || j.Failures != 1 || j.Error != "injected ban sweep failure" {
		t.Errorf("ban sweep: %+v", j)
	}
	for _, n := range []string{service.JobSigningKeys, service.JobCreditSweep, service.JobImpersonationSweep} {
		if j := jobs[n]; !j.OK || j.Runs != 1 || j.LastRunAt == nil || !j.LastRunAt.Equal(apptest.Start) {
			t.Errorf("%s: %+v", n, j)
		}
	}
	if rep.Status != steward.HealthDegraded {
		t.Errorf("status %s with a failed sweep", rep.Status)
	}
}

// TestRunJobStoppedByShutdown: a run cut short because the process is
// stopping says nothing about the job and is not recorded.
func TestRunJobStoppedByShutdown(t *testing.T) {
	svc, _ := newHealthService(t, testdb.Backends(t)[0])
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := svc.Health.RunJob(ctx, service.JobKeyUseFlush, func(ctx context.Context) error { return ctx.Err() })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("RunJob = %v", err)
	}
	rep, err := svc.Health.DetailedHealth(apptest.System())
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range rep.Jobs {
		if j.Runs != 0 {
			t.Errorf("%s recorded: %+v", j.Name, j)
		}
	}
	if rep.Status != steward.HealthOK {
		t.Errorf("status %s", rep.Status)
	}
}
