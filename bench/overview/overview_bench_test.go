package main

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward/internal/backend"
	"github.com/stewardhq/steward/internal/password"
)

// Environment of BenchmarkOverview.
const (
	envDB       = "STEWARD_BENCH_DB"       // a seeded database (sqlite:<path> or postgres://…); unset: skip
	envURLs     = "STEWARD_BENCH_URLS"     // admin GET paths, space-separated; default DefaultURLs
	envEmail    = "STEWARD_BENCH_EMAIL"    // the operator; default admin@bench.local
	envPassword = "STEWARD_BENCH_PASSWORD" // default $STEWARD_BOOTSTRAP_PASSWORD, else bench-password-1
	envParallel = "STEWARD_BENCH_PARALLEL" // clients at once; default 1 (latency)
)

// BenchmarkOverview measures, in one run on the database STEWARD_BENCH_DB
// names (seed it with this command), the hello handler and each admin GET
// URL, each over loopback HTTP with keep-alive, signed in as the seed's
// owner operator. Per URL it reports:
//
//	ns/op         the round trip, client included
//	server-ms/op  the time inside the handler (what the 10 ms goal is about)
//	x-hello       hello's round trip / this one's (as req/s relative to hello)
//	bytes/op      the answer's size
//
//	STEWARD_BENCH_DB=sqlite:$PWD/bench/data/overview-1m.db \
//	  go test ./bench/overview -run '^$' -bench Overview -benchtime 2s
func BenchmarkOverview(b *testing.B) {
	dsn := os.Getenv(envDB)
	if dsn == "" {
		b.Skipf("%s is not set: seed a database with go run ./bench/overview and name it there", envDB)
	}
	urls := DefaultURLs
	if s := strings.Fields(os.Getenv(envURLs)); len(s) > 0 {
		urls = s
	}
	email := envOr(envEmail, "admin@bench.local")
	pw := envOr(envPassword, envOr("STEWARD_BOOTSTRAP_PASSWORD", "bench-password-1"))
	parallel := 1
	if s := os.Getenv(envParallel); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("%s=%q: want a positive integer", envParallel, s)
		}
		parallel = n
	}
	ctx := context.Background()
	st, err := backend.Open(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	h, err := newHarness(ctx, st, password.Default(), email, pw)
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()

	var helloNs float64
	b.Run("hello", func(b *testing.B) {
		helloNs = measure(b, h, h.hello, "/", "", parallel)
	})
	for _, url := range urls {
		b.Run(benchName(url), func(b *testing.B) {
			token, err := h.login(ctx)
			if err != nil {
				b.Fatal(err)
			}
			ns := measure(b, h, h.steward, url, token, parallel)
			if helloNs > 0 {
				b.ReportMetric(helloNs/ns, "x-hello")
			}
		})
	}
}

// measure runs GET url b.N times (parallel clients at once) and reports
// the server's time per request; it returns the round trip per request.
func measure(b *testing.B, h *harness, srv *timedServer, url, token string, parallel int) float64 {
	ctx := context.Background()
	size, err := h.get(ctx, srv, url, token) // warm up, and fail early on a non-200
	if err != nil {
		b.Fatal(err)
	}
	srv.reset()
	b.ResetTimer()
	if parallel == 1 {
		for range b.N {
			if _, err := h.get(ctx, srv, url, token); err != nil {
				b.Fatal(err)
			}
		}
	} else {
		b.SetParallelism(max(1, parallel/runtime.GOMAXPROCS(0)))
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := h.get(ctx, srv, url, token); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	b.StopTimer()
	total, n := srv.reset()
	if n > 0 {
		b.ReportMetric(float64(total)/float64(n)/float64(time.Millisecond), "server-ms/op")
	}
	b.ReportMetric(float64(size), "bytes/op")
	return float64(b.Elapsed().Nanoseconds()) / float64(b.N)
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
