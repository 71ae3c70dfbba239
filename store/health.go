package store

import "context"

// Health is what the detailed health report asks a backend: the database
// server's version, as one cheap round trip, and the connection pool's
// state.
type Health interface {
	// ServerVersion asks the database for its version ("3.50.4" from
	// sqlite_version(), "17.2" from server_version). It reads nothing of
	// Steward's and waits behind no write, so its time is the round trip.
	ServerVersion(ctx context.Context) (string, error)
	// PoolStats is the connection pool now, without touching the database.
	PoolStats() PoolStats
}

// PoolStats is a backend's connection pool: on SQLite the reader pool and
// the one writer together, on PostgreSQL the pgx pool.
type PoolStats struct {
	Open  int // connections open, in use or idle
	InUse int
	Idle  int
	Max   int // the most that may be open
	// WaitCount is how many times since the store opened a caller had to
	// wait for a free connection.
	WaitCount int64
}
