package service

import (
	"context"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// CheckCounters implements steward.SeriesService. With repair, the
// recount, the rebuild and its counters.repair audit entry are one
// transaction, and it returns the drift it repaired.
func (s *Series) CheckCounters(ctx context.Context, repair bool) ([]steward.CounterDrift, error) {
	if !repair {
		drift, err := s.store.RecountSeries(ctx)
		if drift == nil && err == nil {
			drift = []steward.CounterDrift{}
		}
		return drift, err
	}
	var drift []steward.CounterDrift
	err := s.update(ctx, func(tx store.Tx) (err error) {
		if drift, err = tx.RecountSeries(ctx); err != nil || len(drift) == 0 {
			return err
		}
		if err := tx.RebuildSeries(ctx); err != nil {
			return err
		}
		return s.audit(ctx, tx, event{Action: "counters.repair", TargetType: "counters", TargetID: "series",
			Metadata: map[string]any{"drifted": len(drift), "sample": drift[:min(len(drift), 20)]}})
	})
	if drift == nil && err == nil {
		drift = []steward.CounterDrift{}
	}
	return drift, err
}
