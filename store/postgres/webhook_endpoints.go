package postgres

import (
	"context"
	"encoding/json"

	"github.com/jackc/pgx/v5"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

const webhookEndpointCols = `id, url, event_types, tenant_id, description, enabled, disabled_reason, secret,
	previous_secret, previous_secret_until, after_seq, created_at, updated_at`

func scanWebhookEndpoint(row pgx.Row) (*steward.WebhookEndpoint, error) {
	var e steward.WebhookEndpoint
	var types string
	err := row.Scan(&e.ID, &e.URL, &types, &e.TenantID, &e.Description, &e.Enabled, &e.DisabledReason,
		&e.SigningSecret, &e.PreviousSecret, &e.PreviousSecretUntil, &e.AfterSeq, &e.CreatedAt, &e.UpdatedAt)
	if err != nil {
		return nil, mapErr(err)
	}
	if err := json.Unmarshal([]byte(types), &e.EventTypes); err != nil {
		return nil, err
	}
	if e.PreviousSecretUntil != nil {
		u := e.PreviousSecretUntil.UTC()
		e.PreviousSecretUntil = &u
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
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []*steward.WebhookEndpoint
	for rows.Next() {
		e, err := scanWebhookEndpoint(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, mapErr(rows.Err())
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
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`, e.ID, e.URL, string(types), e.TenantID,
		e.Description, e.Enabled, e.DisabledReason, e.SigningSecret, e.PreviousSecret, e.PreviousSecretUntil,
		e.AfterSeq, e.CreatedAt, e.UpdatedAt)
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
		previous_secret_until = $9, after_seq = $10, updated_at = $11 WHERE id = $12`,
		e.URL, string(types), e.TenantID, e.Description, e.Enabled, e.DisabledReason, e.SigningSecret,
		e.PreviousSecret, e.PreviousSecretUntil, e.AfterSeq, e.UpdatedAt, e.ID)
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
