package postgres

import (
	"context"
	"fmt"

	"github.com/stewardhq/steward/store"
)

// ServerVersion implements store.Health.
func (s *Store) ServerVersion(ctx context.Context) (string, error) {
	var v string
	if err := s.pool.QueryRow(ctx, "SHOW server_version").Scan(&v); err != nil {
		return "", fmt.Errorf("postgres: server version: %w", err)
	}
	return v, nil
}

// PoolStats implements store.Health from the pgx pool. Connections being
// opened count as open and in use; WaitCount is the acquires that found
// no idle connection and had to wait for one.
func (s *Store) PoolStats() store.PoolStats {
	st := s.pool.Stat()
	return store.PoolStats{Open: int(st.TotalConns()), InUse: int(st.AcquiredConns() + st.ConstructingConns()),
		Idle: int(st.IdleConns()), Max: int(st.MaxConns()), WaitCount: st.EmptyAcquireCount()}
}
