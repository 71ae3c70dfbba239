package store

import (
	"context"
	"time"
)

// RetentionQueries read the retention settings and the last run
// (service/retention.go).
type RetentionQueries interface {
	// RetentionSettings returns the stored days per data set (0 is
	// "never"); a data set without a row keeps its default.
	RetentionSettings(ctx context.Context) (map[string]int, error)
	// RetentionLastRun is when the last retention run started; the zero
	// time if none has.
	RetentionLastRun(ctx context.Context) (time.Time, error)
}

// RetentionTx are the writes of the retention settings and the purges.
// Each purge deletes up to limit rows and returns how many it deleted, so
// the caller keeps each transaction short.
type RetentionTx interface {
	// SetRetention stores days (0 is "never") for dataSet, or deletes its
	// row (back to the default) when days is nil.
	SetRetention(ctx context.Context, dataSet string, days *int) error
	// ClaimRetentionRun records now as the last run when the last one
	// finished at or before due (or none has), and reports whether it did:
	// of replicas sweeping at once, one claims the day.
	ClaimRetentionRun(ctx context.Context, now, due time.Time) (bool, error)
	// SetRetentionLastRun records now as the last run.
	SetRetentionLastRun(ctx context.Context, now time.Time) error
	// PurgeEndedSessions deletes sessions revoked, or expired, before
	// before; a live session (neither) is never touched.
	PurgeEndedSessions(ctx context.Context, before time.Time, limit int) (int64, error)
	// PurgeEndedImpersonations deletes impersonations that ended before
	// before; an open one is never touched.
	PurgeEndedImpersonations(ctx context.Context, before time.Time, limit int) (int64, error)
	// PurgeUsageEvents deletes usage events that occurred before before.
	// Ledger entries naming them (usage_event_id) stay: the entry holds the
	// amount.
	PurgeUsageEvents(ctx context.Context, before time.Time, limit int) (int64, error)
}
