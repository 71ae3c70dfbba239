package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

const webhookEndpointCols = `id, url, event_types, tenant_id, description, enabled, disabled_reason, secret,
	previous_secret, previous_secret_until, after_seq, attempts, next_attempt_at, lease_owner, lease_until,
	created_at, updated_at, replay_to_seq, replay_resume_seq`

func scanWebhookEndpoint(row interface{ Scan(...any) error }) (*steward.WebhookEndpoint, error) {
	var e steward.WebhookEndpoint
	var types string
	var until, next, lease sql.NullInt64
	var created, updated int64
	err := row.Scan(&e.ID, &e.URL, &types, &e.TenantID, &e.Description, &e.Enabled, &e.DisabledReason,
		&e.SigningSecret, &e.PreviousSecret, &until, &e.AfterSeq, &e.Attempts, &next, &e.LeaseOwner, &lease,
		&created, &updated, &e.ReplayToSeq, &e.ReplayResumeSeq)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(types), &e.EventTypes); err != nil {
		return nil, err
	}
	e.PreviousSecretUntil, e.CreatedAt, e.UpdatedAt = timePtr(until), fromMicros(created), fromMicros(updated)
	e.NextAttemptAt, e.LeaseUntil = timePtr(next), timePtr(lease)
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
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, e.ID, e.URL, string(types), e.TenantID, e.Description,
		e.Enabled, e.DisabledReason, e.SigningSecret, e.PreviousSecret, nullMicros(e.PreviousSecretUntil),
		e.AfterSeq, e.Attempts, nullMicros(e.NextAttemptAt), e.LeaseOwner, nullMicros(e.LeaseUntil),
		micros(e.CreatedAt), micros(e.UpdatedAt), e.ReplayToSeq, e.ReplayResumeSeq)
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
		previous_secret_until = ?, after_seq = ?, attempts = ?, next_attempt_at = ?, lease_owner = ?,
		lease_until = ?, updated_at = ?, replay_to_seq = ?, replay_resume_seq = ? WHERE id = ?`,
		e.URL, string(types), e.TenantID, e.Description, e.Enabled, e.DisabledReason, e.SigningSecret,
		e.PreviousSecret, nullMicros(e.PreviousSecretUntil), e.AfterSeq, e.Attempts, nullMicros(e.NextAttemptAt),
		e.LeaseOwner, nullMicros(e.LeaseUntil), micros(e.UpdatedAt), e.ReplayToSeq, e.ReplayResumeSeq, e.ID)
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

// ClaimWebhookEndpoints: SQLite's one writer serialises claims already.
func (t *tx) ClaimWebhookEndpoints(ctx context.Context, owner string, now, leaseUntil time.Time, limit int) ([]*steward.WebhookEndpoint, error) {
	rows, err := t.tx.QueryContext(ctx, "SELECT "+webhookEndpointCols+` FROM webhook_endpoints e
		WHERE enabled = 1 AND (lease_until IS NULL OR lease_until <= ?1)
		AND (next_attempt_at IS NULL OR next_attempt_at <= ?1)
		AND EXISTS (SELECT 1 FROM webhook_events w WHERE w.seq > e.after_seq)
		ORDER BY id LIMIT ?2`, micros(now), limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: claim webhook endpoints: %w", err)
	}
	var out []*steward.WebhookEndpoint
	for rows.Next() {
		e, err := scanWebhookEndpoint(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("sqlite: claim webhook endpoints: %w", err)
		}
		out = append(out, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: claim webhook endpoints: %w", err)
	}
	for _, e := range out {
		e.LeaseOwner, e.LeaseUntil = owner, &leaseUntil
		if _, err := t.tx.ExecContext(ctx, "UPDATE webhook_endpoints SET lease_owner = ?, lease_until = ? WHERE id = ?",
			owner, micros(leaseUntil), e.ID); err != nil {
			return nil, fmt.Errorf("sqlite: claim webhook endpoints: %w", err)
		}
	}
	return out, nil
}

const webhookDeliveryCols = `id, endpoint_id, event_id, event_seq, event_type, attempt, succeeded, http_status,
	latency_us, response, error, created_at`

func (t *tx) InsertWebhookDelivery(ctx context.Context, d *steward.WebhookDelivery) error {
	_, err := t.tx.ExecContext(ctx, "INSERT INTO webhook_deliveries ("+webhookDeliveryCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, d.ID, d.EndpointID, d.EventID, d.EventSeq, d.EventType,
		d.Attempt, d.Succeeded, d.HTTPStatus, int64(d.LatencyMS*1000), d.Response, d.Error, micros(d.CreatedAt))
	if err != nil {
		return fmt.Errorf("sqlite: insert webhook delivery: %w", mapError(err))
	}
	return nil
}

func (t *tx) PurgeWebhookDeliveries(ctx context.Context, before time.Time, limit int) (int64, error) {
	return t.purge(ctx, "webhook deliveries", `DELETE FROM webhook_deliveries WHERE id IN (
		SELECT id FROM webhook_deliveries WHERE created_at < ? ORDER BY created_at LIMIT ?)`, micros(before), limit)
}

func scanWebhookDelivery(row interface{ Scan(...any) error }) (*steward.WebhookDelivery, error) {
	var d steward.WebhookDelivery
	var lat, at int64
	if err := row.Scan(&d.ID, &d.EndpointID, &d.EventID, &d.EventSeq, &d.EventType, &d.Attempt, &d.Succeeded,
		&d.HTTPStatus, &lat, &d.Response, &d.Error, &at); err != nil {
		return nil, err
	}
	d.LatencyMS, d.CreatedAt = float64(lat)/1000, fromMicros(at)
	return &d, nil
}

func (q queries) GetWebhookDelivery(ctx context.Context, id string) (*steward.WebhookDelivery, error) {
	d, err := scanWebhookDelivery(q.db.QueryRowContext(ctx, "SELECT "+webhookDeliveryCols+" FROM webhook_deliveries WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get webhook delivery: %w", err)
	}
	return d, nil
}

func (q queries) ListWebhookDeliveries(ctx context.Context, endpointID, before string, limit int) ([]*steward.WebhookDelivery, error) {
	rows, err := q.db.QueryContext(ctx, "SELECT "+webhookDeliveryCols+` FROM webhook_deliveries
		WHERE endpoint_id = ? AND (? = '' OR id < ?) ORDER BY id DESC LIMIT ?`, endpointID, before, before, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list webhook deliveries: %w", err)
	}
	defer rows.Close()
	var out []*steward.WebhookDelivery
	for rows.Next() {
		d, err := scanWebhookDelivery(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list webhook deliveries: %w", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list webhook deliveries: %w", err)
	}
	return out, nil
}

func (q queries) WebhookEventSeqBefore(ctx context.Context, t time.Time) (int64, error) {
	var n int64
	if err := q.db.QueryRowContext(ctx, "SELECT COALESCE(MAX(seq), 0) FROM webhook_events WHERE created_at < ?",
		micros(t)).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: webhook event seq before: %w", err)
	}
	return n, nil
}
