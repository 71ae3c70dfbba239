package service

import (
	"context"
	"strings"
	"sync"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// flagCache is this replica's copy of the flags' inputs for GET
// /platform/features: the platform tier, each tenant's plan and overrides,
// each user's tenant and overrides. Entries are filled on a miss and
// dropped when an input changes:
//
//   - every write transaction goes through core.update, whose noteTx
//     (notetx.go) notes the users, tenants and platform settings it writes
//     and, after the commit, drops them here (the writing replica, and
//     SQLite, whose one process is every writer);
//   - on PostgreSQL the same notes are NOTIFY'd in the transaction, so every
//     other replica's listener (store.FlagWatcher) drops them when the
//     commit is delivered. While the listener is not connected the cache is
//     bypassed, and when it (re)connects everything is dropped, since
//     notifications may have been missed.
//
// A fill that raced an invalidation is not kept: every invalidation moves
// epoch, and a fill stores only if epoch has not moved since it started
// reading, so an old read can never be cached after the change it missed.
type flagCache struct {
	store store.Store
	watch func() // starts, once, the replica's invalidation (core.watchCaches)

	mu       sync.RWMutex
	epoch    uint64
	live     bool // entries may be used and kept
	platform map[string]any
	tenants  map[string]*tenantFlags
	users    map[string]*userFlags
}

// maxFlagEntries bounds each map: past it the map starts again empty.
const maxFlagEntries = 200_000

type tenantFlags struct {
	plan     string
	features map[string]any
	deleted  bool
}

type userFlags struct {
	tenantID string
	features map[string]any
	deleted  bool
}

func newFlagCache(st store.Store, watch func()) *flagCache {
	return &flagCache{store: st, watch: watch, tenants: map[string]*tenantFlags{}, users: map[string]*userFlags{}}
}

func (c *flagCache) start() {
	if c.watch != nil {
		c.watch()
	}
}

// invalidate drops what key names (a FlagsReset or FlagsDown: everything).
// Keys naming only what the authentication cache holds (sessions, API
// keys, impersonations) leave it alone.
func (c *flagCache) invalidate(key string) {
	if authOnlyKey(key) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	switch {
	case key == flagPlatformKey:
		c.platform = nil
	case strings.HasPrefix(key, "t:"):
		tid := key[2:]
		delete(c.tenants, tid)
		// A tenant's purge takes its members with it.
		for uid, u := range c.users {
			if u.tenantID == tid {
				delete(c.users, uid)
			}
		}
	case strings.HasPrefix(key, "u:"):
		delete(c.users, key[2:])
	default: // dropAllKey, FlagsReset, FlagsDown, or a key this version does not know
		c.platform, c.tenants, c.users = nil, map[string]*tenantFlags{}, map[string]*userFlags{}
		switch key {
		case store.FlagsReset:
			c.live = true
		case store.FlagsDown:
			c.live = false
		}
	}
}

// begin returns the epoch a fill starts at, and whether it may be kept.
func (c *flagCache) begin() (uint64, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.epoch, c.live
}

// keep runs store under the lock if nothing was invalidated since begin.
func (c *flagCache) keep(epoch uint64, store func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.live && c.epoch == epoch {
		store()
	}
}

func (c *flagCache) platformTier(ctx context.Context) (map[string]any, error) {
	c.start()
	c.mu.RLock()
	p, live := c.platform, c.live
	c.mu.RUnlock()
	if live && p != nil {
		return p, nil
	}
	epoch, _ := c.begin()
	p, err := platformFeatures(ctx, c.store)
	if err != nil {
		return nil, err
	}
	c.keep(epoch, func() { c.platform = p })
	return p, nil
}

// tenant returns the tenant's inputs, nil when it does not exist.
func (c *flagCache) tenant(ctx context.Context, tid string) (*tenantFlags, error) {
	c.start()
	c.mu.RLock()
	t, live := c.tenants[tid], c.live
	c.mu.RUnlock()
	if live && t != nil {
		return t, nil
	}
	epoch, _ := c.begin()
	row, err := c.store.GetTenant(ctx, tid)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	t = &tenantFlags{plan: row.Plan, features: row.Features, deleted: row.Status == steward.TenantDeleted}
	c.keep(epoch, func() {
		if len(c.tenants) >= maxFlagEntries {
			c.tenants = map[string]*tenantFlags{}
		}
		c.tenants[tid] = t
	})
	return t, nil
}

// user returns the user's inputs, nil when they do not exist.
func (c *flagCache) user(ctx context.Context, uid string) (*userFlags, error) {
	c.start()
	c.mu.RLock()
	u, live := c.users[uid], c.live
	c.mu.RUnlock()
	if live && u != nil {
		return u, nil
	}
	epoch, _ := c.begin()
	row, err := c.store.GetUser(ctx, uid)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	own, err := c.store.UserFeatures(ctx, uid)
	if err != nil {
		return nil, err
	}
	u = &userFlags{tenantID: row.TenantID, features: own, deleted: row.Status == steward.StatusDeleted}
	c.keep(epoch, func() {
		if len(c.users) >= maxFlagEntries {
			c.users = map[string]*userFlags{}
		}
		c.users[uid] = u
	})
	return u, nil
}
