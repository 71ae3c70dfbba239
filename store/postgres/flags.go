package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stewardhq/steward/store"
)

var (
	_ store.FlagQueries = (*Store)(nil)
	_ store.FlagTx      = (*tx)(nil)
	_ store.FlagWatcher = (*Store)(nil)
)

func (q *queries) UserFeatures(ctx context.Context, userID string) (_ map[string]any, err error) {
	defer wrapErr(&err, "user features")
	var doc []byte
	err = q.q.QueryRow(ctx, "SELECT features FROM user_features WHERE user_id = $1", userID).Scan(&doc)
	if errors.Is(err, pgx.ErrNoRows) {
		return map[string]any{}, nil
	}
	if err != nil {
		return nil, mapErr(err)
	}
	m := map[string]any{}
	return m, json.Unmarshal(doc, &m)
}

func (t *tx) SetUserFeatures(ctx context.Context, userID string, features map[string]any, now time.Time) (err error) {
	defer wrapErr(&err, "set user features")
	if len(features) == 0 {
		_, err = t.q.Exec(ctx, "DELETE FROM user_features WHERE user_id = $1", userID)
		return mapErr(err)
	}
	doc, err := json.Marshal(features)
	if err != nil {
		return err
	}
	_, err = t.q.Exec(ctx, `INSERT INTO user_features (user_id, features, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (user_id) DO UPDATE SET features = excluded.features, updated_at = excluded.updated_at`,
		userID, string(doc), now)
	return mapErr(err)
}

// NotifyFlags queues a notification per key on the schema's flag channel:
// PostgreSQL delivers it to every listener when the transaction commits,
// and drops it if it rolls back.
func (t *tx) NotifyFlags(ctx context.Context, keys ...string) (err error) {
	defer wrapErr(&err, "notify flags")
	if len(keys) == 0 {
		return nil
	}
	_, err = t.q.Exec(ctx, "SELECT pg_notify('steward_flags:' || current_schema(), k) FROM unnest($1::text[]) AS k", keys)
	return mapErr(err)
}
