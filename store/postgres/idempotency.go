package postgres

import (
	"context"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

func (q *queries) GetIdempotency(ctx context.Context, keyHash []byte) (_ *steward.IdempotencyRecord, err error) {
	defer wrapErr(&err, "get idempotency")
	var r steward.IdempotencyRecord
	err = q.q.QueryRow(ctx, "SELECT key_hash, request_hash, status, body, created_at, expires_at "+
		"FROM idempotency WHERE key_hash = $1"+q.forUpdate(), keyHash).
		Scan(&r.KeyHash, &r.RequestHash, &r.Status, &r.Body, &r.CreatedAt, &r.ExpiresAt)
	if err != nil {
		return nil, mapErr(err)
	}
	if len(r.Body) == 0 {
		r.Body = nil
	}
	r.CreatedAt, r.ExpiresAt = r.CreatedAt.UTC(), r.ExpiresAt.UTC()
	return &r, nil
}

// nullBytes is NULL for an empty slice: a record has no body until its
// answer is stored.
func nullBytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

func (t *tx) InsertIdempotency(ctx context.Context, r *steward.IdempotencyRecord) (err error) {
	defer wrapErr(&err, "insert idempotency")
	_, err = t.q.Exec(ctx, `INSERT INTO idempotency (key_hash, request_hash, status, body, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6)`,
		r.KeyHash, r.RequestHash, r.Status, nullBytes(r.Body), r.CreatedAt, r.ExpiresAt)
	return mapErr(err)
}

func (t *tx) UpdateIdempotency(ctx context.Context, r *steward.IdempotencyRecord) (err error) {
	defer wrapErr(&err, "update idempotency")
	tag, err := t.q.Exec(ctx, `UPDATE idempotency SET request_hash = $2, status = $3, body = $4,
		created_at = $5, expires_at = $6 WHERE key_hash = $1`,
		r.KeyHash, r.RequestHash, r.Status, nullBytes(r.Body), r.CreatedAt, r.ExpiresAt)
	if err != nil {
		return mapErr(err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// DeleteIdempotency removes the record, if it is still there.
func (t *tx) DeleteIdempotency(ctx context.Context, keyHash []byte) (err error) {
	defer wrapErr(&err, "delete idempotency")
	_, err = t.q.Exec(ctx, "DELETE FROM idempotency WHERE key_hash = $1", keyHash)
	return mapErr(err)
}
