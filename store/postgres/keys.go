package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

func (q *queries) ListSigningKeys(ctx context.Context) (_ []*steward.SigningKey, err error) {
	defer wrapErr(&err, "list signing keys")
	rows, err := q.q.Query(ctx, "SELECT id, private_key, created_at, retired_at FROM signing_keys ORDER BY created_at, id")
	if err != nil {
		return nil, mapErr(err)
	}
	keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*steward.SigningKey, error) {
		var k steward.SigningKey
		if err := r.Scan(&k.ID, &k.PrivateKey, &k.CreatedAt, &k.RetiredAt); err != nil {
			return nil, err
		}
		k.CreatedAt = k.CreatedAt.UTC()
		k.RetiredAt = utcPtr(k.RetiredAt)
		return &k, nil
	})
	if err != nil {
		return nil, mapErr(err)
	}
	if keys == nil {
		keys = []*steward.SigningKey{}
	}
	return keys, nil
}

func (t *tx) InsertSigningKey(ctx context.Context, k *steward.SigningKey) (err error) {
	defer wrapErr(&err, "insert signing key")
	_, err = t.q.Exec(ctx, "INSERT INTO signing_keys (id, private_key, created_at, retired_at) VALUES ($1, $2, $3, $4)",
		k.ID, k.PrivateKey, k.CreatedAt, k.RetiredAt)
	return mapErr(err)
}

func (t *tx) UpdateSigningKey(ctx context.Context, k *steward.SigningKey) (err error) {
	defer wrapErr(&err, "update signing key")
	tag, err := t.q.Exec(ctx, "UPDATE signing_keys SET private_key = $2, created_at = $3, retired_at = $4 WHERE id = $1",
		k.ID, k.PrivateKey, k.CreatedAt, k.RetiredAt)
	if err != nil {
		return mapErr(err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}
