package postgres

import (
	"context"
	"time"

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

// InsertWebhookEvent is deferred (pipeline.go): e.Seq is set when it runs,
// before the transaction commits.
func (t *tx) InsertWebhookEvent(ctx context.Context, e *steward.WebhookEvent) error {
	t.pipe.laterScan("insert webhook event", `INSERT INTO webhook_events (id, type, tenant_id, payload, created_at)
		VALUES ($1, $2, $3, $4, $5) RETURNING seq`, []any{&e.Seq}, e.ID, e.Type, e.TenantID, string(e.Payload), e.CreatedAt)
	return nil
}

func (t *tx) PurgeWebhookEvents(ctx context.Context, before time.Time, limit int) (int64, error) {
	return t.purge(ctx, "purge webhook events", `DELETE FROM webhook_events WHERE seq IN (
		SELECT seq FROM webhook_events WHERE created_at < $1 ORDER BY created_at LIMIT $2)`, before, limit)
}
