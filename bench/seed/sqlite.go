package main

import (
	"context"
	"io"

	"github.com/stewardhq/steward/bench/internal/sqlitefts"
	"github.com/stewardhq/steward/store"
)

// deferSearchIndex builds the users' search index once after loading rather
// than row by row (SQLite only; see sqlitefts.Defer for why and how).
func deferSearchIndex(ctx context.Context, st store.Store, out io.Writer) (finish func() error, err error) {
	return sqlitefts.Defer(ctx, st, out)
}
