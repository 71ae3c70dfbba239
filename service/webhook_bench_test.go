package service_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
	"github.com/stewardhq/steward/internal/testdb"
)

// BenchmarkWebhookDeductCost: deducts per second (64 goroutines, one
// tenant, SQLite with durable commits) without any webhook endpoint, and
// with one subscribed to every event while a deliverer sends them to a
// local receiver, which also gives events delivered per second.
// docs/benchmarks.md#webhooks has figures.
func BenchmarkWebhookDeductCost(b *testing.B) {
	for _, withEndpoint := range []bool{false, true} {
		name := "no_endpoint"
		if withEndpoint {
			name = "endpoint_delivering"
		}
		b.Run(name, func(b *testing.B) {
			a := apptest.New(b, testdb.Backends(b)[0], loopbackOK)
			ctx := apptest.System()
			ten, err := a.Svc.Tenants.CreateTenant(ctx, &steward.TenantCreate{Name: "Bench"})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := a.Svc.Credits.Grant(ctx, &steward.GrantInput{TenantID: ten.ID, Amount: 100_000_000_000, Description: "bench"}); err != nil {
				b.Fatal(err)
			}
			var delivered atomic.Int64
			stop := func() {}
			if withEndpoint {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					_, _ = io.Copy(io.Discard, r.Body)
					delivered.Add(1)
				}))
				b.Cleanup(srv.Close)
				if _, err := a.Svc.Webhooks.CreateWebhook(ctx, steward.WebhookEndpointCreate{URL: srv.URL, EventTypes: []string{"*"}}); err != nil {
					b.Fatal(err)
				}
				dctx, cancel := context.WithCancel(context.Background())
				var wg sync.WaitGroup
				wg.Go(func() { a.Svc.Webhooks.RunDeliverer(dctx, "bench") })
				stop = func() { cancel(); wg.Wait() }
			}
			b.SetParallelism(32)
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := a.Svc.Credits.Deduct(ctx, &steward.DeductInput{TenantID: ten.ID, Amount: 1, Description: "b"}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			el := time.Since(start)
			b.StopTimer()
			stop()
			b.ReportMetric(float64(b.N)/el.Seconds(), "deducts/s")
			if withEndpoint {
				b.ReportMetric(float64(delivered.Load())/el.Seconds(), "delivered/s")
			}
		})
	}
}

// BenchmarkWebhookDelivery: events delivered per second to a local
// receiver by one deliverer, from a backlog (SQLite, durable commits).
func BenchmarkWebhookDelivery(b *testing.B) {
	a := apptest.New(b, testdb.Backends(b)[0], loopbackOK)
	ctx := apptest.System()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	b.Cleanup(srv.Close)
	if _, err := a.Svc.Webhooks.CreateWebhook(ctx, steward.WebhookEndpointCreate{URL: srv.URL, EventTypes: []string{"*"}}); err != nil {
		b.Fatal(err)
	}
	for range b.N {
		a.User(steward.RoleUser)
	}
	b.ResetTimer()
	start := time.Now()
	sent := 0
	for sent < b.N {
		n, err := a.Svc.Webhooks.DeliverDue(context.Background(), "bench")
		if err != nil {
			b.Fatal(err)
		}
		sent += n
	}
	b.ReportMetric(float64(sent)/time.Since(start).Seconds(), "delivered/s")
}
