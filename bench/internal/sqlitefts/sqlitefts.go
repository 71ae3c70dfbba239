// Package sqlitefts lets a bulk load into SQLite build the users' trigram
// search index once at the end; bench/seed and bench/overview use it.
package sqlitefts

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/stewardhq/steward/store"
	"github.com/stewardhq/steward/store/sqlite"
)

// Defer speeds up a bulk load into SQLite by building the users'
// trigram index once at the end instead of row by row.
//
// Kept up to date by its triggers, FTS5 flushes a segment per transaction and
// then merges segments; measured on a 2-core machine, the merges (almost all
// of it in fts5DataRemoveSegment) were 55–60 % of the seed's CPU and the
// insert rate fell from ~4,000 to ~1,100 users/s by 150,000 users. Without the
// triggers the same load runs at ~11,000 users/s, and FTS5's 'rebuild' then
// indexes the whole table in one pass.
//
// It drops the users_fts_* triggers and returns a function that rebuilds the
// index and recreates the triggers from the exact SQL SQLite had stored for
// them, so the schema afterwards is the migration's. The function must run
// even when loading fails (the seed defers it); otherwise the database is left
// without its search triggers. For other stores it does nothing.
func Defer(ctx context.Context, st store.Store, out io.Writer) (finish func() error, err error) {
	s, ok := st.(*sqlite.Store)
	if !ok {
		return func() error { return nil }, nil
	}
	db := s.WriterDB()
	rows, err := db.QueryContext(ctx, `SELECT name, sql FROM sqlite_master
		WHERE type = 'trigger' AND tbl_name = 'users' AND name LIKE 'users\_fts\_%' ESCAPE '\'
		ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("reading the search triggers: %w", err)
	}
	type trigger struct{ name, sql string }
	var triggers []trigger
	for rows.Next() {
		var t trigger
		if err := rows.Scan(&t.name, &t.sql); err != nil {
			rows.Close()
			return nil, err
		}
		triggers = append(triggers, t)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, err
	}
	if len(triggers) == 0 {
		return nil, errors.New("no users_fts_* triggers found: has the schema changed? (run with -defer-search-index=false)")
	}
	err = inTx(ctx, db, func(tx *sql.Tx) error {
		for _, t := range triggers {
			if _, err := tx.ExecContext(ctx, `DROP TRIGGER "`+t.name+`"`); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dropping the search triggers: %w", err)
	}
	return func() error {
		// Not ctx: after an interrupt the triggers must still come back.
		ctx := context.Background()
		start := time.Now()
		err := inTx(ctx, db, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, "INSERT INTO users_fts (users_fts) VALUES ('rebuild')"); err != nil {
				return fmt.Errorf("rebuilding the search index: %w", err)
			}
			for _, t := range triggers {
				if _, err := tx.ExecContext(ctx, t.sql); err != nil {
					return fmt.Errorf("recreating trigger %s: %w", t.name, err)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "built the search index in %s\n", time.Since(start).Round(time.Millisecond))
		return nil
	}, nil
}

func inTx(ctx context.Context, db *sql.DB, fn func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}
