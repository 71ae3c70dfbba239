package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

func (q queries) GetIdempotency(ctx context.Context, keyHash []byte) (*steward.IdempotencyRecord, error) {
	var (
		r                steward.IdempotencyRecord
		created, expires int64
	)
	err := q.db.QueryRowContext(ctx, "SELECT key_hash, request_hash, status, body, created_at, expires_at "+
		"FROM idempotency WHERE key_hash = ?", keyHash).
		Scan(&r.KeyHash, &r.RequestHash, &r.Status, &r.Body, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get idempotency record: %w", err)
	}
	if len(r.Body) == 0 {
		r.Body = nil
	}
	r.CreatedAt, r.ExpiresAt = fromMicros(created), fromMicros(expires)
	return &r, nil
}

// nullBytes is NULL for an empty slice: a record has no body until its
// answer is stored.
func nullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

func (t *tx) InsertIdempotency(ctx context.Context, r *steward.IdempotencyRecord) error {
	_, err := t.tx.ExecContext(ctx, "INSERT INTO idempotency (request_hash, status, body, created_at, expires_at, key_hash) "+
		"VALUES (?, ?, ?, ?, ?, ?)",
		r.RequestHash, r.Status, nullBytes(r.Body), micros(r.CreatedAt), micros(r.ExpiresAt), r.KeyHash)
	if err != nil {
		return fmt.Errorf("sqlite: insert idempotency record: %w", mapError(err))
	}
	return nil
}

func (t *tx) UpdateIdempotency(ctx context.Context, r *steward.IdempotencyRecord) error {
	err := exactlyOne(t.tx.ExecContext(ctx, "UPDATE idempotency SET request_hash = ?, status = ?, body = ?, "+
		"created_at = ?, expires_at = ? WHERE key_hash = ?",
		r.RequestHash, r.Status, nullBytes(r.Body), micros(r.CreatedAt), micros(r.ExpiresAt), r.KeyHash))
	if err != nil {
		return fmt.Errorf("sqlite: update idempotency record: %w", err)
	}
	return nil
}

// DeleteIdempotency removes the record, if it is still there.
func (t *tx) DeleteIdempotency(ctx context.Context, keyHash []byte) error {
	if _, err := t.tx.ExecContext(ctx, "DELETE FROM idempotency WHERE key_hash = ?", keyHash); err != nil {
		return fmt.Errorf("sqlite: delete idempotency record: %w", err)
	}
	return nil
}
