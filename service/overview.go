package service

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// SweepLapsedBatch is how many sessions and keys one transaction of
// SweepLapsed marks at most, so a backlog never becomes one long write.
const SweepLapsedBatch = 1000

// Stats implements steward.StatsService: the gauges read from the stat
// counters (store.ReadGauges), with every known status, role, key type and
// catalogue plan present. The monthly figures (credits granted and used,
// usage, sessions started today) are not read here.
func (s *Overview) Stats(ctx context.Context, loc *time.Location) (*steward.Stats, error) {
	if _, err := authorize(ctx, steward.PermStatsRead); err != nil {
		return nil, err
	}
	if loc == nil {
		loc = time.UTC
	}
	now := s.now()
	g, err := s.store.ReadGauges(ctx, now)
	if err != nil {
		return nil, err
	}
	period, err := s.series.PeriodFigures(ctx, loc)
	if err != nil {
		return nil, err
	}
	st := &steward.Stats{
		Users: steward.UserStats{
			ByStatus: states(g.UserStates, []steward.UserStatus{
				steward.StatusActive, steward.StatusSuspended, steward.StatusBanned, steward.StatusDeleted}),
			ByRole: figures(g.Counters, store.CounterUserRole, steward.Roles),
		},
		Tenants: steward.TenantStats{
			ByStatus: figures(g.Counters, store.CounterTenantStatus, []steward.TenantStatus{
				steward.TenantActive, steward.TenantSuspended, steward.TenantDeleted}),
			ByPlan: figures(g.Counters, store.CounterTenantPlan, planIDs(s.cfg.Plans)),
		},
		APIKeys: steward.KeyCounts{
			ByStatus: states(g.KeyStates, []steward.KeyStatus{
				steward.KeyActive, steward.KeyDisabled, steward.KeyExpired, steward.KeyRevoked}),
			ByType: figures(g.Counters, store.CounterKeyType, []steward.KeyType{
				steward.KeyUser, steward.KeyAdmin, steward.KeyPlatform}),
		},
		Sessions:       steward.SessionStats{Active: g.Sessions, StartedToday: period.SessionsStartedToday},
		Impersonations: steward.ImpersonationStats{Active: g.Impersonations},
		Credits:        period.Credits,
		Usage:          period.Usage,
		Month:          period.Month,
		TZ:             loc.String(),
		GeneratedAt:    now,
	}
	if st.Resources, err = s.resourceStats(ctx, g, now); err != nil {
		return nil, err
	}
	st.Credits.Outstanding = g.Counters[store.Counter{Name: store.CounterCredits}]
	st.Users.Total = sum(st.Users.ByStatus)
	st.Tenants.Total = sum(st.Tenants.ByStatus)
	st.APIKeys.Total = sum(st.APIKeys.ByStatus)
	return st, nil
}

// figures is one counter's keys: every known one (0 where none) and any
// other key the counter holds that is not 0.
func figures[K ~string](c map[store.Counter]int64, name string, known []K) map[K]int64 {
	out := make(map[K]int64, len(known))
	for _, k := range known {
		out[k] = 0
	}
	for ctr, n := range c {
		if ctr.Name == name && (n != 0 || slices.Contains(known, K(ctr.Key))) {
			out[K(ctr.Key)] = n
		}
	}
	return out
}

// states is figures for a map already keyed by state.
func states[K ~string](m map[string]int64, known []K) map[K]int64 {
	c := make(map[store.Counter]int64, len(m))
	for k, n := range m {
		c[store.Counter{Key: k}] = n
	}
	return figures(c, "", known)
}

func sum[K comparable](m map[K]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

func planIDs(plans []*steward.Plan) []string {
	ids := make([]string, len(plans))
	for i, p := range plans {
		ids[i] = p.ID
	}
	return ids
}

// CheckCounters recounts every stat counter from the rows and returns those
// that disagree, by counter then key. With repair, it overwrites each with
// its recount and appends one counters.repair audit entry (the drifts in its
// metadata), as the system, in the same transaction. Writes to the counted
// tables wait while it runs (store.LockCounted), so the recount and the
// counters are read at the same point. It is for steward doctor: it
// authorizes no caller.
func (s *Overview) CheckCounters(ctx context.Context, repair bool) ([]steward.CounterDrift, error) {
	ctx = steward.WithActor(ctx, steward.SystemActor)
	var drifts []steward.CounterDrift
	err := s.update(ctx, func(tx store.Tx) error {
		drifts = nil
		if err := tx.LockCounted(ctx); err != nil {
			return err
		}
		stored, err := tx.ReadCounters(ctx)
		if err != nil {
			return err
		}
		recount, err := tx.RecountCounters(ctx)
		if err != nil {
			return err
		}
		for c := range maps.Keys(stored) {
			if _, ok := recount[c]; !ok {
				recount[c] = 0
			}
		}
		for c, want := range recount {
			if got := stored[c]; got != want {
				drifts = append(drifts, steward.CounterDrift{Counter: c.Name, Key: c.Key, Stored: got, Recounted: want})
			}
		}
		slices.SortFunc(drifts, func(a, b steward.CounterDrift) int {
			return cmp.Or(cmp.Compare(a.Counter, b.Counter), cmp.Compare(a.Key, b.Key))
		})
		if !repair || len(drifts) == 0 {
			return nil
		}
		for _, d := range drifts {
			if err := tx.SetCounter(ctx, store.Counter{Name: d.Counter, Key: d.Key}, d.Recounted); err != nil {
				return err
			}
		}
		return s.audit(ctx, tx, event{Action: "counters.repair", TargetType: "counters",
			Metadata: map[string]any{"drifts": drifts}})
	})
	if err != nil {
		return nil, err
	}
	if drifts == nil {
		drifts = []steward.CounterDrift{}
	}
	return drifts, nil
}

// SweepLapsed marks the sessions and keys whose expiry (or scheduled
// revocation) has passed, in transactions of at most SweepLapsedBatch of
// each, until none is left, so the time corrections Stats reads stay
// proportional to what lapsed since the last sweep. It changes no answer
// of any API: only the counters move. It returns how many it marked.
func (s *Overview) SweepLapsed(ctx context.Context) (sessions, keys int64, err error) {
	for {
		var ns, nk int64
		err := s.update(ctx, func(tx store.Tx) error {
			var err error
			ns, nk, err = tx.SweepLapsed(ctx, s.now(), SweepLapsedBatch)
			return err
		})
		if err != nil {
			return sessions, keys, err
		}
		sessions, keys = sessions+ns, keys+nk
		if ns < SweepLapsedBatch && nk < SweepLapsedBatch {
			return sessions, keys, nil
		}
	}
}
