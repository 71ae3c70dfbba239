package service

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/testdb"
	"github.com/stewardhq/steward/store"
)

// BenchmarkSealPass: one full pass (sealBatch entries: read, chain, write
// back) on each store; entries/s is the sequencer's throughput.
//
//	go test ./service/ -run '^$' -bench BenchmarkSealPass -benchtime 20x
func BenchmarkSealPass(b *testing.B) {
	for _, be := range testdb.Backends(b) {
		b.Run(be.Name, func(b *testing.B) {
			s := New(Config{Store: be.Open(b)})
			ctx := steward.WithActor(context.Background(), steward.SystemActor)
			sealed := 0
			var took time.Duration
			for i := range b.N {
				b.StopTimer()
				err := s.store.Update(ctx, func(tx store.Tx) error {
					for j := range sealBatch {
						if err := s.audit(ctx, tx, event{Action: "test.write", TargetType: "test",
							TargetID: fmt.Sprintf("%d-%d", i, j)}); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				start := time.Now()
				n := 0
				for deadline := start.Add(10 * time.Second); n < sealBatch && time.Now().Before(deadline); {
					m, err := s.sealPass(ctx) // other tests' transactions may hold the horizon briefly
					if err != nil {
						b.Fatal(err)
					}
					n += m
				}
				took += time.Since(start)
				sealed += n
			}
			b.ReportMetric(float64(sealed)/took.Seconds(), "entries/s")
		})
	}
}

// BenchmarkSealLag: writers append audited changes as fast as they can
// (each b.N is one change) while RunSealer seals; a watcher reads each new
// sealed entry and records when it found it sealed, which less when its
// change committed is an upper bound of the lag (the watcher's own read
// included). The watcher also samples the oldest open transaction in the
// cluster (oldest-tx-max-ms): on a shared server another client's long
// transaction holds sealing back, and this names it.
//
//	go test ./service/ -run '^$' -bench BenchmarkSealLag -benchtime 20000x
func BenchmarkSealLag(b *testing.B) {
	for _, be := range testdb.Backends(b) {
		b.Run(be.Name, func(b *testing.B) {
			s := New(Config{Store: be.Open(b)})
			ctx := steward.WithActor(context.Background(), steward.SystemActor)
			var mu sync.Mutex
			committedAt := map[string]time.Time{}
			sealCtx, stop := context.WithCancel(ctx)
			var jobs sync.WaitGroup
			jobs.Go(func() { s.Audit.RunSealer(sealCtx) })
			sealedAt := map[string]time.Time{}
			var oldestTx time.Duration
			var done atomic.Bool
			jobs.Go(func() { // the watcher
				var after int64
				for !done.Load() || len(sealedAt) < b.N {
					if p, err := s.store.AuditPending(ctx); err == nil && p.OldestTx != nil {
						oldestTx = max(oldestTx, time.Since(*p.OldestTx))
					}
					list, err := s.store.ListAudit(ctx, steward.AuditFilter{SealedOnly: true, BeforeSeq: 1 << 62, Limit: 1})
					if err != nil || len(list) == 0 || list[0].Seq == after {
						if err != nil && sealCtx.Err() == nil {
							b.Error(err)
							return
						}
						if sealCtx.Err() != nil {
							return
						}
						continue
					}
					head := list[0].Seq
					now := time.Now()
					// Newest first, down to what the last look saw.
					for before := head + 1; before > after+1; {
						page, err := s.store.ListAudit(ctx, steward.AuditFilter{SealedOnly: true, BeforeSeq: before, Limit: 1000})
						if err != nil {
							b.Error(err)
							return
						}
						mu.Lock()
						for _, e := range page {
							if e.Seq <= after {
								break
							}
							sealedAt[e.TargetID] = now
						}
						mu.Unlock()
						if len(page) == 0 {
							break
						}
						before = page[len(page)-1].Seq
					}
					after = head
				}
			})
			const writers = 8
			var next atomic.Int64
			start := time.Now()
			var ws sync.WaitGroup
			for range writers {
				ws.Go(func() {
					for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
						target := fmt.Sprint(i)
						err := s.update(ctx, func(tx store.Tx) error {
							return s.audit(ctx, tx, event{Action: "test.write", TargetType: "test", TargetID: target})
						})
						if err != nil {
							b.Error(err)
							return
						}
						mu.Lock()
						committedAt[target] = time.Now()
						mu.Unlock()
					}
				})
			}
			ws.Wait()
			wrote := time.Since(start)
			done.Store(true)
			deadline := time.Now().Add(30 * time.Second)
			for {
				mu.Lock()
				n := len(sealedAt)
				mu.Unlock()
				if n >= b.N || time.Now().After(deadline) {
					break
				}
				s.Audit.SealNow(ctx)
			}
			stop()
			jobs.Wait()
			mu.Lock()
			defer mu.Unlock()
			if len(sealedAt) < b.N {
				b.Fatalf("%d of %d entries seen sealed", len(sealedAt), b.N)
			}
			lags := make([]time.Duration, 0, b.N)
			for target, at := range committedAt {
				lags = append(lags, max(sealedAt[target].Sub(at), 0))
			}
			slices.Sort(lags)
			pct := func(p float64) float64 { return float64(lags[int(p*float64(len(lags)-1))].Microseconds()) / 1000 }
			b.ReportMetric(float64(b.N)/wrote.Seconds(), "writes/s")
			b.ReportMetric(pct(0.5), "lag-p50-ms")
			b.ReportMetric(pct(0.99), "lag-p99-ms")
			b.ReportMetric(pct(1), "lag-max-ms")
			b.ReportMetric(float64(oldestTx.Microseconds())/1000, "oldest-tx-max-ms")
		})
	}
}
