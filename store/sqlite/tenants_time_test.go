//go:build !race

package sqlite_test

import (
	"testing"
	"time"
)

// A tenant of 10,000 members, each with a session and a key, is suspended
// and released in well under two seconds each: a handful of set-based
// statements, whatever the tenant's size. (The race detector slows the
// pure-Go SQLite some thirtyfold, so this runs without it.)
func TestSuspendTenantTime(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 20,000 users")
	}
	const members, limit = 10000, 2 * time.Second
	s := openStore(t)
	seedTenant(t, s, members)
	now := time.Now()

	start := time.Now()
	users, sessions, keys, statements := suspend(t, s, now)
	if d := time.Since(start); d > limit {
		t.Errorf("suspending %d members took %v, want under %v", members, d, limit)
	}
	if users != members || sessions != members || keys != members || statements != 5 {
		t.Errorf("suspend: %d users, %d sessions, %d keys in %d statements; want %d of each in 5",
			users, sessions, keys, statements, members)
	}

	start = time.Now()
	users, keys = release(t, s, now)
	if d := time.Since(start); d > limit {
		t.Errorf("releasing %d members took %v, want under %v", members, d, limit)
	}
	if users != members || keys != members {
		t.Errorf("release: %d users, %d keys; want %d of each", users, keys, members)
	}
}
