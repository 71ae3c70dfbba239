package postgres

import (
	"context"
	"encoding/json"
)

func (q *queries) PlatformSettings(ctx context.Context) (_ map[string]json.RawMessage, err error) {
	defer wrapErr(&err, "platform settings")
	rows, err := q.q.Query(ctx, "SELECT section, doc FROM platform_settings")
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	out := map[string]json.RawMessage{}
	for rows.Next() {
		var section string
		var doc []byte
		if err := rows.Scan(&section, &doc); err != nil {
			return nil, mapErr(err)
		}
		out[section] = doc
	}
	return out, mapErr(rows.Err())
}

// LockPlatformSettings takes an advisory lock rather than row locks: a
// section without a row yet has nothing to lock.
func (t *tx) LockPlatformSettings(ctx context.Context) (_ map[string]json.RawMessage, err error) {
	defer wrapErr(&err, "lock platform settings")
	if _, err := t.q.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockPlatformSettings); err != nil {
		return nil, mapErr(err)
	}
	return t.PlatformSettings(ctx)
}

func (t *tx) SetPlatformSetting(ctx context.Context, section string, doc json.RawMessage) (err error) {
	defer wrapErr(&err, "set platform setting")
	if doc == nil {
		_, err = t.q.Exec(ctx, "DELETE FROM platform_settings WHERE section = $1", section)
	} else {
		_, err = t.q.Exec(ctx, `INSERT INTO platform_settings (section, doc) VALUES ($1, $2)
			ON CONFLICT (section) DO UPDATE SET doc = excluded.doc`, section, string(doc))
	}
	return mapErr(err)
}
