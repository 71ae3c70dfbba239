package steward

import (
	"context"
	"time"
)

// WebhookEndpoint is a receiver of events. Secret is set only in the
// answer that creates or rotates it (it is shown once); PreviousSecret
// keeps signing beside it until PreviousSecretUntil.
type WebhookEndpoint struct {
	ID          string   `json:"id"`
	URL         string   `json:"url"`
	EventTypes  []string `json:"event_types"`
	TenantID    string   `json:"tenant_id"`
	Description string   `json:"description"`
	Enabled     bool     `json:"enabled"`
	// DisabledReason says why Steward disabled the endpoint ("" when an
	// operator did, or when enabled).
	DisabledReason string    `json:"disabled_reason"`
	Secret         string    `json:"secret,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`

	// Kept by the store, never served.
	SigningSecret       string     `json:"-"`
	PreviousSecret      string     `json:"-"`
	PreviousSecretUntil *time.Time `json:"previous_secret_until"`
	// AfterSeq is the last outbox seq the endpoint has been given: it
	// receives events written after it was created.
	AfterSeq int64 `json:"-"`
	// Attempts failed so far for the event after AfterSeq, and when the
	// next is due (nil: now).
	Attempts      int        `json:"-"`
	NextAttemptAt *time.Time `json:"-"`
	// LeaseOwner is the replica sending to the endpoint, until LeaseUntil.
	LeaseOwner string     `json:"-"`
	LeaseUntil *time.Time `json:"-"`
	// ReplayToSeq is the last seq of a replayed range while one runs, and
	// ReplayResumeSeq where the endpoint had got to before it: the cursor
	// jumps there once past the range (0, 0: no range replay runs).
	ReplayToSeq     int64 `json:"-"`
	ReplayResumeSeq int64 `json:"-"`
}

// WebhookDelivery is one attempt to send an event to an endpoint: the
// delivery log. HTTPStatus is 0 when no answer came (Error says why);
// Response is the start of the answer's body.
type WebhookDelivery struct {
	ID         string    `json:"id"`
	EndpointID string    `json:"endpoint_id"`
	EventID    string    `json:"event_id"`
	EventSeq   int64     `json:"event_seq"`
	EventType  string    `json:"event_type"`
	Attempt    int       `json:"attempt"`
	Succeeded  bool      `json:"succeeded"`
	HTTPStatus int       `json:"http_status"`
	LatencyMS  float64   `json:"latency_ms"`
	Response   string    `json:"response"`
	Error      string    `json:"error"`
	CreatedAt  time.Time `json:"created_at"`
}

// WebhookEndpointCreate is the body of POST /admin/webhooks. Enabled
// defaults to true.
type WebhookEndpointCreate struct {
	URL         string   `json:"url"`
	EventTypes  []string `json:"event_types"`
	TenantID    string   `json:"tenant_id"`
	Description string   `json:"description"`
	Enabled     *bool    `json:"enabled"`
}

// WebhookEndpointPatch is the body of PATCH /admin/webhooks/{id}: a nil
// field is left as it is.
type WebhookEndpointPatch struct {
	URL         *string   `json:"url"`
	EventTypes  *[]string `json:"event_types"`
	TenantID    *string   `json:"tenant_id"`
	Description *string   `json:"description"`
	Enabled     *bool     `json:"enabled"`
}

// WebhookService answers the webhook endpoints of the admin API
// (docs/webhooks.md). Reads need config:read, writes config:write; every
// write is audited.
type WebhookService interface {
	// EventTypes is the event catalogue.
	EventTypes(ctx context.Context) ([]WebhookEventType, error)
	CreateWebhook(ctx context.Context, in WebhookEndpointCreate) (*WebhookEndpoint, error)
	ListWebhooks(ctx context.Context) ([]*WebhookEndpoint, error)
	GetWebhook(ctx context.Context, id string) (*WebhookEndpoint, error)
	UpdateWebhook(ctx context.Context, id string, p WebhookEndpointPatch) (*WebhookEndpoint, error)
	// DeleteWebhook returns the endpoint it deleted.
	DeleteWebhook(ctx context.Context, id string) (*WebhookEndpoint, error)
	// RotateWebhookSecret makes a new secret (returned once); the old one
	// keeps signing beside it for WebhookSecretOverlap.
	RotateWebhookSecret(ctx context.Context, id string) (*WebhookEndpoint, error)
	// ListWebhookDeliveries pages the endpoint's delivery log, newest first.
	ListWebhookDeliveries(ctx context.Context, id string, p ListParams) (*Page[*WebhookDelivery], error)
	// RetryWebhookDelivery sends a logged delivery's event again now.
	RetryWebhookDelivery(ctx context.Context, deliveryID string) (*WebhookDelivery, error)
	// ReplayWebhook sends again the events written from since to until
	// (zero until: now).
	ReplayWebhook(ctx context.Context, id string, since, until time.Time) (*WebhookEndpoint, error)
}

// WebhookSecretOverlap is how long a rotated-out secret keeps signing
// beside the new one, so receivers can switch without losing events.
const WebhookSecretOverlap = 24 * time.Hour
