package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/stewardhq/steward"
)

const checkpointCols = "id, seq, hash, time, key_id, signature"

func scanCheckpoint(row pgx.Row) (*steward.AuditCheckpoint, error) {
	var c steward.AuditCheckpoint
	if err := row.Scan(&c.ID, &c.Seq, &c.Hash, &c.Time, &c.KeyID, &c.Signature); err != nil {
		return nil, err
	}
	c.Time = c.Time.UTC()
	return &c, nil
}

func (q *queries) ListAuditCheckpoints(ctx context.Context, before string, limit int) ([]*steward.AuditCheckpoint, error) {
	w := &where{}
	if before != "" {
		w.add("id < " + w.arg(before))
	}
	sql := "SELECT " + checkpointCols + " FROM audit_checkpoints" + w.String() + " ORDER BY id DESC LIMIT " + w.arg(pageLimit(limit))
	rows, err := q.q.Query(ctx, sql, w.args...)
	list, err := collectAll(rows, err, scanCheckpoint)
	if err != nil {
		return nil, fmt.Errorf("postgres: list audit checkpoints: %w", err)
	}
	return list, nil
}

func (q *queries) LatestAuditCheckpoint(ctx context.Context) (*steward.AuditCheckpoint, error) {
	c, err := scanCheckpoint(q.q.QueryRow(ctx,
		"SELECT "+checkpointCols+" FROM audit_checkpoints ORDER BY seq DESC, id DESC LIMIT 1"))
	if err != nil {
		return nil, fmt.Errorf("postgres: latest audit checkpoint: %w", mapErr(err))
	}
	return c, nil
}

func (t *tx) InsertAuditCheckpoint(ctx context.Context, c *steward.AuditCheckpoint) error {
	_, err := t.q.Exec(ctx, "INSERT INTO audit_checkpoints ("+checkpointCols+") VALUES ($1, $2, $3, $4, $5, $6)",
		c.ID, c.Seq, c.Hash, c.Time, c.KeyID, c.Signature)
	if err != nil {
		return fmt.Errorf("postgres: insert audit checkpoint: %w", mapErr(err))
	}
	return nil
}
