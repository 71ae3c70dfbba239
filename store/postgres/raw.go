package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stewardhq/steward/store"
)

// rawQuerier implements store.RawQuerier on the pool or on a write
// transaction, whichever queries runs on. Its errors are the driver's, for
// store/datatables to classify (a product table's constraints are not
// Steward's, so constraintFields does not apply), except that a database
// out of reach is store.ErrUnavailable as everywhere.
type rawQuerier struct{ q rawDB }

// rawDB is what rawQuerier needs of a pool or a transaction.
type rawDB interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Raw implements store.RawQueries.
func (q *queries) Raw() store.RawQuerier { return rawQuerier{q: q.q} }

// RawOn is the raw querier on another PostgreSQL database (a pool or a
// transaction): the data admin's external sources (store/datatables).
func RawOn(q rawDB) store.RawQuerier { return rawQuerier{q: q} }

// Unavailable marks err as store.ErrUnavailable when it says the server
// could not be reached, as the store does for its own database.
func Unavailable(err error) error { return rawErr(err) }

func (r rawQuerier) Dialect() string { return "postgres" }

func rawErr(err error) error {
	if err != nil && unreachable(err) {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return err
}

func (r rawQuerier) QueryRaw(ctx context.Context, query string, args ...any) ([]string, [][]any, error) {
	rows, err := r.q.Query(ctx, query, args...)
	if err != nil {
		return nil, nil, rawErr(err)
	}
	defer rows.Close()
	fds := rows.FieldDescriptions()
	cols := make([]string, len(fds))
	for i, fd := range fds {
		cols[i] = fd.Name
	}
	var out [][]any
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return nil, nil, rawErr(err)
		}
		out = append(out, vals)
	}
	return cols, out, rawErr(rows.Err())
}

func (r rawQuerier) ExecRaw(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := r.q.Exec(ctx, query, args...)
	if err != nil {
		return 0, rawErr(err)
	}
	return tag.RowsAffected(), nil
}
