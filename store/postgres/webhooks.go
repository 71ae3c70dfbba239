package postgres

import (
	"context"

	"github.com/stewardhq/steward"
)

func (q *queries) ListWebhookEvents(ctx context.Context, afterSeq int64, limit int) (_ []steward.WebhookEvent, err error) {
	defer wrapErr(&err, "list webhook events")
	rows, err := q.q.Query(ctx, `SELECT seq, id, type, tenant_id, payload, created_at FROM webhook_events
		WHERE seq > $1 ORDER BY seq LIMIT $2`, afterSeq, limit)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []steward.WebhookEvent
	for rows.Next() {
		var e steward.WebhookEvent
		var payload string
		if err := rows.Scan(&e.Seq, &e.ID, &e.Type, &e.TenantID, &payload, &e.CreatedAt); err != nil {
			return nil, mapErr(err)
		}
		e.Payload, e.CreatedAt = []byte(payload), e.CreatedAt.UTC()
		out = append(out, e)
	}
	return out, mapErr(rows.Err())
}

func (t *tx) InsertWebhookEvent(ctx context.Context, e *steward.WebhookEvent) (err error) {
	defer wrapErr(&err, "insert webhook event")
	_, err = t.q.Exec(ctx, `INSERT INTO webhook_events (seq, id, type, tenant_id, payload, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, e.Seq, e.ID, e.Type, e.TenantID, string(e.Payload), e.CreatedAt)
	return mapErr(err)
}
