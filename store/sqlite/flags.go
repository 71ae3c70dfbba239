package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/stewardhq/steward/store"
)

var (
	_ store.FlagQueries = (*Store)(nil)
	_ store.FlagTx      = (*tx)(nil)
)

func (q queries) UserFeatures(ctx context.Context, userID string) (map[string]any, error) {
	var doc string
	err := q.db.QueryRowContext(ctx, "SELECT features FROM user_features WHERE user_id = ?", userID).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return map[string]any{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: user features: %w", err)
	}
	m := map[string]any{}
	if err := json.Unmarshal([]byte(doc), &m); err != nil {
		return nil, fmt.Errorf("sqlite: user features: %w", err)
	}
	return m, nil
}

func (t *tx) SetUserFeatures(ctx context.Context, userID string, features map[string]any, now time.Time) error {
	var err error
	if len(features) == 0 {
		_, err = t.tx.ExecContext(ctx, "DELETE FROM user_features WHERE user_id = ?", userID)
	} else {
		var doc []byte
		if doc, err = json.Marshal(features); err != nil {
			return fmt.Errorf("sqlite: set user features: %w", err)
		}
		_, err = t.tx.ExecContext(ctx, `INSERT INTO user_features (user_id, features, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (user_id) DO UPDATE SET features = excluded.features, updated_at = excluded.updated_at`,
			userID, string(doc), micros(now))
	}
	if err != nil {
		return fmt.Errorf("sqlite: set user features: %w", mapError(err))
	}
	return nil
}

// NotifyFlags queues keys for this process's watcher, which Update calls
// once the transaction commits (WatchFlags, flagwatch.go).
func (t *tx) NotifyFlags(_ context.Context, keys ...string) error {
	t.notified = append(t.notified, keys...)
	return nil
}
