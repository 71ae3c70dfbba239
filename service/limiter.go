package service

import (
	"crypto/sha256"
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

// loginThrottle decides, before any password is checked, whether a login
// attempt must wait. It is keyed by what the caller typed (the normalised
// email or username), never by whether an account answers to it, so a name
// that exists and one that does not get the same answers in the same order.
// Two limits, both counting failures only:
//
//   - per name and client address: after `after` failures in a row the pair
//     waits `lockFor`. This is what stops one address guessing, and it cannot
//     touch the owner signing in from anywhere else.
//   - per name, over every address that has not signed in to it recently:
//     a token bucket of `acctBurst` failures refilled at acctBurst per hour.
//     It bounds a guesser spread over many addresses; when it is empty, new
//     addresses wait for the next token (slowed, not locked), while an
//     address that signed in successfully in the last knownFor is exempt, so
//     an attacker elsewhere cannot lock the owner out from their usual place.
//
// The state is in memory, per replica (N replicas give N times the budget),
// and is dropped for an account whose LoginResetAt (set by
// `steward operator unlock` and by password resets) is later than it.
type loginThrottle struct {
	mu        sync.Mutex
	after     int
	lockFor   time.Duration
	acctRate  rate.Limit
	acctBurst int
	pairs     map[throttleKey]*pairState
	accounts  map[throttleKey]*acctState
	known     map[throttleKey]time.Time // (name, address) → exempt from the account limit until
}

// knownFor is how long a successful sign-in exempts its address from the
// per-account limit.
const knownFor = 30 * 24 * time.Hour

// throttleKey is a hash, so the tables hold no emails and a fixed size per entry.
type throttleKey [16]byte

func keyOf(parts ...string) throttleKey {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	var k throttleKey
	copy(k[:], h.Sum(nil))
	return k
}

type pairState struct {
	since       time.Time // when this state began (a reset drops older state)
	last        time.Time // last failure
	fails       int       // failures in a row
	lockedUntil time.Time
}

type acctState struct {
	since time.Time
	lim   *rate.Limiter
}

func newLoginThrottle(after int, lockFor time.Duration, perHour int) *loginThrottle {
	return &loginThrottle{after: after, lockFor: lockFor,
		acctRate: rate.Limit(float64(perHour) / 3600), acctBurst: perHour,
		pairs: map[throttleKey]*pairState{}, accounts: map[throttleKey]*acctState{}, known: map[throttleKey]time.Time{}}
}

// Throttle scopes, as named in 429 answers' details and in audit entries.
const (
	scopeAddress = "account_and_address"
	scopeAccount = "account"
)

// check is how long an attempt for name from ip must wait (0: go on), and
// which limit holds it. resetAt is the account's LoginResetAt, zero for a
// name no account answers to.
func (t *loginThrottle) check(name, ip string, resetAt, now time.Time) (time.Duration, string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	pk, ak := keyOf(name, ip), keyOf(name)
	if p := t.pairs[pk]; p != nil {
		if !resetAt.IsZero() && !p.since.After(resetAt) {
			delete(t.pairs, pk)
		} else if now.Before(p.lockedUntil) {
			return p.lockedUntil.Sub(now), scopeAddress
		}
	}
	if now.Before(t.known[pk]) {
		return 0, ""
	}
	if a := t.accounts[ak]; a != nil {
		if !resetAt.IsZero() && !a.since.After(resetAt) {
			delete(t.accounts, ak)
		} else if tokens := a.lim.TokensAt(now); tokens < 1 {
			return time.Duration((1 - tokens) / float64(t.acctRate) * float64(time.Second)), scopeAccount
		}
	}
	return 0, ""
}

// fail records a failed attempt and says which limit, if any, it filled.
func (t *loginThrottle) fail(name, ip string, now time.Time) (tripped string, until time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	pk, ak := keyOf(name, ip), keyOf(name)
	p := t.pairs[pk]
	// A pair idle for lockFor, or whose lock has passed, starts again.
	if p == nil || now.Sub(p.last) >= t.lockFor || (!p.lockedUntil.IsZero() && !now.Before(p.lockedUntil)) {
		if p == nil {
			t.makeRoom(now)
		}
		p = &pairState{since: now}
		t.pairs[pk] = p
	}
	p.fails++
	p.last = now
	if p.fails >= t.after {
		p.fails, p.lockedUntil = 0, now.Add(t.lockFor)
		tripped, until = scopeAddress, p.lockedUntil
	}
	if now.Before(t.known[pk]) {
		return tripped, until
	}
	a := t.accounts[ak]
	if a == nil {
		t.makeRoom(now)
		a = &acctState{since: now, lim: rate.NewLimiter(t.acctRate, t.acctBurst)}
		t.accounts[ak] = a
	}
	a.lim.AllowN(now, 1)
	if tripped == "" && a.lim.TokensAt(now) < 1 {
		tripped, until = scopeAccount, now.Add(time.Duration((1-a.lim.TokensAt(now))/float64(t.acctRate)*float64(time.Second)))
	}
	return tripped, until
}

// succeed clears the pair's failures and exempts its address from the
// per-account limit for knownFor.
func (t *loginThrottle) succeed(name, ip string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	pk := keyOf(name, ip)
	delete(t.pairs, pk)
	if _, ok := t.known[pk]; !ok {
		t.makeRoom(now)
	}
	t.known[pk] = now.Add(knownFor)
}

// makeRoom keeps each table under maxTrackedIPs entries: first it drops
// entries that no longer hold anything back; if the table is still full it
// starts afresh. Every entry costs a password hash to create, and hashing is
// bounded (a few dozen a second), so filling a table takes hours.
func (t *loginThrottle) makeRoom(now time.Time) {
	if len(t.pairs) >= maxTrackedIPs {
		for k, p := range t.pairs {
			if !now.Before(p.lockedUntil) && now.Sub(p.last) >= t.lockFor {
				delete(t.pairs, k)
			}
		}
		if len(t.pairs) >= maxTrackedIPs {
			clear(t.pairs)
		}
	}
	if len(t.accounts) >= maxTrackedIPs {
		for k, a := range t.accounts {
			if a.lim.TokensAt(now) >= float64(t.acctBurst) {
				delete(t.accounts, k)
			}
		}
		if len(t.accounts) >= maxTrackedIPs {
			clear(t.accounts)
		}
	}
	if len(t.known) >= maxTrackedIPs {
		for k, until := range t.known {
			if !now.Before(until) {
				delete(t.known, k)
			}
		}
		if len(t.known) >= maxTrackedIPs {
			clear(t.known)
		}
	}
}
