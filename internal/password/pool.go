package password

import (
	"context"
	"errors"
	"runtime"
	"runtime/debug"
	"sync"
	"time"
)

// ErrBusy is returned when no hashing slot came free within the pool's wait.
var ErrBusy = errors.New("password: every hashing slot is busy")

// Pool runs a Hasher with at most Slots hashes at a time. Each argon2id
// hash holds its whole memory parameter (64 MiB by default) until it ends,
// so the bound on concurrent hashes is the bound on the memory they take:
// Slots × MemoryKiB, plus what the garbage collector has not yet reclaimed.
// After each hash the pool runs a collection so that the block is reused by
// the next hash instead of the heap growing to twice its live size, and once
// the pool has been idle for a few seconds it hands the freed pages back to
// the operating system (off the request path: that costs a page fault per
// page on the next hash, measured at +450 ms when done after every hash).
type Pool struct {
	h     Hasher
	slots chan struct{}
	wait  time.Duration

	mu          sync.Mutex
	inFlight    int // hashes running now
	waiting     int // callers queued for a slot
	maxInFlight int
	gen         int // bumped on every acquire, so an idle release can tell it is still idle
}

// idleFree is how long the pool waits idle before returning memory.
const idleFree = 5 * time.Second

// NewPool returns a pool of slots concurrent hashes (default: the number of
// CPUs Go may use) whose callers queue for at most wait (default 2 s) before
// getting ErrBusy.
func NewPool(h Hasher, slots int, wait time.Duration) *Pool {
	if slots <= 0 {
		slots = runtime.GOMAXPROCS(0)
	}
	if wait <= 0 {
		wait = 2 * time.Second
	}
	return &Pool{h: h, slots: make(chan struct{}, slots), wait: wait}
}

// Params are the parameters new hashes get.
func (p *Pool) Params() Params { return p.h.P }

// Slots is the pool's bound on concurrent hashes.
func (p *Pool) Slots() int { return cap(p.slots) }

// MaxInFlight is the most hashes that ever ran at once in this pool.
func (p *Pool) MaxInFlight() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.maxInFlight
}

// Hash is Hasher.Hash inside a slot.
func (p *Pool) Hash(ctx context.Context, pw string) (string, error) {
	if err := p.acquire(ctx); err != nil {
		return "", err
	}
	defer p.release()
	return p.h.Hash(pw)
}

// Verify is Hasher.Verify inside a slot.
func (p *Pool) Verify(ctx context.Context, pw, hash string) (ok, rehash bool, err error) {
	if err := p.acquire(ctx); err != nil {
		return false, false, err
	}
	defer p.release()
	return p.h.Verify(pw, hash)
}

func (p *Pool) acquire(ctx context.Context) error {
	select {
	case p.slots <- struct{}{}:
	default:
		p.mu.Lock()
		p.waiting++
		p.mu.Unlock()
		t := time.NewTimer(p.wait)
		var err error
		select {
		case p.slots <- struct{}{}:
		case <-t.C:
			err = ErrBusy
		case <-ctx.Done():
			err = ctx.Err()
		}
		t.Stop()
		p.mu.Lock()
		p.waiting--
		p.mu.Unlock()
		if err != nil {
			return err
		}
	}
	p.mu.Lock()
	p.inFlight++
	p.gen++
	p.maxInFlight = max(p.maxInFlight, p.inFlight)
	p.mu.Unlock()
	return nil
}

func (p *Pool) release() {
	if p.h.P.MemoryKiB >= 1024 { // test parameters leave nothing worth collecting
		// Collected before the slot is freed, so the next hash finds this
		// block's memory free instead of adding its own: without it the heap
		// target doubles past the live blocks and a flood leaves about twice
		// Slots × MemoryKiB resident (measured: 285 MiB against 132 MiB for
		// two 64 MiB slots).
		runtime.GC()
	}
	p.mu.Lock()
	p.inFlight--
	idle, gen := p.inFlight == 0 && p.waiting == 0, p.gen
	p.mu.Unlock()
	<-p.slots
	if idle && p.h.P.MemoryKiB >= 1024 {
		time.AfterFunc(idleFree, func() {
			p.mu.Lock()
			still := p.gen == gen && p.inFlight == 0
			p.mu.Unlock()
			if still {
				debug.FreeOSMemory()
			}
		})
	}
}
