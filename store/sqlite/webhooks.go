package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/stewardhq/steward"
)

func (q queries) ListWebhookEvents(ctx context.Context, afterSeq int64, limit int) ([]steward.WebhookEvent, error) {
	rows, err := q.db.QueryContext(ctx, `SELECT seq, id, type, tenant_id, payload, created_at FROM webhook_events
		WHERE seq > ? ORDER BY seq LIMIT ?`, afterSeq, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list webhook events: %w", err)
	}
	defer rows.Close()
	var out []steward.WebhookEvent
	for rows.Next() {
		var e steward.WebhookEvent
		var payload string
		var at int64
		if err := rows.Scan(&e.Seq, &e.ID, &e.Type, &e.TenantID, &payload, &at); err != nil {
			return nil, fmt.Errorf("sqlite: list webhook events: %w", err)
		}
		e.Payload, e.CreatedAt = []byte(payload), fromMicros(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list webhook events: %w", err)
	}
	return out, nil
}

func (t *tx) InsertWebhookEvent(ctx context.Context, e *steward.WebhookEvent) error {
	err := t.tx.QueryRowContext(ctx, `INSERT INTO webhook_events (id, type, tenant_id, payload, created_at)
		VALUES (?, ?, ?, ?, ?) RETURNING seq`, e.ID, e.Type, e.TenantID, string(e.Payload), micros(e.CreatedAt)).Scan(&e.Seq)
	if err != nil {
		return fmt.Errorf("sqlite: insert webhook event: %w", mapError(err))
	}
	return nil
}

// SealWebhookEvents has nothing to do on SQLite: the one writer commits
// events in the order their inserts numbered them.
func (t *tx) SealWebhookEvents(context.Context, int) (int, error) { return 0, nil }

func (t *tx) PurgeWebhookEvents(ctx context.Context, before time.Time, limit int) (int64, error) {
	return t.purge(ctx, "webhook events", `DELETE FROM webhook_events WHERE seq IN (
		SELECT seq FROM webhook_events WHERE created_at < ? ORDER BY created_at LIMIT ?)`, micros(before), limit)
}
