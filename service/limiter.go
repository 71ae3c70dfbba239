package service

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/stewardhq/steward"
)

// failureLimiter throttles failed logins per IP. It is per replica (in
// memory): N replicas let an IP make up to N times the limit, which the
// per-account lockout (kept in the database) bounds anyway.
type failureLimiter struct {
	mu    sync.Mutex
	per   rate.Limit
	burst int
	ips   map[string]*rate.Limiter
}

// maxTrackedIPs bounds memory; past it the table starts afresh.
const maxTrackedIPs = 100_000

func newFailureLimiter(n int, window time.Duration) *failureLimiter {
	return &failureLimiter{per: rate.Limit(float64(n) / window.Seconds()), burst: n, ips: map[string]*rate.Limiter{}}
}

func (l *failureLimiter) get(ip string) *rate.Limiter {
	lim, ok := l.ips[ip]
	if !ok {
		if len(l.ips) >= maxTrackedIPs {
			l.ips = map[string]*rate.Limiter{}
		}
		lim = rate.NewLimiter(l.per, l.burst)
		l.ips[ip] = lim
	}
	return lim
}

// wait is how long ip must wait before its next attempt, 0 if it may go now.
func (l *failureLimiter) wait(ip string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.ips[ip]
	if !ok {
		return 0
	}
	tokens := lim.TokensAt(now)
	if tokens >= 1 {
		return 0
	}
	return time.Duration((1 - tokens) / float64(l.per) * float64(time.Second))
}

// fail records one failed attempt from ip.
func (l *failureLimiter) fail(ip string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.get(ip).AllowN(now, 1)
}

// rateLimited is the 429 error with the seconds to wait.
func rateLimited(msg string, wait time.Duration) error {
	secs := int(math.Ceil(wait.Seconds()))
	if secs < 1 {
		secs = 1
	}
	return &steward.Error{Code: steward.CodeRateLimited, Message: msg, Details: map[string]any{"retry_after": secs}}
}
