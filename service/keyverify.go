package service

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// keyLimiter enforces rate_limit_rpm per key with GCRA: each key has a
// theoretical arrival time that every allowed request pushes one emission
// interval (a minute / rpm) ahead; a request is refused while that would put
// it more than a minute ahead. A full minute's allowance may be spent in a
// burst. It is in memory, so per replica: N replicas behind a balancer let a
// key make up to N × its limit.
type keyLimiter struct {
	mu  sync.Mutex
	tat map[string]time.Time
}

// take decides one request for key id at now.
func (l *keyLimiter) take(id string, rpm int, now time.Time) (ok bool, st steward.RateLimitState, retry time.Duration) {
	st.Limit = rpm
	if rpm <= 0 {
		return true, st, 0
	}
	interval := time.Minute / time.Duration(rpm)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.tat == nil {
		l.tat = map[string]time.Time{}
	}
	tat := l.tat[id]
	if tat.Before(now) {
		tat = now
	}
	next := tat.Add(interval)
	if next.Sub(now) > time.Minute {
		st.Reset = tat.Unix()
		return false, st, next.Sub(now) - time.Minute
	}
	l.tat[id] = next
	st.Remaining = int((time.Minute - next.Sub(now)) / interval)
	st.Reset = next.Unix()
	return true, st, 0
}

// forget drops a key's window, e.g. after its limit changed.
func (l *keyLimiter) forget(id string) {
	l.mu.Lock()
	delete(l.tat, id)
	l.mu.Unlock()
}

// prune drops windows that are full again, bounding memory to the keys used
// in the last minute.
func (l *keyLimiter) prune(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for id, t := range l.tat {
		if !t.After(now) {
			delete(l.tat, id)
		}
	}
}

// keyUses collects last-use times in memory; FlushKeyUses writes them in one
// transaction, so verification never writes to the database itself.
type keyUses struct {
	mu sync.Mutex
	m  map[string]steward.KeyUse
}

func (u *keyUses) record(id string, at time.Time, ip string) {
	u.mu.Lock()
	if u.m == nil {
		u.m = map[string]steward.KeyUse{}
	}
	u.m[id] = steward.KeyUse{KeyID: id, At: at, IP: ip}
	u.mu.Unlock()
}

func (u *keyUses) take() []steward.KeyUse {
	u.mu.Lock()
	m := u.m
	u.m = nil
	u.mu.Unlock()
	out := make([]steward.KeyUse, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// KeyUseFlushInterval is how often serve writes last_used_at: the bound on
// how stale last_used_at and last_used_ip may be (plus one flush's time).
const KeyUseFlushInterval = 5 * time.Second

// FlushKeyUses writes the recorded last uses of keys. Bookkeeping, not
// audited. serve calls it every KeyUseFlushInterval and at shutdown.
func (s *Keys) FlushKeyUses(ctx context.Context) error {
	uses := s.uses.take()
	s.limits.prune(s.now())
	if len(uses) == 0 {
		return nil
	}
	return s.update(ctx, func(tx store.Tx) error { return tx.RecordKeyUses(ctx, uses) })
}

// keyRead is what GetAPIKeyForVerify returned for one hash.
type keyRead struct {
	key   *steward.APIKey
	owner *steward.KeyOwner
}

// readKey is GetAPIKeyForVerify through the auth cache. Unknown keys are
// never cached, so guessing fills nothing. What it returns is shared:
// callers must not change it.
func (s *Keys) readKey(ctx context.Context, hash []byte) (*steward.APIKey, *steward.KeyOwner, error) {
	r, err := cached(s.authCache, "kh"+string(hash), func() (keyRead, error) {
		k, owner, err := s.store.GetAPIKeyForVerify(ctx, hash)
		return keyRead{k, owner}, err
	}, func(r keyRead) []string {
		deps := append([]string{apiKeyKey(r.key.ID), flagUserKey(r.key.UserID)}, tenantDeps(r.key.TenantID)...)
		if r.owner != nil {
			deps = append(deps, tenantDeps(r.owner.TenantID)...)
		}
		return deps
	})
	return r.key, r.owner, err
}

// decideKey verifies key text as of now with one read (the key and its
// owner's state). It returns the result (never an error for a bad key), the
// key and its owner when found, and how long to wait when rate-limited.
func (s *Keys) decideKey(ctx context.Context, text, ip string, scope steward.Permission) (*steward.VerifyResult, *steward.APIKey, *steward.KeyOwner, time.Duration, error) {
	res := &steward.VerifyResult{Code: steward.VerifyNotFound, Scopes: []steward.Permission{}}
	if s.keyTypeOf(text) == "" {
		return res, nil, nil, 0, nil
	}
	k, owner, err := s.readKey(ctx, keyHash(text))
	if errors.Is(err, store.ErrNotFound) {
		return res, nil, nil, 0, nil
	}
	if err != nil {
		return nil, nil, nil, 0, err
	}
	res.KeyID, res.KeyType, res.UserID, res.TenantID, res.Scopes = k.ID, k.Type, k.UserID, k.TenantID, k.Scopes
	res.RateLimit.Limit = k.RateLimitRPM
	now := s.now()
	switch k.State(now) {
	case steward.KeyRevoked:
		res.Code = steward.VerifyRevoked
		return res, k, owner, 0, nil
	case steward.KeyExpired:
		res.Code = steward.VerifyExpired
		return res, k, owner, 0, nil
	case steward.KeyDisabled:
		res.Code = steward.VerifyDisabled
		return res, k, owner, 0, nil
	}
	if owner == nil || !owner.IsActive(now) {
		res.Code = steward.VerifyOwnerInactive
		return res, k, owner, 0, nil
	}
	// A key limited to some addresses fails when the caller cannot say
	// which address it came from.
	if !k.AllowsIP(ip) {
		res.Code = steward.VerifyIPNotAllowed
		return res, k, owner, 0, nil
	}
	if scope != "" && !k.HasScope(scope) {
		res.Code = steward.VerifyInsufficientScope
		return res, k, owner, 0, nil
	}
	ok, st, retry := s.limits.take(k.ID, k.RateLimitRPM, now)
	res.RateLimit = st
	if !ok {
		res.Code = steward.VerifyRateLimited
		return res, k, owner, retry, nil
	}
	s.uses.record(k.ID, now, ip)
	s.activity.record(k.UserID, now)
	res.Valid, res.Code = true, steward.VerifyValid
	return res, k, owner, 0, nil
}

// VerifyKey implements steward.KeyService. Every outcome for the key being
// checked is a 200 answer with a code; the caller's own credential and
// permission are checked like any request's.
func (s *Keys) VerifyKey(ctx context.Context, in *steward.VerifyRequest) (*steward.VerifyResult, error) {
	if _, err := authorize(ctx, steward.PermKeysVerify); err != nil {
		return nil, err
	}
	if in.Key == "" {
		return nil, steward.FieldError("key", "is required")
	}
	res, _, _, _, err := s.checkKey(ctx, in.Key, in.IP, in.Scope)
	return res, err
}

// authenticateKey resolves an admin or platform key used as a credential.
// The key's own limits apply: its addresses, its rate, and its owner's state.
func (s *Keys) authenticateKey(ctx context.Context, text string) (*steward.Principal, error) {
	ip := steward.RequestInfoFrom(ctx).IP
	res, k, owner, retry, err := s.checkKey(ctx, text, ip, "")
	if err != nil {
		return nil, err
	}
	switch res.Code {
	case steward.VerifyValid:
	case steward.VerifyRateLimited:
		return nil, rateLimited("this key's rate limit is exhausted", retry)
	case steward.VerifyIPNotAllowed:
		return nil, &steward.Error{Code: steward.CodeForbidden, Message: "this key may not be used from this address",
			Details: map[string]any{"key_status": res.Code, "ip": ip}}
	default:
		return nil, &steward.Error{Code: steward.CodeUnauthenticated, Message: "the key is not valid",
			Details: map[string]any{"key_status": res.Code}}
	}
	t := steward.ActorUser
	if owner.Role.IsOperator() {
		t = steward.ActorOperator
	}
	scopes := k.Scopes
	if scopes == nil {
		scopes = []steward.Permission{}
	}
	return &steward.Principal{
		Actor: steward.Actor{Type: t, ID: owner.ID, Role: owner.Role, CredentialID: k.ID, Scopes: scopes},
		Key:   k,
	}, nil
}
