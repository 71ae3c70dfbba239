package api_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/api"
	"github.com/stewardhq/steward/internal/apptest"
	"github.com/stewardhq/steward/internal/testdb"
	"github.com/stewardhq/steward/service"
)

// TestDetailedHealth: the report's shape on both stores, the build, replica
// id and HTTP figures the process passes in, uptime on the injected clock,
// the jobs (none run, then Maintain's sweeps each recorded), and a failing
// job making the status degraded until its next good run.
func TestDetailedHealth(t *testing.T) {
	opts := apptest.Options{API: func(d *api.Deps) {
		d.Build = api.BuildInfo{Version: "v9.8.7", Commit: "0123456789abcdef", ReplicaID: "replica-7"}
		d.HTTPConnections = func() (int, int) { return 3, 4096 }
	}}
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		_, sup := a.Operator(steward.RoleSupport)
		const path = "/api/v1/admin/health/detailed"
		a.Clock.Advance(90 * time.Second)
		r := a.Do("GET", path, sup, nil)
		if r.Status != 200 {
			t.Fatalf("GET %s: %d %s", path, r.Status, r.Raw)
		}
		mig, err := a.Store.MigrationVersion(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]any{
			"status": "ok", "database.ok": true, "database.dialect": a.Store.Dialect(),
			"migration_version": float64(mig), "uptime_seconds": 90.0, "started_at": "2026-03-01T12:00:00Z",
			"checked_at": "2026-03-01T12:01:30Z", "version": "v9.8.7", "commit": "0123456789abcdef",
			"replica_id": "replica-7", "http.open_connections": 3.0, "http.max_connections": 4096.0,
		}
		for k, v := range want {
			if got := r.Get(k); got != v {
				t.Errorf("%s = %v, want %v", k, got, v)
			}
		}
		if v, _ := r.Get("database.version").(string); v == "" {
			t.Errorf("database.version empty: %s", r.Raw)
		}
		if m, _ := r.Get("database.pool.max").(float64); m < 1 {
			t.Errorf("database.pool.max = %v: %s", m, r.Raw)
		}
		if p, ok := r.Get("problems").([]any); !ok || len(p) != 0 {
			t.Errorf("problems = %v, want []", r.Get("problems"))
		}
		jobs := func(r *apptest.Response) map[string]map[string]any {
			out := map[string]map[string]any{}
			list, _ := r.Get("jobs").([]any)
			for _, j := range list {
				m := j.(map[string]any)
				out[m["name"].(string)] = m
			}
			return out
		}
		names := []string{service.JobSigningKeys, service.JobBanSweep, service.JobCreditSweep, service.JobImpersonationSweep,
			service.JobLapseSweep, service.JobRetentionSweep, service.JobSeriesMaintain, service.JobAuditCheckpoint,
			service.JobKeyUseFlush, service.JobKeyUsageFlush, service.JobActivityFlush}
		js := jobs(r)
		for _, n := range names {
			j, ok := js[n]
			if !ok {
				t.Fatalf("job %s missing: %s", n, r.Raw)
			}
			if j["last_run_at"] != nil || j["runs"] != 0.0 {
				t.Errorf("job %s before any run: %v", n, j)
			}
		}

		if err := a.Svc.Maintain(context.Background()); err != nil {
			t.Fatal(err)
		}
		js = jobs(a.Do("GET", path, sup, nil))
		for _, n := range names[:5] {
			if j := js[n]; j["last_run_at"] != "2026-03-01T12:01:30Z" || j["runs"] != 1.0 || j["ok"] != true || j["error"] != "" {
				t.Errorf("job %s after Maintain: %v", n, j)
			}
		}
		if js[service.JobAuditCheckpoint]["runs"] != 0.0 {
			t.Errorf("the checkpoint is not Maintain's: %v", js[service.JobAuditCheckpoint])
		}

		boom := errors.New("disk on fire")
		if err := a.Svc.Health.RunJob(context.Background(), service.JobAuditCheckpoint, func(context.Context) error {
			a.Clock.Advance(1500 * time.Millisecond)
			return boom
		}); !errors.Is(err, boom) {
			t.Fatalf("RunJob returned %v", err)
		}
		r = a.Do("GET", path, sup, nil)
		j := jobs(r)[service.JobAuditCheckpoint]
		if r.Get("status") != "degraded" || j["ok"] != false || j["error"] != "disk on fire" || j["duration_ms"] != 1500.0 ||
			j["failures"] != 1.0 || j["runs"] != 1.0 {
			t.Fatalf("after a failed run: %s", r.Raw)
		}
		if p, _ := r.Get("problems").([]any); len(p) != 1 {
			t.Errorf("problems = %v, want the failed job", p)
		}

		_ = a.Svc.Health.RunJob(context.Background(), service.JobAuditCheckpoint, func(context.Context) error { return nil })
		r = a.Do("GET", path, sup, nil)
		j = jobs(r)[service.JobAuditCheckpoint]
		if r.Get("status") != "ok" || j["ok"] != true || j["error"] != "" || j["failures"] != 1.0 || j["runs"] != 2.0 {
			t.Fatalf("after a good run: %s", r.Raw)
		}
	}, opts)
}

// TestDetailedHealthDownOverHTTP: on SQLite, where a credential read is
// reused until the next write (service/readcache.go), a closed database
// still gets its report through: 200 with status down and why. (On
// PostgreSQL the credential check itself needs the database, so the request
// fails before the report; the service test covers down on both stores.)
func TestDetailedHealthDownOverHTTP(t *testing.T) {
	a := apptest.New(t, testdb.Backends(t)[0])
	_, sup := a.Operator(steward.RoleSupport)
	const path = "/api/v1/admin/health/detailed"
	if r := a.Do("GET", path, sup, nil); r.Status != 200 || r.Get("status") != "ok" {
		t.Fatalf("before: %d %s", r.Status, r.Raw)
	}
	if err := a.Store.Close(); err != nil {
		t.Fatal(err)
	}
	r := a.Do("GET", path, sup, nil)
	if r.Status != 200 || r.Get("status") != "down" || r.Get("database.ok") != false || r.Get("database.error") == "" {
		t.Fatalf("closed database: %d %s", r.Status, r.Raw)
	}
	if p, _ := r.Get("problems").([]any); len(p) != 1 {
		t.Errorf("problems = %v", p)
	}
}
