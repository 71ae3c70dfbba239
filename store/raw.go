package store

import "context"

// RawQuerier runs statements that are not Steward's own: the data admin's
// (docs/data-admin.md), built by store/datatables from an introspected
// schema, identifiers quoted and every value a bound parameter. It is the
// only way SQL text reaches a store from outside it.
type RawQuerier interface {
	// QueryRaw runs a query and returns its column names and its rows,
	// each value as the driver decodes it. Callers bound the row count
	// with LIMIT.
	QueryRaw(ctx context.Context, query string, args ...any) (cols []string, rows [][]any, err error)
	// ExecRaw runs a statement and returns the rows it affected.
	ExecRaw(ctx context.Context, query string, args ...any) (int64, error)
	// Dialect is "sqlite" or "postgres": placeholders are ? on SQLite and
	// $n on PostgreSQL.
	Dialect() string
}

// RawQueries gives the raw querier of a Store (reads on the reader pool)
// or of a Tx (its reads and writes inside the transaction, so a data
// admin change and its audit entry commit together).
type RawQueries interface {
	Raw() RawQuerier
}
