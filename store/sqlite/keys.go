package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/stewardhq/steward"
)

func (q queries) ListSigningKeys(ctx context.Context) ([]*steward.SigningKey, error) {
	rows, err := q.db.QueryContext(ctx, "SELECT id, private_key, created_at, retired_at FROM signing_keys ORDER BY created_at, id")
	if err != nil {
		return nil, fmt.Errorf("sqlite: list signing keys: %w", err)
	}
	defer rows.Close()
	keys := []*steward.SigningKey{}
	for rows.Next() {
		var (
			k       steward.SigningKey
			created int64
			retired sql.NullInt64
		)
		if err := rows.Scan(&k.ID, &k.PrivateKey, &created, &retired); err != nil {
			return nil, fmt.Errorf("sqlite: list signing keys: %w", err)
		}
		k.CreatedAt, k.RetiredAt = fromMicros(created), timePtr(retired)
		keys = append(keys, &k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list signing keys: %w", err)
	}
	return keys, nil
}

func (t *tx) InsertSigningKey(ctx context.Context, k *steward.SigningKey) error {
	_, err := t.tx.ExecContext(ctx, "INSERT INTO signing_keys (id, private_key, created_at, retired_at) VALUES (?, ?, ?, ?)",
		k.ID, k.PrivateKey, micros(k.CreatedAt), nullMicros(k.RetiredAt))
	if err != nil {
		return fmt.Errorf("sqlite: insert signing key: %w", mapError(err))
	}
	return nil
}

func (t *tx) UpdateSigningKey(ctx context.Context, k *steward.SigningKey) error {
	err := exactlyOne(t.tx.ExecContext(ctx, "UPDATE signing_keys SET private_key = ?, created_at = ?, retired_at = ? WHERE id = ?",
		k.PrivateKey, micros(k.CreatedAt), nullMicros(k.RetiredAt), k.ID))
	if err != nil {
		return fmt.Errorf("sqlite: update signing key: %w", err)
	}
	return nil
}
