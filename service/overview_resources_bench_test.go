package service_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
	"github.com/stewardhq/steward/internal/testdb"
	"github.com/stewardhq/steward/store"
)

// BenchmarkResourceStats: GET /admin/stats' read (Overview.Stats) with
// 20,000 resources, 2,000 of them stale, on each backend: the resource
// figures are the counters plus the stale range of resources_last_seen.
func BenchmarkResourceStats(b *testing.B) {
	for _, be := range testdb.Backends(b) {
		b.Run(be.Name, func(b *testing.B) {
			a := apptest.New(b, be)
			a.EnsureTenant(b, "ten_bench")
			now := a.Clock.Now()
			for batch := range 20 {
				if err := a.Store.Update(b.Context(), func(tx store.Tx) error {
					for i := range 1000 {
						n := batch*1000 + i
						seen := now
						if n%10 == 0 {
							seen = now.Add(-30 * 24 * time.Hour)
						}
						r := &steward.Resource{ID: fmt.Sprintf("vm-%05d", n), Kind: "computer", TenantID: "ten_bench",
							Status: steward.ResourceRunning, LastSeenAt: seen, DesiredStatus: steward.DesiredRunning,
							DesiredAt: now, CreatedAt: now, UpdatedAt: now}
						if err := tx.PutResource(b.Context(), r); err != nil {
							return err
						}
					}
					return nil
				}); err != nil {
					b.Fatal(err)
				}
			}
			st, err := a.Svc.Overview.Stats(apptest.System(), nil)
			if err != nil || st.Resources.Total != 20000 || st.Resources.Stale != 2000 {
				b.Fatalf("stats %+v, %v", st.Resources, err)
			}
			for b.Loop() {
				if _, err := a.Svc.Overview.Stats(apptest.System(), nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkResourceHeartbeat: a steady heartbeat (ReportResource with the
// same status, one caller) over 1,000 resources, with the counters'
// triggers of migration 00021 and with them dropped, on each backend: the
// cost the counters add to a report.
func BenchmarkResourceHeartbeat(b *testing.B) {
	for _, be := range testdb.Backends(b) {
		for _, counters := range []bool{true, false} {
			name := be.Name + "/counters"
			if !counters {
				name = be.Name + "/no_counters"
			}
			b.Run(name, func(b *testing.B) {
				a := apptest.New(b, be)
				a.EnsureTenant(b, "ten_bench")
				if !counters {
					for _, trg := range []string{"resources_stat_ai", "resources_stat_au", "resources_stat_ad",
						"resources_stat_ins", "resources_stat_upd", "resources_stat_del"} {
						if be.Name == "sqlite" {
							be.Exec(b, a.Store, "DROP TRIGGER IF EXISTS "+trg)
						} else {
							be.Exec(b, a.Store, "DROP TRIGGER IF EXISTS "+trg+" ON resources")
						}
					}
				}
				in := &steward.ResourceReport{Kind: "computer", TenantID: "ten_bench", Status: steward.ResourceRunning}
				for i := range 1000 {
					if _, err := a.Svc.Resources.ReportResource(apptest.System(), fmt.Sprintf("vm-%04d", i), in); err != nil {
						b.Fatal(err)
					}
				}
				i := 0
				for b.Loop() {
					if _, err := a.Svc.Resources.ReportResource(apptest.System(), fmt.Sprintf("vm-%04d", i%1000), in); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
		}
	}
}
