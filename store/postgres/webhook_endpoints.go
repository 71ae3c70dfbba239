package postgres

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

const webhookEndpointCols = `id, url, event_types, tenant_id, description, enabled, disabled_reason, secret,
	previous_secret, previous_secret_until, after_seq, attempts, next_attempt_at, lease_owner, lease_until,
	created_at, updated_at, replay_to_seq, replay_resume_seq`

func scanWebhookEndpoint(row pgx.Row) (*steward.WebhookEndpoint, error) {
	var e steward.WebhookEndpoint
	var types string
	err := row.Scan(&e.ID, &e.URL, &types, &e.TenantID, &e.Description, &e.Enabled, &e.DisabledReason,
		&e.SigningSecret, &e.PreviousSecret, &e.PreviousSecretUntil, &e.AfterSeq, &e.Attempts, &e.NextAttemptAt,
		&e.LeaseOwner, &e.LeaseUntil, &e.CreatedAt, &e.UpdatedAt, &e.ReplayToSeq, &e.ReplayResumeSeq)
	if err != nil {
		return nil, mapErr(err)
	}
	if err := json.Unmarshal([]byte(types), &e.EventTypes); err != nil {
		return nil, err
	}
	for _, p := range []**time.Time{&e.PreviousSecretUntil, &e.NextAttemptAt, &e.LeaseUntil} {
		if *p != nil {
			u := (*p).UTC()
			*p = &u
		}
	}
	e.CreatedAt, e.UpdatedAt = e.CreatedAt.UTC(), e.UpdatedAt.UTC()
	return &e, nil
}

func (q *queries) GetWebhookEndpoint(ctx context.Context, id string) (_ *steward.WebhookEndpoint, err error) {
	defer wrapErr(&err, "get webhook endpoint")
	return scanWebhookEndpoint(q.q.QueryRow(ctx,
		"SELECT "+webhookEndpointCols+" FROM webhook_endpoints WHERE id = $1"+q.forUpdate(), id))
}

func (q *queries) ListWebhookEndpoints(ctx context.Context) (_ []*steward.WebhookEndpoint, err error) {
	defer wrapErr(&err, "list webhook endpoints")
	rows, err := q.q.Query(ctx, "SELECT "+webhookEndpointCols+" FROM webhook_endpoints ORDER BY created_at, id")
	return collectAll(rows, err, scanWebhookEndpoint)
}

func (q *queries) LastWebhookEventSeq(ctx context.Context) (_ int64, err error) {
	defer wrapErr(&err, "last webhook event seq")
	var n int64
	err = q.q.QueryRow(ctx, "SELECT COALESCE(MAX(seq), 0) FROM webhook_events").Scan(&n)
	return n, mapErr(err)
}

func (t *tx) CreateWebhookEndpoint(ctx context.Context, e *steward.WebhookEndpoint) (err error) {
	defer wrapErr(&err, "create webhook endpoint")
	types, err := json.Marshal(e.EventTypes)
	if err != nil {
		return err
	}
	_, err = t.q.Exec(ctx, "INSERT INTO webhook_endpoints ("+webhookEndpointCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)`, e.ID, e.URL,
		string(types), e.TenantID, e.Description, e.Enabled, e.DisabledReason, e.SigningSecret, e.PreviousSecret,
		e.PreviousSecretUntil, e.AfterSeq, e.Attempts, e.NextAttemptAt, e.LeaseOwner, e.LeaseUntil, e.CreatedAt, e.UpdatedAt,
		e.ReplayToSeq, e.ReplayResumeSeq)
	return mapErr(err)
}

func (t *tx) UpdateWebhookEndpoint(ctx context.Context, e *steward.WebhookEndpoint) (err error) {
	defer wrapErr(&err, "update webhook endpoint")
	types, err := json.Marshal(e.EventTypes)
	if err != nil {
		return err
	}
	tag, err := t.q.Exec(ctx, `UPDATE webhook_endpoints SET url = $1, event_types = $2, tenant_id = $3,
		description = $4, enabled = $5, disabled_reason = $6, secret = $7, previous_secret = $8,
		previous_secret_until = $9, after_seq = $10, attempts = $11, next_attempt_at = $12, lease_owner = $13,
		lease_until = $14, updated_at = $15, replay_to_seq = $16, replay_resume_seq = $17 WHERE id = $18`,
		e.URL, string(types), e.TenantID, e.Description, e.Enabled, e.DisabledReason, e.SigningSecret,
		e.PreviousSecret, e.PreviousSecretUntil, e.AfterSeq, e.Attempts, e.NextAttemptAt, e.LeaseOwner,
		e.LeaseUntil, e.UpdatedAt, e.ReplayToSeq, e.ReplayResumeSeq, e.ID)
	if err != nil {
		return mapErr(err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

func (t *tx) DeleteWebhookEndpoint(ctx context.Context, id string) (err error) {
	defer wrapErr(&err, "delete webhook endpoint")
	tag, err := t.q.Exec(ctx, "DELETE FROM webhook_endpoints WHERE id = $1", id)
	if err != nil {
		return mapErr(err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

func (t *tx) ClaimWebhookEndpoints(ctx context.Context, owner string, now, leaseUntil time.Time, limit int) (_ []*steward.WebhookEndpoint, err error) {
	defer wrapErr(&err, "claim webhook endpoints")
	rows, err := t.q.Query(ctx, "UPDATE webhook_endpoints SET lease_owner = $1, lease_until = $2 WHERE id IN (\n"+
		`SELECT id FROM webhook_endpoints e WHERE enabled AND (lease_until IS NULL OR lease_until <= $3)
		AND (next_attempt_at IS NULL OR next_attempt_at <= $3)
		AND EXISTS (SELECT 1 FROM webhook_events w WHERE w.seq > e.after_seq)
		ORDER BY id LIMIT $4 FOR UPDATE SKIP LOCKED) RETURNING `+webhookEndpointCols, owner, leaseUntil, now, limit)
	return collectAll(rows, err, scanWebhookEndpoint)
}

const webhookDeliveryCols = `id, endpoint_id, event_id, event_seq, event_type, attempt, succeeded, http_status,
	latency_us, response, error, created_at`

func (t *tx) InsertWebhookDelivery(ctx context.Context, d *steward.WebhookDelivery) (err error) {
	defer wrapErr(&err, "insert webhook delivery")
	_, err = t.q.Exec(ctx, "INSERT INTO webhook_deliveries ("+webhookDeliveryCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`, d.ID, d.EndpointID, d.EventID, d.EventSeq,
		d.EventType, d.Attempt, d.Succeeded, d.HTTPStatus, int64(d.LatencyMS*1000), d.Response, d.Error, d.CreatedAt)
	return mapErr(err)
}

func (t *tx) PurgeWebhookDeliveries(ctx context.Context, before time.Time, limit int) (int64, error) {
	return t.purge(ctx, "purge webhook deliveries", `DELETE FROM webhook_deliveries WHERE id IN (
		SELECT id FROM webhook_deliveries WHERE created_at < $1 ORDER BY created_at LIMIT $2)`, before, limit)
}

func scanWebhookDelivery(row pgx.Row) (*steward.WebhookDelivery, error) {
	var d steward.WebhookDelivery
	var lat int64
	if err := row.Scan(&d.ID, &d.EndpointID, &d.EventID, &d.EventSeq, &d.EventType, &d.Attempt, &d.Succeeded,
		&d.HTTPStatus, &lat, &d.Response, &d.Error, &d.CreatedAt); err != nil {
		return nil, mapErr(err)
	}
	d.LatencyMS, d.CreatedAt = float64(lat)/1000, d.CreatedAt.UTC()
	return &d, nil
}

func (q *queries) GetWebhookDelivery(ctx context.Context, id string) (_ *steward.WebhookDelivery, err error) {
	defer wrapErr(&err, "get webhook delivery")
	return scanWebhookDelivery(q.q.QueryRow(ctx, "SELECT "+webhookDeliveryCols+" FROM webhook_deliveries WHERE id = $1", id))
}

func (q *queries) ListWebhookDeliveries(ctx context.Context, endpointID, before string, limit int) (_ []*steward.WebhookDelivery, err error) {
	defer wrapErr(&err, "list webhook deliveries")
	rows, err := q.q.Query(ctx, "SELECT "+webhookDeliveryCols+` FROM webhook_deliveries
		WHERE endpoint_id = $1 AND ($2 = '' OR id < $2) ORDER BY id DESC LIMIT $3`, endpointID, before, limit)
	return collectAll(rows, err, scanWebhookDelivery)
}

func (q *queries) WebhookEventSeqBefore(ctx context.Context, t time.Time) (_ int64, err error) {
	defer wrapErr(&err, "webhook event seq before")
	var n int64
	err = q.q.QueryRow(ctx, "SELECT COALESCE(MAX(seq), 0) FROM webhook_events WHERE created_at < $1", t).Scan(&n)
	return n, mapErr(err)
}
