package store

import (
	"context"
	"time"

	"github.com/stewardhq/steward"
)

// Counter names one stat counter: Name is the figure ("users.status"), Key
// the value it counts ("active"; "" for a single figure).
type Counter struct{ Name, Key string }

// Counter names, as stored in stat_counters and reported by doctor.
const (
	CounterUserStatus    = "users.status"
	CounterUserRole      = "users.role"
	CounterTenantStatus  = "tenants.status"
	CounterTenantPlan    = "tenants.plan"
	CounterKeyStatus     = "api_keys.status" // stored revoked, else the sweeper's lapse, else the stored status
	CounterKeyType       = "api_keys.type"
	CounterSessionsOpen  = "sessions.open" // not revoked, not marked lapsed
	CounterImpersonating = "impersonations.open"
	CounterCredits       = "credits.outstanding" // the sum of every account's balance
	// Resources (migration 00021): by reported status, by desired status,
	// and those held by their tenant's suspension.
	CounterResourceStatus  = "resources.status"
	CounterResourceDesired = "resources.desired"
	CounterResourceHeld    = "resources.held"
)

// Gauges are the stat figures at one instant, read from the counters.
// UserStates holds users by status as shown then (a ban that has ended
// counts as active, as the user's own answer shows it); KeyStates keys by
// state then (APIKey.State); Sessions and Impersonations are those active
// then.
type Gauges struct {
	Counters       map[Counter]int64 // every counter, summed over its shards
	UserStates     map[string]int64
	KeyStates      map[string]int64
	Sessions       int64
	Impersonations int64
}

// StatsQueries read the stat counters the triggers of migration 00008 keep.
type StatsQueries interface {
	// ReadCounters returns every counter, summed over its shards.
	ReadCounters(ctx context.Context) (map[Counter]int64, error)
	// ReadGauges returns the counters with the time corrections at now:
	// the sessions, keys and impersonations whose expiry (or scheduled
	// revocation) is at or before now but that are still counted in their
	// stored state (not yet swept) move out of it, and so do banned users
	// whose ban ended at or before now (until the ban sweeper lifts it). It reads the counters
	// and the not-yet-swept rows only, never a whole table.
	ReadGauges(ctx context.Context, now time.Time) (*Gauges, error)
	// RecountCounters counts every counter's figure from the rows (a full
	// scan of each table, for doctor). Keys absent from the rows are absent.
	RecountCounters(ctx context.Context) (map[Counter]int64, error)
}

// StatsTx are the writes of the stat counters.
type StatsTx interface {
	// LockCounted holds off every write to the counted tables until the
	// transaction ends (PostgreSQL: SHARE locks; SQLite's single writer
	// already does), so a recount and the counters read in it agree.
	LockCounted(ctx context.Context) error
	// SetCounter overwrites a counter (every shard) with value.
	SetCounter(ctx context.Context, c Counter, value int64) error
	// SweepLapsed marks up to limit sessions and up to limit keys whose
	// expiry (or scheduled revocation) is at or before now and that are
	// not marked yet, moving their counters; it returns how many of each.
	SweepLapsed(ctx context.Context, now time.Time, limit int) (sessions, keys int64, err error)
}

// NewGauges applies the time corrections to counters (ReadCounters' result):
// keyMoves maps {counted state, state now} to how many keys are counted in
// the first but are in the second now; lapsedBans are banned users whose
// ban has ended; lapsedSessions and lapsedImpersonations are open rows
// whose expiry has passed.
func NewGauges(counters, keyMoves map[Counter]int64, lapsedBans, lapsedSessions, lapsedImpersonations int64) *Gauges {
	g := &Gauges{Counters: counters, UserStates: map[string]int64{}, KeyStates: map[string]int64{},
		Sessions:       counters[Counter{CounterSessionsOpen, ""}] - lapsedSessions,
		Impersonations: counters[Counter{CounterImpersonating, ""}] - lapsedImpersonations}
	for c, n := range counters {
		switch c.Name {
		case CounterKeyStatus:
			g.KeyStates[c.Key] += n
		case CounterUserStatus:
			g.UserStates[c.Key] += n
		}
	}
	if lapsedBans != 0 {
		g.UserStates["banned"] -= lapsedBans
		g.UserStates["active"] += lapsedBans
	}
	for m, n := range keyMoves {
		g.KeyStates[m.Name] -= n
		g.KeyStates[m.Key] += n
	}
	return g
}

// KeyStatsFrom is GET /admin/api-keys/stats' states and types from the
// gauges: every state and type present, 0 where none. The recent windows
// are left for the caller.
func KeyStatsFrom(g *Gauges) *steward.KeyStats {
	st := &steward.KeyStats{
		ByStatus: map[steward.KeyStatus]int64{
			steward.KeyActive: 0, steward.KeyRevoked: 0, steward.KeyExpired: 0, steward.KeyDisabled: 0,
		},
		ByType: map[steward.KeyType]int64{steward.KeyUser: 0, steward.KeyAdmin: 0, steward.KeyPlatform: 0},
	}
	for state, n := range g.KeyStates {
		if n != 0 {
			st.ByStatus[steward.KeyStatus(state)] += n
			st.Total += n
		}
	}
	for c, n := range g.Counters {
		if c.Name == CounterKeyType && n != 0 {
			st.ByType[steward.KeyType(c.Key)] += n
		}
	}
	return st
}
