package service

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// flagCache is this replica's copy of the flags' inputs for GET
// /platform/features: the platform tier, each tenant's plan and overrides,
// each user's tenant and overrides. Entries are filled on a miss and
// dropped when an input changes:
//
//   - every write transaction goes through core.update, whose flagTx
//     notes the users, tenants and platform settings it writes and, after
//     the commit, drops them here (the writing replica, and SQLite, whose
//     one process is every writer);
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
	once  sync.Once // starts the listener on first use

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

func newFlagCache(st store.Store) *flagCache {
	return &flagCache{store: st, tenants: map[string]*tenantFlags{}, users: map[string]*userFlags{}}
}

// Invalidation keys: what a write notes, and what NOTIFY carries.
const flagPlatformKey = "p"

func flagTenantKey(id string) string { return "t:" + id }
func flagUserKey(id string) string   { return "u:" + id }

func (c *flagCache) start() {
	c.once.Do(func() {
		if w, ok := c.store.(store.FlagWatcher); ok {
			w.WatchFlags(c.invalidate) // live once it is listening
			return
		}
		c.mu.Lock()
		c.live = true // one process: every write passes through core.update
		c.mu.Unlock()
	})
}

// invalidate drops what key names (a FlagsReset or FlagsDown: everything).
func (c *flagCache) invalidate(key string) {
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
	default: // FlagsReset, FlagsDown, or a key this version does not know
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

// flagTx is the transaction every core.update hands its function: the
// writes that change an input of the flags note what they changed, so a
// new write path cannot forget to invalidate.
type flagTx struct {
	store.Tx
	notes *[]string
}

func (t flagTx) note(ctx context.Context, key string) error {
	if slices.Contains(*t.notes, key) {
		return nil
	}
	*t.notes = append(*t.notes, key)
	return t.Tx.NotifyFlags(ctx, key)
}

func (t flagTx) UpdateUser(ctx context.Context, u *steward.User) error {
	if err := t.Tx.UpdateUser(ctx, u); err != nil {
		return err
	}
	return t.note(ctx, flagUserKey(u.ID))
}

func (t flagTx) PurgeUser(ctx context.Context, id string) error {
	if err := t.Tx.PurgeUser(ctx, id); err != nil {
		return err
	}
	return t.note(ctx, flagUserKey(id))
}

func (t flagTx) UpdateTenant(ctx context.Context, tn *steward.Tenant) error {
	if err := t.Tx.UpdateTenant(ctx, tn); err != nil {
		return err
	}
	return t.note(ctx, flagTenantKey(tn.ID))
}

func (t flagTx) PurgeTenant(ctx context.Context, id string) (steward.TenantPurgeCounts, error) {
	n, err := t.Tx.PurgeTenant(ctx, id)
	if err != nil {
		return n, err
	}
	return n, t.note(ctx, flagTenantKey(id))
}

func (t flagTx) SetPlatformSetting(ctx context.Context, section string, doc json.RawMessage) error {
	if err := t.Tx.SetPlatformSetting(ctx, section, doc); err != nil {
		return err
	}
	if section != featuresSection {
		return nil
	}
	return t.note(ctx, flagPlatformKey)
}

func (t flagTx) SetUserFeatures(ctx context.Context, uid string, m map[string]any, now time.Time) error {
	if err := t.Tx.SetUserFeatures(ctx, uid, m, now); err != nil {
		return err
	}
	return t.note(ctx, flagUserKey(uid))
}

// updateNotingFlags is core.update: fn runs on a flagTx, and once the
// transaction has committed this replica drops what it changed.
func (s *core) updateNotingFlags(ctx context.Context, fn func(tx store.Tx) error) error {
	var notes []string
	err := s.store.Update(ctx, func(tx store.Tx) error {
		notes = notes[:0] // a retried attempt starts again
		return fn(flagTx{Tx: tx, notes: &notes})
	})
	if err == nil && s.flagCache != nil {
		for _, k := range notes {
			s.flagCache.invalidate(k)
		}
	}
	if err == nil {
		s.nudgeSealer() // most updates append audit entries: seal them soon
	}
	return err
}
