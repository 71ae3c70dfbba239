package store

import (
	"context"
	"time"

	"github.com/stewardhq/steward"
)

// WebhookQueries read the webhook outbox (service/outbox.go).
type WebhookQueries interface {
	// ListWebhookEvents returns up to limit outbox events with seq greater
	// than afterSeq, oldest first.
	ListWebhookEvents(ctx context.Context, afterSeq int64, limit int) ([]steward.WebhookEvent, error)
}

// WebhookTx write it. InsertWebhookEvent runs in the audited change's
// transaction, holding the audit head lock, so events are written in seq
// order and only when the change commits.
type WebhookTx interface {
	// InsertWebhookEvent appends e and sets its Seq, the next of the outbox.
	InsertWebhookEvent(ctx context.Context, e *steward.WebhookEvent) error
	// PurgeWebhookEvents deletes up to limit outbox events written before
	// before, oldest first, and says how many.
	PurgeWebhookEvents(ctx context.Context, before time.Time, limit int) (int64, error)
}

// WebhookEndpointQueries read webhook endpoints (service/webhooks.go).
type WebhookEndpointQueries interface {
	// GetWebhookEndpoint returns ErrNotFound for an unknown id; inside a
	// Tx the row is locked.
	GetWebhookEndpoint(ctx context.Context, id string) (*steward.WebhookEndpoint, error)
	// ListWebhookEndpoints returns every endpoint, oldest first.
	ListWebhookEndpoints(ctx context.Context) ([]*steward.WebhookEndpoint, error)
	// LastWebhookEventSeq is the outbox's last seq, 0 when empty.
	LastWebhookEventSeq(ctx context.Context) (int64, error)
}

// WebhookEndpointTx write them.
type WebhookEndpointTx interface {
	CreateWebhookEndpoint(ctx context.Context, e *steward.WebhookEndpoint) error
	// UpdateWebhookEndpoint stores every field but ID and CreatedAt;
	// ErrNotFound for an unknown id.
	UpdateWebhookEndpoint(ctx context.Context, e *steward.WebhookEndpoint) error
	// DeleteWebhookEndpoint: ErrNotFound for an unknown id.
	DeleteWebhookEndpoint(ctx context.Context, id string) error
}
