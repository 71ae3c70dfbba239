package sqlite

import (
	"context"
	"database/sql"

	"github.com/stewardhq/steward/store"
)

// rawQuerier implements store.RawQuerier on the reader pool or on a write
// transaction, whichever queries runs on. Its errors are the driver's, for
// store/datatables to classify (a product table's constraints are not
// Steward's, so mapError's names do not apply).
type rawQuerier struct{ db rawDB }

// rawDB is what rawQuerier needs of a *sql.DB or *sql.Tx.
type rawDB interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// Raw implements store.RawQueries.
func (q *queries) Raw() store.RawQuerier { return rawQuerier{db: q.db} }

// RawOn is the raw querier on another SQLite database (a *sql.DB or
// *sql.Tx): the data admin's external sources (store/datatables).
func RawOn(db rawDB) store.RawQuerier { return rawQuerier{db: db} }

func (r rawQuerier) Dialect() string { return "sqlite" }

func (r rawQuerier) QueryRaw(ctx context.Context, query string, args ...any) ([]string, [][]any, error) {
	rows, err := r.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, nil, err
	}
	var out [][]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, nil, err
		}
		out = append(out, vals)
	}
	return cols, out, rows.Err()
}

func (r rawQuerier) ExecRaw(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := r.db.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
