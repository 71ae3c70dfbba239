// Package backend picks and opens a store from a database URL. Only the
// binaries call it: the rest of Steward sees store.Store.
package backend

import (
	"context"
	"fmt"
	"strings"

	"github.com/stewardhq/steward/store"
	"github.com/stewardhq/steward/store/postgres"
	"github.com/stewardhq/steward/store/sqlite"
)

// Open opens and migrates the database named by dsn: sqlite:<path>, or a
// postgres:// (postgresql://) URL.
func Open(ctx context.Context, dsn string) (store.Store, error) {
	var st store.Store
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		s, err := sqlite.Open(ctx, strings.TrimPrefix(dsn, "sqlite:"))
		if err != nil {
			return nil, err
		}
		st = s
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		s, err := postgres.Open(ctx, dsn)
		if err != nil {
			return nil, err
		}
		st = s
	default:
		return nil, fmt.Errorf("database %q: want sqlite:<path> or a postgres:// URL", dsn)
	}
	if err := st.Migrate(ctx); err != nil {
		st.Close()
		return nil, fmt.Errorf("migrating: %w", err)
	}
	return st, nil
}
