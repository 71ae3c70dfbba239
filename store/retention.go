package store

import (
	"context"
	"time"

	"github.com/stewardhq/steward"
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
	// AuditAnchor is where the audit chain starts since retention purged
	// its oldest entries; ErrNotFound while nothing was purged.
	AuditAnchor(ctx context.Context) (*steward.AuditAnchor, error)
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

	// AuditPurgeBound returns the last entry (seq, hash) of the longest run
	// of the oldest entries, at most limit, that are all older than before
	// and below seq below; 0 and "" when the oldest entry is not. Deleting
	// through it removes a prefix of the chain: nothing newer than before,
	// nor the head when below is the head's seq. Call it under
	// LockAuditHead.
	AuditPurgeBound(ctx context.Context, before time.Time, below int64, limit int) (seq int64, hash string, err error)
	// DeleteAuditThrough deletes the entries up to and including seq.
	DeleteAuditThrough(ctx context.Context, seq int64) (int64, error)
	// SetAuditAnchor records where the chain now starts.
	SetAuditAnchor(ctx context.Context, a *steward.AuditAnchor) error
	// PurgeUserActivity deletes the dashboard's activity rows older than
	// before: user_activity hours, users' latest active hours
	// (user_last_active, whose per-hour counts its triggers keep) and
	// remembered days (active_days) before the UTC day before before's:
	// days that ended before it in every zone.
	PurgeUserActivity(ctx context.Context, before time.Time, limit int) (int64, error)
	// PurgeIdempotency deletes idempotency records that expired before
	// before.
	PurgeIdempotency(ctx context.Context, before time.Time, limit int) (int64, error)
}
