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

// InsertWebhookEvent is deferred (pipeline.go): nothing in the writing
// transaction reads the event, and its seq comes from the sequencer.
func (t *tx) InsertWebhookEvent(ctx context.Context, e *steward.WebhookEvent) error {
	t.pipe.queue(bulkWebhookEvents, e.ID, e.Type, e.TenantID, string(e.Payload), e.CreatedAt)
	return nil
}

var bulkWebhookEvents = &bulk{op: "insert webhook event", sql: `INSERT INTO webhook_events
	(id, type, tenant_id, payload, created_at)
	SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[])`}

// SealWebhookEvents gives seqs to pending events past the horizon (see
// SealableAudit), from webhook_events_order; the caller holds the sealer
// lock until commit, so seqs become visible in increasing order and a
// delivery cursor never passes an event that commits later.
//
// nextval runs over the ordered subquery's rows, so seqs follow pos.
const sealWebhookEventsSQL = `UPDATE webhook_events w SET seq = s.seq
	FROM (SELECT pos, nextval('webhook_events_order') AS seq FROM (SELECT pos FROM webhook_events
		WHERE seq IS NULL
		AND (xid < pg_snapshot_xmin(pg_current_snapshot()) OR xid = pg_current_xact_id_if_assigned())
		ORDER BY pos LIMIT $1) p) s
	WHERE w.pos = s.pos`

func (t *tx) SealWebhookEvents(ctx context.Context, limit int) (_ int, err error) {
	defer wrapErr(&err, "seal webhook events")
	tag, err := t.q.Exec(ctx, sealWebhookEventsSQL, limit)
	if err != nil {
		return 0, mapErr(err)
	}
	return int(tag.RowsAffected()), nil
}

func (t *tx) PurgeWebhookEvents(ctx context.Context, before time.Time, limit int) (int64, error) {
	return t.purge(ctx, "purge webhook events", `DELETE FROM webhook_events WHERE pos IN (
		SELECT pos FROM webhook_events WHERE created_at < $1 AND seq IS NOT NULL ORDER BY created_at LIMIT $2)`, before, limit)
}
