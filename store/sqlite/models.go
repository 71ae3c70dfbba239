package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

func (q queries) ActiveModel(ctx context.Context) (*steward.ActiveModel, error) {
	var m steward.ActiveModel
	var since int64
	err := q.db.QueryRowContext(ctx, "SELECT model_id, since, actor_type, actor_id FROM active_model WHERE singleton = 1").
		Scan(&m.ModelID, &since, &m.ActorType, &m.ActorID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: active model: %w", err)
	}
	m.Since = fromMicros(since)
	return &m, nil
}

// LockActiveModel only reads: the transaction already holds the one write
// lock.
func (t *tx) LockActiveModel(ctx context.Context) (*steward.ActiveModel, error) {
	return t.ActiveModel(ctx)
}

func (t *tx) SetActiveModel(ctx context.Context, m *steward.ActiveModel) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO active_model (singleton, model_id, since, actor_type, actor_id)
		VALUES (1, ?, ?, ?, ?) ON CONFLICT (singleton) DO UPDATE SET model_id = excluded.model_id,
		since = excluded.since, actor_type = excluded.actor_type, actor_id = excluded.actor_id`,
		m.ModelID, micros(m.Since), m.ActorType, m.ActorID)
	if err != nil {
		return fmt.Errorf("sqlite: set active model: %w", err)
	}
	return nil
}
