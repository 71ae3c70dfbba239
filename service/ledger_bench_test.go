package service_test

import (
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
	"github.com/stewardhq/steward/internal/testdb"
)

// BenchmarkLedgerDeducts: deducts per second through the service (group
// commit, no HTTP), 64 goroutines, on one tenant and spread over 64 tenants,
// on SQLite (durable commits) and on PostgreSQL when STEWARD_TEST_POSTGRES
// is set; on PostgreSQL also the statements each deduct cost.
func BenchmarkLedgerDeducts(b *testing.B) {
	for _, be := range testdb.Backends(b) {
		for _, tenants := range []int{1, 64} {
			b.Run(be.Name+"/tenants="+strconv.Itoa(tenants), func(b *testing.B) { benchLedgerDeducts(b, be, tenants) })
		}
	}
}

func benchLedgerDeducts(b *testing.B, be testdb.Backend, tenants int) {
	a := apptest.New(b, be)
	ctx := apptest.System()
	ids := make([]string, tenants)
	for i := range ids {
		ten, err := a.Svc.Tenants.CreateTenant(ctx, &steward.TenantCreate{Name: "Bench " + strconv.Itoa(i)})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := a.Svc.Credits.Grant(ctx, &steward.GrantInput{TenantID: ten.ID, Amount: 100_000_000_000, Description: "bench"}); err != nil {
			b.Fatal(err)
		}
		ids[i] = ten.ID
	}
	counter, counts := a.Store.(statementCounter)
	var before uint64
	if counts {
		before = counter.Statements()
	}
	var next atomic.Int64
	b.SetParallelism(32)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			tid := ids[int(next.Add(1))%len(ids)]
			if _, err := a.Svc.Credits.Deduct(ctx, &steward.DeductInput{TenantID: tid, Amount: 1, Description: "b"}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "deducts/s")
	if counts {
		b.ReportMetric(float64(counter.Statements()-before)/float64(b.N), "statements/deduct")
	}
}
