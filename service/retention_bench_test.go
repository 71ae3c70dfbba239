package service_test

import (
	"context"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
	"github.com/stewardhq/steward/internal/testdb"
	"github.com/stewardhq/steward/service"
)

// BenchmarkRetentionAuditPurge: one op purges 20,000 audit entries past
// their age in batches of 1,000, each batch anchoring the chain; it
// reports the time of one batch (the longest a writer that audits waits).
func BenchmarkRetentionAuditPurge(b *testing.B) {
	const entries, batch = 20000, 1000
	for _, be := range testdb.Backends(b) {
		b.Run(be.Name, func(b *testing.B) {
			a := apptest.New(b, be)
			setRetentionB(b, a, "audit_log", "1")
			var total time.Duration
			for range b.N {
				b.StopTimer()
				for i := 0; i < entries; i += 5000 {
					if _, err := appendEntries(a, 5000, "bench.old", a.Clock.Now()); err != nil {
						b.Fatal(err)
					}
				}
				a.Clock.Advance(48 * time.Hour)
				svc := service.New(service.Config{Store: a.Store, Now: a.Clock.Now, RetentionBatch: batch})
				b.StartTimer()
				start := time.Now()
				run, err := svc.Retention.RunRetention(apptest.System())
				total += time.Since(start)
				if err != nil || run.Tables["audit_log"].Purged < entries {
					b.Fatalf("run %+v, %v", run.Tables["audit_log"], err)
				}
			}
			b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N)/float64(entries/batch), "ms/batch")
			res, err := a.Svc.Audit.VerifyChain(context.Background())
			if err != nil || !res.OK {
				b.Fatalf("verify after the purges: %+v, %v", res, err)
			}
		})
	}
}

func setRetentionB(b *testing.B, a *apptest.App, set, days string) {
	if _, err := a.Svc.Retention.UpdateRetention(apptest.System(), steward.RetentionPatch{set: []byte(days)}); err != nil {
		b.Fatal(err)
	}
}
