package service

import (
	"context"
	"time"

	"github.com/stewardhq/steward/store"
)

// Maintain is the series' share of Service.Maintain: the billing snapshot
// of a month that closed, and folding the shards of past hours.
func (s *Series) Maintain(ctx context.Context) error {
	if _, err := s.SnapshotBilling(ctx); err != nil {
		return err
	}
	return s.CompactSeries(ctx)
}

// CompactSeries folds the shards of every bucket older than the previous
// hour into one row (PostgreSQL; SQLite has one shard). Writers of the
// current hour keep their spread; a dashboard over past days reads one row
// per series and hour instead of up to 16.
func (s *Series) CompactSeries(ctx context.Context) error {
	before := s.now().Truncate(time.Hour).Add(-time.Hour)
	return s.update(ctx, func(tx store.Tx) error {
		_, err := tx.CompactSeries(ctx, before)
		return err
	})
}
