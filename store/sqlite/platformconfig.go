package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
)

func (q queries) PlatformSettings(ctx context.Context) (map[string]json.RawMessage, error) {
	rows, err := q.db.QueryContext(ctx, "SELECT section, doc FROM platform_settings")
	if err != nil {
		return nil, fmt.Errorf("sqlite: platform settings: %w", err)
	}
	defer rows.Close()
	out := map[string]json.RawMessage{}
	for rows.Next() {
		var section, doc string
		if err := rows.Scan(&section, &doc); err != nil {
			return nil, fmt.Errorf("sqlite: platform settings: %w", err)
		}
		out[section] = json.RawMessage(doc)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: platform settings: %w", err)
	}
	return out, nil
}

// LockPlatformSettings only reads: the transaction already holds the one
// write lock.
func (t *tx) LockPlatformSettings(ctx context.Context) (map[string]json.RawMessage, error) {
	return t.PlatformSettings(ctx)
}

func (t *tx) SetPlatformSetting(ctx context.Context, section string, doc json.RawMessage) error {
	var err error
	if doc == nil {
		_, err = t.tx.ExecContext(ctx, "DELETE FROM platform_settings WHERE section = ?", section)
	} else {
		_, err = t.tx.ExecContext(ctx, `INSERT INTO platform_settings (section, doc) VALUES (?, ?)
			ON CONFLICT (section) DO UPDATE SET doc = excluded.doc`, section, string(doc))
	}
	if err != nil {
		return fmt.Errorf("sqlite: set platform setting: %w", err)
	}
	return nil
}
