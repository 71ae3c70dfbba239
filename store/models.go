package store

import (
	"context"

	"github.com/stewardhq/steward"
)

// ModelQueries read the active model (service/models.go); the catalogue
// itself is configuration, not data.
type ModelQueries interface {
	// ActiveModel returns the stored active model, or ErrNotFound before
	// one was ever recorded.
	ActiveModel(ctx context.Context) (*steward.ActiveModel, error)
}

// ModelTx write the active model.
type ModelTx interface {
	// LockActiveModel returns the active model and makes the rest of the
	// transaction its only writer; ErrNotFound (the lock still held) when
	// none was ever recorded.
	LockActiveModel(ctx context.Context) (*steward.ActiveModel, error)
	// SetActiveModel records m as the active model, replacing any.
	SetActiveModel(ctx context.Context, m *steward.ActiveModel) error
}
