package password

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"
)

// TestPoolBoundsConcurrentHashes: however many callers, no more than Slots
// hashes run at once, and every caller is served.
func TestPoolBoundsConcurrentHashes(t *testing.T) {
	p := NewPool(Hasher{P: Params{Time: 2, MemoryKiB: 256, Threads: 1}}, 3, time.Minute)
	hash, err := p.Hash(context.Background(), "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 32*4)
	for c := 0; c < 32; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 4; i++ {
				if ok, _, err := p.Verify(context.Background(), "correct horse", hash); !ok || err != nil {
					errs <- errors.Join(err, errors.New("did not verify"))
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if m := p.MaxInFlight(); m > 3 || m < 1 {
		t.Fatalf("max in flight = %d, bound 3", m)
	}
}

// TestPoolAnswersBusyAfterItsWait: a caller that finds every slot taken
// waits at most the pool's wait, then gets ErrBusy; one whose context ends
// first gets the context's error.
func TestPoolAnswersBusyAfterItsWait(t *testing.T) {
	p := NewPool(Hasher{P: Cheap}, 1, 20*time.Millisecond)
	if err := p.acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Hash(context.Background(), "pw"); !errors.Is(err, ErrBusy) {
		t.Fatalf("hash with every slot taken: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := p.Verify(ctx, "pw", "x"); !errors.Is(err, context.Canceled) {
		t.Fatalf("verify with a cancelled context: %v", err)
	}
	p.release()
	if _, err := p.Hash(context.Background(), "pw"); err != nil {
		t.Fatalf("hash once the slot is free: %v", err)
	}
}

// TestPoolHeapStaysWithinTheBound runs real parameters (64 MiB a hash):
// sixteen callers at once, two slots. Unbounded, that is 1 GiB of live
// blocks; the pool keeps the heap under three blocks.
func TestPoolHeapStaysWithinTheBound(t *testing.T) {
	if testing.Short() {
		t.Skip("real argon2id parameters take a few seconds")
	}
	p := NewPool(Hasher{P: Default()}, 2, time.Minute)
	hash, err := p.Hash(context.Background(), "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)

	stop := make(chan struct{})
	peak := make(chan uint64)
	go func() {
		var m runtime.MemStats
		var top uint64
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				peak <- top
				return
			case <-tick.C:
				runtime.ReadMemStats(&m)
				top = max(top, m.HeapAlloc)
			}
		}
	}()
	var wg sync.WaitGroup
	for c := 0; c < 16; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ok, _, err := p.Verify(context.Background(), "correct horse", hash); !ok || err != nil {
				t.Error("verify failed", err)
			}
		}()
	}
	wg.Wait()
	close(stop)
	top := <-peak
	const block = 64 << 20
	if grew := int64(top) - int64(base.HeapAlloc); grew > 3*block {
		t.Fatalf("heap grew by %d MiB under 16 concurrent logins; bound is 2 slots × 64 MiB (+1 block of slack)", grew>>20)
	}
	if m := p.MaxInFlight(); m != 2 {
		t.Fatalf("max in flight = %d, want the bound 2 reached", m)
	}
	t.Logf("peak heap %d MiB above a base of %d MiB", (int64(top)-int64(base.HeapAlloc))>>20, base.HeapAlloc>>20)
}
