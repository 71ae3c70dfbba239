package service

import (
	"context"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// resourceStats is Stats' resources: the counters of migration 00021 for
// the statuses and holds, and the stale ones counted at now through the
// last_seen_at index (time makes a resource stale without a write, so no
// counter can know it).
func (s *Overview) resourceStats(ctx context.Context, g *store.Gauges, now time.Time) (steward.ResourceStats, error) {
	after := resourceStaleAfter(s.cfg)
	stale, err := s.store.CountStaleResources(ctx, now.Add(-after))
	if err != nil {
		return steward.ResourceStats{}, err
	}
	rs := steward.ResourceStats{
		ByStatus: figures(g.Counters, store.CounterResourceStatus, steward.ResourceStatuses),
		ByDesired: figures(g.Counters, store.CounterResourceDesired, []steward.ResourceDesired{
			steward.DesiredRunning, steward.DesiredSuspended, steward.DesiredDeleted}),
		HeldByTenant: g.Counters[store.Counter{Name: store.CounterResourceHeld}],
		Stale:        stale,
		StaleAfter:   after.String(),
	}
	rs.Total = sum(rs.ByStatus)
	return rs, nil
}
