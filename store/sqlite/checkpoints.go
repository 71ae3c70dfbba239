package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

const checkpointColumns = "id, seq, hash, time, key_id, signature"

func scanCheckpoint(sc scanner) (*steward.AuditCheckpoint, error) {
	var (
		c  steward.AuditCheckpoint
		at int64
	)
	if err := sc.Scan(&c.ID, &c.Seq, &c.Hash, &at, &c.KeyID, &c.Signature); err != nil {
		return nil, err
	}
	c.Time = fromMicros(at)
	return &c, nil
}

func (q queries) ListAuditCheckpoints(ctx context.Context, before string, n int) ([]*steward.AuditCheckpoint, error) {
	query, args := "SELECT "+checkpointColumns+" FROM audit_checkpoints", []any{}
	if before != "" {
		query += " WHERE id < ?"
		args = append(args, before)
	}
	list, err := queryAll(ctx, q.db, scanCheckpoint, query+" ORDER BY id DESC LIMIT ?", append(args, limit(n))...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list audit checkpoints: %w", err)
	}
	return list, nil
}

func (q queries) LatestAuditCheckpoint(ctx context.Context) (*steward.AuditCheckpoint, error) {
	c, err := scanCheckpoint(q.db.QueryRowContext(ctx,
		"SELECT "+checkpointColumns+" FROM audit_checkpoints ORDER BY seq DESC, id DESC LIMIT 1"))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: latest audit checkpoint: %w", err)
	}
	return c, nil
}

func (t *tx) InsertAuditCheckpoint(ctx context.Context, c *steward.AuditCheckpoint) error {
	_, err := t.tx.ExecContext(ctx, "INSERT INTO audit_checkpoints ("+checkpointColumns+") VALUES (?, ?, ?, ?, ?, ?)",
		c.ID, c.Seq, c.Hash, micros(c.Time), c.KeyID, c.Signature)
	if err != nil {
		return fmt.Errorf("sqlite: insert audit checkpoint: %w", mapError(err))
	}
	return nil
}
