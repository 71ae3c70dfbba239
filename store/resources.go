package store

import (
	"context"
	"time"

	"github.com/stewardhq/steward"
)

// ResourceQueries read the product's resources (service/resources.go).
type ResourceQueries interface {
	// GetResource returns the resource, ErrNotFound if there is none.
	// Inside a Tx the row is locked.
	GetResource(ctx context.Context, id string) (*steward.Resource, error)
	// ListResources returns up to limit resources matching f (every
	// non-zero field), id ascending, with id above after when after is
	// not "".
	ListResources(ctx context.Context, f steward.ResourceFilter, after string, limit int) ([]*steward.Resource, error)
	// CountStaleResources counts the resources whose last_seen_at is before
	// cutoff, through resources_last_seen: it reads the stale rows' index
	// entries only, for GET /admin/stats.
	CountStaleResources(ctx context.Context, cutoff time.Time) (int64, error)
}

// ResourceTx write them. The tenant cascade's two set moves are here so a
// tenant of many resources suspends in one statement.
type ResourceTx interface {
	// PutResource inserts r, or replaces every column of the row with its id.
	PutResource(ctx context.Context, r *steward.Resource) error
	// PurgeStaleResources deletes up to limit resources whose last_seen_at
	// is before cutoff, the longest unseen first, and returns them in that
	// order, as they were.
	PurgeStaleResources(ctx context.Context, cutoff time.Time, limit int) ([]*steward.Resource, error)
	// HoldTenantResources sets desired_status suspended, held_by_tenant,
	// desired_at now and desired_by on every resource of the tenant whose
	// desired_status is running, and returns how many.
	HoldTenantResources(ctx context.Context, tenantID, by string, now time.Time) (int64, error)
	// ReleaseTenantResources sets desired_status running (desired_at now,
	// desired_by by) on the tenant's held resources whose desired_status is
	// still suspended, clears held_by_tenant on every resource of the
	// tenant, and returns how many it set running.
	ReleaseTenantResources(ctx context.Context, tenantID, by string, now time.Time) (int64, error)
}
