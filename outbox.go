package steward

import (
	"encoding/json"
	"time"
)

// WebhookEvent is one announced change in the outbox: the event a
// webhook delivers. Seq is the outbox's own order (the commit order); ID is
// the `webhook-id` every send of it carries; Payload is the exact body
// sent, {"type", "timestamp", "data"} per Standard Webhooks.
type WebhookEvent struct {
	Seq       int64           `json:"seq"`
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	TenantID  string          `json:"tenant_id"`
	Payload   json.RawMessage `json:"payload"`
	CreatedAt time.Time       `json:"created_at"`
}

// WebhookEventType is one entry of the event catalogue: the audit action
// it announces and an example of its payload.
type WebhookEventType struct {
	Type        string          `json:"type"`
	Action      string          `json:"action"`
	TargetType  string          `json:"target_type"`
	Description string          `json:"description"`
	Example     json.RawMessage `json:"example"`
}
