package service_test

import (
	"context"
	"fmt"
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
	"github.com/stewardhq/steward/service"
)

// BenchmarkWebhookDeductCost: deducts per second (64 goroutines, one
// tenant; SQLite with durable commits, and PostgreSQL when
// STEWARD_TEST_POSTGRES is set) without any webhook endpoint, and with one
// subscribed to every event while a deliverer sends them to a local
// receiver, which also gives events delivered per second.
// docs/benchmarks.md#webhooks-issue-13 has figures.
func BenchmarkWebhookDeductCost(b *testing.B) {
	for _, be := range testdb.Backends(b) {
		for _, withEndpoint := range []bool{false, true} {
			name := be.Name + "/no_endpoint"
			if withEndpoint {
				name = be.Name + "/endpoint_delivering"
			}
			b.Run(name, func(b *testing.B) { benchDeductCost(b, be, withEndpoint) })
		}
	}
}

func benchDeductCost(b *testing.B, be testdb.Backend, withEndpoint bool) {
	a := apptest.New(b, be, loopbackOK)
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
}

// BenchmarkWebhookDelivery: events delivered per second to a local
// receiver from a backlog, by one deliverer (SQLite with durable commits,
// and PostgreSQL when STEWARD_TEST_POSTGRES is set) and, on PostgreSQL, by
// two deliverers (replicas) sharing two endpoints.
func BenchmarkWebhookDelivery(b *testing.B) {
	for _, be := range testdb.Backends(b) {
		b.Run(be.Name, func(b *testing.B) { benchDelivery(b, be, 1, 1) })
		if be.Name == "postgres" {
			b.Run(be.Name+"/two_deliverers", func(b *testing.B) { benchDelivery(b, be, 2, 2) })
		}
	}
}

// benchDelivery writes b.N events and times replicas deliverers sending
// them to endpoints endpoints (b.N×endpoints requests).
func benchDelivery(b *testing.B, be testdb.Backend, replicas, endpoints int) {
	a := apptest.New(b, be, loopbackOK)
	ctx := apptest.System()
	var delivered atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		delivered.Add(1)
	}))
	b.Cleanup(srv.Close)
	for range endpoints {
		if _, err := a.Svc.Webhooks.CreateWebhook(ctx, steward.WebhookEndpointCreate{URL: srv.URL, EventTypes: []string{"*"}}); err != nil {
			b.Fatal(err)
		}
	}
	for range b.N {
		a.User(steward.RoleUser)
	}
	want := int64(b.N * endpoints)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for r := range replicas {
		svc := a.Svc
		if r > 0 {
			svc = service.New(service.Config{Store: a.Store, Now: a.Clock.Now,
				Webhooks: service.WebhookAddressPolicy{AllowInsecure: true}})
		}
		wg.Go(func() {
			for delivered.Load() < want {
				if _, err := svc.Webhooks.DeliverDue(context.Background(), fmt.Sprint("bench", r)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(delivered.Load())/time.Since(start).Seconds(), "delivered/s")
}
