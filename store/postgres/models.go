package postgres

import (
	"context"

	"github.com/stewardhq/steward"
)

// lockActiveModel serializes writers of the active model, the first one
// included (before it there is no row to lock).
const lockActiveModel int64 = 0x5374657761726419

func (q *queries) ActiveModel(ctx context.Context) (_ *steward.ActiveModel, err error) {
	defer wrapErr(&err, "active model")
	var m steward.ActiveModel
	err = q.q.QueryRow(ctx, "SELECT model_id, since, actor_type, actor_id FROM active_model WHERE singleton = 1").
		Scan(&m.ModelID, &m.Since, &m.ActorType, &m.ActorID)
	if err != nil {
		return nil, err
	}
	m.Since = m.Since.UTC()
	return &m, nil
}

func (t *tx) LockActiveModel(ctx context.Context) (_ *steward.ActiveModel, err error) {
	defer wrapErr(&err, "lock active model")
	if _, err := t.q.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockActiveModel); err != nil {
		return nil, err
	}
	return t.ActiveModel(ctx)
}

func (t *tx) SetActiveModel(ctx context.Context, m *steward.ActiveModel) (err error) {
	defer wrapErr(&err, "set active model")
	_, err = t.q.Exec(ctx, `INSERT INTO active_model (singleton, model_id, since, actor_type, actor_id)
		VALUES (1, $1, $2, $3, $4) ON CONFLICT (singleton) DO UPDATE SET model_id = excluded.model_id,
		since = excluded.since, actor_type = excluded.actor_type, actor_id = excluded.actor_id`,
		m.ModelID, m.Since, m.ActorType, m.ActorID)
	return err
}
