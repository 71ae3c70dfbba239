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
// transaction, so an event exists only when the change commits. Its seq,
// each endpoint's delivery cursor, must be the order events became visible:
// on SQLite, whose one writer commits in insert order, the insert assigns
// it; on PostgreSQL the sequencer does (SealWebhookEvents), as it seals the
// audit log.
type WebhookTx interface {
	// InsertWebhookEvent appends e; on SQLite it sets e.Seq, the next of
	// the outbox; on PostgreSQL e stays unlisted until sealed.
	InsertWebhookEvent(ctx context.Context, e *steward.WebhookEvent) error
	// SealWebhookEvents gives up to limit events safe to order now their
	// seqs, and says how many (always 0 on SQLite). Call it holding
	// LockAuditHead.
	SealWebhookEvents(ctx context.Context, limit int) (int, error)
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
	// WebhookEventSeqBefore is the last seq of the events written before
	// t, 0 when none.
	WebhookEventSeqBefore(ctx context.Context, t time.Time) (int64, error)
	// ListWebhookDeliveries returns up to limit of the endpoint's delivery
	// log, newest first, before the delivery id before ("" from the newest).
	ListWebhookDeliveries(ctx context.Context, endpointID, before string, limit int) ([]*steward.WebhookDelivery, error)
	// GetWebhookDelivery returns one log row; ErrNotFound for an unknown id.
	GetWebhookDelivery(ctx context.Context, id string) (*steward.WebhookDelivery, error)
}

// WebhookEndpointTx write them.
type WebhookEndpointTx interface {
	// ClaimWebhookEndpoints leases to owner, until leaseUntil, up to limit
	// enabled endpoints that have an event after their AfterSeq, whose
	// next attempt is due at now and whose lease is free or ran out. On
	// PostgreSQL, rows another replica is claiming are skipped (SKIP
	// LOCKED), so two replicas never lease the same endpoint.
	ClaimWebhookEndpoints(ctx context.Context, owner string, now, leaseUntil time.Time, limit int) ([]*steward.WebhookEndpoint, error)
	// InsertWebhookDelivery appends to the delivery log.
	InsertWebhookDelivery(ctx context.Context, d *steward.WebhookDelivery) error
	// PurgeWebhookDeliveries deletes up to limit log rows made before
	// before, oldest first.
	PurgeWebhookDeliveries(ctx context.Context, before time.Time, limit int) (int64, error)
	CreateWebhookEndpoint(ctx context.Context, e *steward.WebhookEndpoint) error
	// UpdateWebhookEndpoint stores every field but ID and CreatedAt;
	// ErrNotFound for an unknown id.
	UpdateWebhookEndpoint(ctx context.Context, e *steward.WebhookEndpoint) error
	// DeleteWebhookEndpoint: ErrNotFound for an unknown id.
	DeleteWebhookEndpoint(ctx context.Context, id string) error
}
