package sqlite

import (
	"context"
	"fmt"

	"github.com/stewardhq/steward/store"
)

// ServerVersion implements store.Health. It asks a reader, as Ping does:
// the writer may be busy with a long transaction.
func (s *Store) ServerVersion(ctx context.Context) (string, error) {
	var v string
	if err := s.reader.QueryRowContext(ctx, "SELECT sqlite_version()").Scan(&v); err != nil {
		return "", fmt.Errorf("sqlite: server version: %w", err)
	}
	return v, nil
}

// PoolStats implements store.Health: the reader pool and the writer
// together, so a long write shows as one connection in use.
func (s *Store) PoolStats() store.PoolStats {
	r, w := s.reader.Stats(), s.writer.Stats()
	return store.PoolStats{Open: r.OpenConnections + w.OpenConnections, InUse: r.InUse + w.InUse,
		Idle: r.Idle + w.Idle, Max: r.MaxOpenConnections + w.MaxOpenConnections, WaitCount: r.WaitCount + w.WaitCount}
}
