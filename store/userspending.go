package store

import (
	"context"
	"time"

	"github.com/stewardhq/steward"
)

// UserSpendingQueries read per-user caps and spend (service/usercaps.go).
type UserSpendingQueries interface {
	// GetUserCaps returns the user's own caps: all nil when it set none.
	GetUserCaps(ctx context.Context, userID string) (steward.UserCaps, error)
	// GetUserSpend returns what userID spent in tenantID, ErrNotFound when
	// nothing was counted yet. Inside a Tx the row is locked.
	GetUserSpend(ctx context.Context, tenantID, userID string) (*steward.UserSpendCounter, error)
	// GetSessionSpend returns what userID spent in tenantID's session; 0
	// when nothing.
	GetSessionSpend(ctx context.Context, tenantID, userID, sessionID string) (int64, error)
	// ListSpendingTenants is ListCappedTenants for when the platform sets
	// a default cap: every tenant not deleted, with its account.
	ListSpendingTenants(ctx context.Context) ([]CappedTenant, error)
}

// UserSpendingTx write them. The ledger writes the spend inside its
// transaction, holding the tenant's account lock, so writers of one
// tenant's counters are serialized by that lock.
type UserSpendingTx interface {
	// SetUserCaps stores the user's own caps; all nil deletes the row.
	SetUserCaps(ctx context.Context, userID string, caps steward.UserCaps, now time.Time) error
	// PutUserSpend stores c, inserting or replacing.
	PutUserSpend(ctx context.Context, c *steward.UserSpendCounter) error
	// PutSessionSpend stores what a session spent, inserting or replacing.
	PutSessionSpend(ctx context.Context, tenantID, userID, sessionID string, spent int64, now time.Time) error
}
