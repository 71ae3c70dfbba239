package storetest

import (
	"context"
	"regexp"
	"testing"

	"github.com/stewardhq/steward/store"
)

// testHealth: the server version is the database's own, and the pool
// figures add up and move with a connection held.
func testHealth(t *testing.T, s store.Store) {
	ctx := context.Background()
	v, err := s.ServerVersion(ctx)
	must(t, "ServerVersion", err)
	if !regexp.MustCompile(`^\d+\.\d+`).MatchString(v) {
		t.Errorf("ServerVersion = %q, want a version number", v)
	}
	p := s.PoolStats()
	if p.Max < 1 || p.Open > p.Max || p.InUse+p.Idle != p.Open || p.InUse < 0 || p.WaitCount < 0 {
		t.Errorf("PoolStats at rest = %+v", p)
	}
	// Inside a write transaction its connection is in use.
	must(t, "Update", s.Update(ctx, func(store.Tx) error {
		if in := s.PoolStats(); in.InUse < 1 || in.Open < 1 {
			t.Errorf("PoolStats in a transaction = %+v, want a connection in use", in)
		}
		return nil
	}))
	if after := s.PoolStats(); after.InUse != p.InUse {
		t.Errorf("PoolStats after the transaction = %+v, at rest %+v", after, p)
	}
}
