package service

import (
	"sync"

	"github.com/stewardhq/steward/store"
)

// readCache remembers reads made on a store whose writes all pass through
// this process (store.Generational: SQLite). An entry is used only while the
// store's generation is the one it was read at, so any committed write — a
// revocation, a suspension, a ban, a logout, anything — sends the next read
// back to the database, and nothing stale is ever served. With several
// replicas (PostgreSQL) there is no such guarantee, and every read goes to
// the database.
type readCache[V any] struct {
	mu sync.RWMutex
	m  map[string]genEntry[V]
}

type genEntry[V any] struct {
	gen uint64
	v   V
}

// maxCachedReads bounds each cache; past it the map starts afresh.
const maxCachedReads = 100_000

// readThrough returns load's value for key, from c while the store's
// generation has not moved since it was read. Errors are never cached.
func readThrough[V any](s *core, c *readCache[V], key string, load func() (V, error)) (V, error) {
	g, ok := s.store.(store.Generational)
	if !ok {
		return load()
	}
	gen := g.Generation()
	c.mu.RLock()
	e, hit := c.m[key]
	c.mu.RUnlock()
	if hit && e.gen == gen {
		return e.v, nil
	}
	v, err := load()
	if err != nil {
		return v, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxCachedReads {
		c.m = make(map[string]genEntry[V])
	}
	c.m[key] = genEntry[V]{gen: gen, v: v}
	c.mu.Unlock()
	return v, nil
}
