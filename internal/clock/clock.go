// Package clock provides the time source that is injected everywhere, so ban
// expiry, lockouts and session expiry are tested without sleeping.
package clock

import (
	"sync"
	"time"
)

// Real returns the current time in UTC at microsecond precision, the
// precision both stores keep.
func Real() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// Fake is a settable clock for tests.
type Fake struct {
	mu  sync.Mutex
	now time.Time
}

// NewFake returns a clock stopped at t.
func NewFake(t time.Time) *Fake { return &Fake{now: t.UTC().Truncate(time.Microsecond)} }

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// Advance moves the clock forward by d.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d).Truncate(time.Microsecond)
	f.mu.Unlock()
}
