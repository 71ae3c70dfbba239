package store

import (
	"context"

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
	InsertWebhookEvent(ctx context.Context, e *steward.WebhookEvent) error
}
