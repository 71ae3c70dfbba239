package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

const webhookEndpointCols = `id, url, event_types, tenant_id, description, enabled, disabled_reason, secret,
	previous_secret, previous_secret_until, after_seq, created_at, updated_at`

func scanWebhookEndpoint(row interface{ Scan(...any) error }) (*steward.WebhookEndpoint, error) {
	var e steward.WebhookEndpoint
	var types string
	var until sql.NullInt64
	var created, updated int64
	err := row.Scan(&e.ID, &e.URL, &types, &e.TenantID, &e.Description, &e.Enabled, &e.DisabledReason,
		&e.SigningSecret, &e.PreviousSecret, &until, &e.AfterSeq, &created, &updated)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(types), &e.EventTypes); err != nil {
		return nil, err
	}
	e.PreviousSecretUntil, e.CreatedAt, e.UpdatedAt = timePtr(until), fromMicros(created), fromMicros(updated)
	return &e, nil
}

func (q queries) GetWebhookEndpoint(ctx context.Context, id string) (*steward.WebhookEndpoint, error) {
	e, err := scanWebhookEndpoint(q.db.QueryRowContext(ctx,
		"SELECT "+webhookEndpointCols+" FROM webhook_endpoints WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get webhook endpoint: %w", err)
	}
	return e, nil
}

func (q queries) ListWebhookEndpoints(ctx context.Context) ([]*steward.WebhookEndpoint, error) {
	rows, err := q.db.QueryContext(ctx, "SELECT "+webhookEndpointCols+" FROM webhook_endpoints ORDER BY created_at, id")
	if err != nil {
		return nil, fmt.Errorf("sqlite: list webhook endpoints: %w", err)
	}
	defer rows.Close()
	var out []*steward.WebhookEndpoint
	for rows.Next() {
		e, err := scanWebhookEndpoint(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list webhook endpoints: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list webhook endpoints: %w", err)
	}
	return out, nil
}

func (q queries) LastWebhookEventSeq(ctx context.Context) (int64, error) {
	var n int64
	if err := q.db.QueryRowContext(ctx, "SELECT COALESCE(MAX(seq), 0) FROM webhook_events").Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: last webhook event seq: %w", err)
	}
	return n, nil
}

func (t *tx) CreateWebhookEndpoint(ctx context.Context, e *steward.WebhookEndpoint) error {
	types, err := json.Marshal(e.EventTypes)
	if err != nil {
		return err
	}
	_, err = t.tx.ExecContext(ctx, "INSERT INTO webhook_endpoints ("+webhookEndpointCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, e.ID, e.URL, string(types), e.TenantID, e.Description,
		e.Enabled, e.DisabledReason, e.SigningSecret, e.PreviousSecret, nullMicros(e.PreviousSecretUntil),
		e.AfterSeq, micros(e.CreatedAt), micros(e.UpdatedAt))
	if err != nil {
		return fmt.Errorf("sqlite: create webhook endpoint: %w", mapError(err))
	}
	return nil
}

func (t *tx) UpdateWebhookEndpoint(ctx context.Context, e *steward.WebhookEndpoint) error {
	types, err := json.Marshal(e.EventTypes)
	if err != nil {
		return err
	}
	res, err := t.tx.ExecContext(ctx, `UPDATE webhook_endpoints SET url = ?, event_types = ?, tenant_id = ?,
		description = ?, enabled = ?, disabled_reason = ?, secret = ?, previous_secret = ?,
		previous_secret_until = ?, after_seq = ?, updated_at = ? WHERE id = ?`,
		e.URL, string(types), e.TenantID, e.Description, e.Enabled, e.DisabledReason, e.SigningSecret,
		e.PreviousSecret, nullMicros(e.PreviousSecretUntil), e.AfterSeq, micros(e.UpdatedAt), e.ID)
	if err != nil {
		return fmt.Errorf("sqlite: update webhook endpoint: %w", mapError(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrNotFound
	}
	return nil
}

func (t *tx) DeleteWebhookEndpoint(ctx context.Context, id string) error {
	res, err := t.tx.ExecContext(ctx, "DELETE FROM webhook_endpoints WHERE id = ?", id)
	if err != nil {
		return fmt.Errorf("sqlite: delete webhook endpoint: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrNotFound
	}
	return nil
}
