package service

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// authCache is this replica's copy of the rows the authentication path
// reads: sessions with their users, API keys with their owner's state,
// impersonations, operators, tenants, and users by email (trusted issuers).
// It holds rows, never decisions: expiry, bans with an end, token versions,
// addresses, scopes and rate limits are evaluated on every request at the
// injected clock, so a cached row cannot outlive a time-based rule.
//
// Each entry names the entities it was read from (invalidation keys: the
// session, the user, the key, the tenant, the impersonation). Every write
// transaction notes the entities it changes (noteTx, notetx.go); after the
// commit the writing replica drops the entries that depend on them before
// core.update returns, and on PostgreSQL the notes are NOTIFY'd in the
// transaction, so every other replica drops them when its listener hears
// the commit. While the listener is not connected nothing is served from
// or kept in the cache, and when it (re)connects everything is dropped,
// since notifications may have been missed. On SQLite the server's writes
// all pass through its core.update; the store's watcher empties the cache
// when another process (a break-glass command) wrote the file.
//
// A fill that raced an invalidation is not kept: every invalidation moves
// epoch, and a fill stores only if epoch has not moved since it started
// reading, so a row read before a change cannot be kept after it.
type authCache struct {
	watch func() // starts, once, the replica's invalidation (core.watchCaches)

	mu      sync.RWMutex
	epoch   uint64
	live    bool
	entries map[string]authEntry
	// deps indexes entries by the invalidation keys they depend on.
	deps map[string]map[string]struct{}
	// ready is closed the first time the cache becomes live; resets and
	// downs count the listener's (re)connections and losses, so a test can
	// wait for one without sleeping.
	ready         chan struct{}
	readyOnce     sync.Once
	resets, downs atomic.Uint64
	// changed is closed, and replaced, at every invalidation, so that a
	// test can wait for the next one instead of polling.
	changed chan struct{}
}

type authEntry struct {
	v    any
	deps []string
}

// maxAuthEntries bounds the cache; past it, it starts again empty (the
// next reads refill what is in use).
const maxAuthEntries = 100_000

func newAuthCache(watch func()) *authCache {
	return &authCache{watch: watch, entries: map[string]authEntry{}, deps: map[string]map[string]struct{}{},
		ready: make(chan struct{}), changed: make(chan struct{})}
}

// Invalidation keys: what a write notes, and what NOTIFY carries. Users
// and tenants are shared with the flag cache; the platform key is the
// flags' alone, sessions, keys and impersonations the auth cache's alone.
const (
	flagPlatformKey = "p"
	// dropAllKey drops every entry of both caches: a write touching more
	// entities than one notification should name (maxNotes).
	dropAllKey = "*"
)

func flagTenantKey(id string) string    { return "t:" + id }
func flagUserKey(id string) string      { return "u:" + id }
func sessionKey(id string) string       { return "s:" + id }
func apiKeyKey(id string) string        { return "k:" + id }
func impersonationKey(id string) string { return "m:" + id }
func authOnlyKey(key string) bool {
	return len(key) > 2 && key[1] == ':' && strings.ContainsRune("skm", rune(key[0]))
}
func tenantDeps(tid string) []string { return optional(flagTenantKey, tid) }
func optional(f func(string) string, id string) []string {
	if id == "" {
		return nil
	}
	return []string{f(id)}
}

// watchCaches starts, once, what invalidates this replica's caches: the
// store's watcher (the listener on PostgreSQL, the data_version poll on
// SQLite), whose keys go to both caches and which makes them live once it
// watches. A store without one has no other writer: live at once.
func (s *core) watchCaches() {
	s.cacheWatch.Do(func() {
		if w, ok := s.store.(store.FlagWatcher); ok {
			w.WatchFlags(s.invalidateCaches)
			return
		}
		s.invalidateCaches(store.FlagsReset)
	})
}

// invalidateCaches hands one key to both caches.
func (s *core) invalidateCaches(key string) {
	s.flagCache.invalidate(key)
	s.authCache.invalidate(key)
}

// invalidate drops the entries depending on key; a FlagsReset, FlagsDown,
// dropAllKey or a key this version does not know drops everything.
func (c *authCache) invalidate(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	close(c.changed)
	c.changed = make(chan struct{})
	if key == flagPlatformKey {
		return
	}
	if len(key) > 2 && key[1] == ':' && strings.ContainsRune("tuskm", rune(key[0])) {
		for k := range c.deps[key] {
			c.remove(k)
		}
		return
	}
	c.entries, c.deps = map[string]authEntry{}, map[string]map[string]struct{}{}
	switch key {
	case store.FlagsReset:
		c.live = true
		c.resets.Add(1)
		c.readyOnce.Do(func() { close(c.ready) })
	case store.FlagsDown:
		c.live = false
		c.downs.Add(1)
	}
}

// remove drops one entry and its index rows; the caller holds mu.
func (c *authCache) remove(k string) {
	e, ok := c.entries[k]
	if !ok {
		return
	}
	delete(c.entries, k)
	for _, d := range e.deps {
		set := c.deps[d]
		delete(set, k)
		if len(set) == 0 {
			delete(c.deps, d)
		}
	}
}

// lookup returns the entry for k when the cache may serve, and otherwise
// the epoch a fill starts at and whether it may be kept.
func (c *authCache) lookup(k string) (v any, hit bool, epoch uint64, live bool) {
	c.watch()
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.live {
		if e, ok := c.entries[k]; ok {
			return e.v, true, 0, true
		}
	}
	return nil, false, c.epoch, c.live
}

// keep stores v under k if nothing was invalidated since epoch.
func (c *authCache) keep(epoch uint64, k string, v any, deps []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.live || c.epoch != epoch {
		return
	}
	if len(c.entries) >= maxAuthEntries {
		c.entries, c.deps = map[string]authEntry{}, map[string]map[string]struct{}{}
	}
	c.remove(k)
	c.entries[k] = authEntry{v: v, deps: deps}
	for _, d := range deps {
		set := c.deps[d]
		if set == nil {
			set = map[string]struct{}{}
			c.deps[d] = set
		}
		set[k] = struct{}{}
	}
}

// cached returns load's value for k from the cache, or loads it and keeps
// it with the invalidation keys deps names. Errors (not found among them)
// are never kept, so guessing fills nothing. What it returns may be shared
// with other requests: callers must not change it.
func cached[V any](c *authCache, k string, load func() (V, error), deps func(V) []string) (V, error) {
	v, hit, epoch, live := c.lookup(k)
	if hit {
		return v.(V), nil
	}
	got, err := load()
	if err != nil || !live {
		return got, err
	}
	c.keep(epoch, k, got, deps(got))
	return got, nil
}

// nextChange returns a channel closed at the next invalidation.
func (c *authCache) nextChange() <-chan struct{} {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.changed
}

// size is how many entries the cache holds.
func (c *authCache) size() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}

// The reads of the authentication path, through the cache. Each lookup
// key's prefix says what it is looked up by; the deps say what it was read
// from.

// cachedUser is GetUser: the operator behind an impersonation.
func (s *core) cachedUser(ctx context.Context, id string) (*steward.User, error) {
	return cached(s.authCache, "us"+id, func() (*steward.User, error) { return s.store.GetUser(ctx, id) }, userDeps)
}

// cachedUserByEmail is GetUserByEmail: a trusted issuer's operator.
func (s *core) cachedUserByEmail(ctx context.Context, email string) (*steward.User, error) {
	return cached(s.authCache, "ue"+email, func() (*steward.User, error) { return s.store.GetUserByEmail(ctx, email) }, userDeps)
}

func userDeps(u *steward.User) []string {
	return append([]string{flagUserKey(u.ID)}, tenantDeps(u.TenantID)...)
}

// cachedTenant is GetTenant: whether a member's tenant is active.
func (s *core) cachedTenant(ctx context.Context, id string) (*steward.Tenant, error) {
	return cached(s.authCache, "tn"+id, func() (*steward.Tenant, error) { return s.store.GetTenant(ctx, id) },
		func(t *steward.Tenant) []string { return []string{flagTenantKey(t.ID)} })
}

// cachedImpersonation is GetImpersonation: whether a session's
// impersonation is still open.
func (s *core) cachedImpersonation(ctx context.Context, id string) (*steward.Impersonation, error) {
	return cached(s.authCache, "im"+id, func() (*steward.Impersonation, error) { return s.store.GetImpersonation(ctx, id) },
		func(m *steward.Impersonation) []string { return []string{impersonationKey(m.ID)} })
}

// DropCaches empties this process's caches of flags and credential rows,
// as a reconnecting listener does. Every write through the service drops
// what it changed by itself; this is for one made to the database behind
// the service's back (a test's direct store write).
func (s *Service) DropCaches() { s.invalidateCaches(dropAllKey) }
