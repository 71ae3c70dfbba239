package api

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/stewardhq/steward"
)

// DefaultAdminRatePerMinute is how many admin-surface requests one
// credential may make per minute when Deps does not say: generous enough for
// any script an operator runs by hand or in CI, low enough that a runaway
// loop cannot take the writer for itself.
const DefaultAdminRatePerMinute = 6000

// maxTrackedCredentials bounds the limiter table; past it, credentials whose
// bucket has refilled (as good as new) are dropped.
const maxTrackedCredentials = 50_000

// adminLimiter is a token bucket per credential on the admin surface. It is
// per replica (in memory): N replicas allow N times the rate.
type adminLimiter struct {
	mu    sync.Mutex
	now   func() time.Time
	per   rate.Limit
	burst int
	creds map[string]*rate.Limiter
}

// newAdminLimiter: perMinute 0 takes the default, below 0 turns the limit
// off (nil); burst 0 is ten seconds' worth.
func newAdminLimiter(perMinute, burst int, now func() time.Time) *adminLimiter {
	if perMinute < 0 {
		return nil
	}
	if perMinute == 0 {
		perMinute = DefaultAdminRatePerMinute
	}
	if burst <= 0 {
		burst = max(1, perMinute/6)
	}
	if now == nil {
		now = time.Now
	}
	return &adminLimiter{now: now, per: rate.Limit(float64(perMinute) / 60), burst: burst, creds: map[string]*rate.Limiter{}}
}

// credentialOf names the credential a request came with: the key, else the
// session, else (an admin JWT) the operator.
func credentialOf(p *steward.Principal) string {
	switch {
	case p.Key != nil:
		return "key " + p.Key.ID
	case p.Session != nil:
		return "session " + p.Session.ID
	}
	return "actor " + p.Actor.ID
}

// allow takes one request from cred's bucket, or answers 429 with the wait.
func (l *adminLimiter) allow(cred string) error {
	if l == nil {
		return nil
	}
	now := l.now()
	l.mu.Lock()
	lim, ok := l.creds[cred]
	if !ok {
		if len(l.creds) >= maxTrackedCredentials {
			l.sweep(now)
		}
		lim = rate.NewLimiter(l.per, l.burst)
		l.creds[cred] = lim
	}
	if lim.AllowN(now, 1) {
		l.mu.Unlock()
		return nil
	}
	wait := time.Duration((1 - lim.TokensAt(now)) / float64(l.per) * float64(time.Second))
	l.mu.Unlock()
	secs := max(1, int(math.Ceil(wait.Seconds())))
	return &steward.Error{Code: steward.CodeRateLimited,
		Message: "too many admin requests from this credential; slow down",
		Details: map[string]any{"retry_after": secs, "limit_per_minute": int(float64(l.per)*60 + 0.5), "burst": l.burst}}
}

// sweep drops buckets that are full again; if none is, it starts afresh
// (a full table of busy credentials is an attack, not a workload).
func (l *adminLimiter) sweep(now time.Time) {
	for k, lim := range l.creds {
		if lim.TokensAt(now) >= float64(l.burst) {
			delete(l.creds, k)
		}
	}
	if len(l.creds) >= maxTrackedCredentials {
		l.creds = map[string]*rate.Limiter{}
	}
}
