package store

import (
	"context"
	"time"

	"github.com/stewardhq/steward"
)

// KeyUsageQueries read the per-minute counts of key verifications by
// outcome code (service/keyusage.go keeps them in memory and flushes them).
type KeyUsageQueries interface {
	// KeyUsageSeries sums the counts q selects by q.Granularity bucket (UTC)
	// and code, oldest bucket first, then code; buckets with no count are
	// absent.
	KeyUsageSeries(ctx context.Context, q steward.KeyUsageQuery) ([]steward.KeyUsagePoint, error)
	// KeyUsageTopKeys returns up to n keys with the most counts q selects
	// (q.Granularity aside; NOT_FOUND names no key), most first, then key id.
	KeyUsageTopKeys(ctx context.Context, q steward.KeyUsageQuery, n int) ([]steward.KeyUsageTopKey, error)
}

// KeyUsageTx are the writes of the key-usage counts.
type KeyUsageTx interface {
	// RecordKeyUsage adds each count to its (key, minute, code) row,
	// creating the row at the count's tenant if it does not exist, so
	// flushes from several replicas add up. Counts of keys that no longer
	// exist are dropped (the key was purged after it was verified). Counts
	// with KeyID "" are NOT_FOUND and are kept per minute only.
	RecordKeyUsage(ctx context.Context, counts []steward.KeyUsageCount) error
	// PruneKeyUsage deletes up to limit rows (of keys or of NOT_FOUND)
	// whose minute is before before, and returns how many it deleted.
	PruneKeyUsage(ctx context.Context, before time.Time, limit int) (int64, error)
}
