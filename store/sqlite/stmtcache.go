package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// maxCachedStmts bounds the reader's statement cache. The store's query texts
// are fixed strings or built from a filter's shape (which conditions are
// present, never their values), so a few dozen distinct texts occur in
// practice; the bound only guards against an unforeseen source of texts.
const maxCachedStmts = 256

// stmtCache is the querier of the reader pool. It prepares each query text
// once, as a *sql.Stmt on the pool, and reuses it: database/sql then prepares
// the statement on each reader connection the first time it runs there and
// keeps it, so SQLite parses and plans a query once per connection instead of
// once per call. Parsing was a third of the server's CPU on a one-user read.
//
// Texts are never evicted, so a statement in use is never closed under its
// caller; once the cache holds maxCachedStmts texts, further ones run
// unprepared, as every query did before. A text that fails to prepare (a
// syntax error, a table not yet migrated) is not cached either: it runs
// unprepared so that the error comes back the usual way.
type stmtCache struct {
	db *sql.DB

	mu     sync.RWMutex
	stmts  map[string]*sql.Stmt
	closed bool
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, stmts: make(map[string]*sql.Stmt)}
}

// lookup returns the cached statement for query, or nil.
func (c *stmtCache) lookup(query string) *sql.Stmt {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.stmts[query]
}

// stmt returns the cached statement for query, preparing and caching it on a
// miss, or nil when it cannot be cached. It prepares without holding the lock:
// preparing may wait for a free connection.
func (c *stmtCache) stmt(ctx context.Context, query string) *sql.Stmt {
	c.mu.RLock()
	st, full := c.stmts[query], len(c.stmts) >= maxCachedStmts || c.closed
	c.mu.RUnlock()
	if st != nil || full {
		return st
	}
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev := c.stmts[query]; prev != nil { // another caller was quicker
		st.Close()
		return prev
	}
	if c.closed || len(c.stmts) >= maxCachedStmts {
		st.Close()
		return nil
	}
	c.stmts[query] = st
	return st
}

func (c *stmtCache) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := c.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return c.db.QueryContext(ctx, query, args...)
}

func (c *stmtCache) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := c.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return c.db.QueryRowContext(ctx, query, args...)
}

// ExecContext is not cached: the readers are query_only, and nothing
// executes statements on them.
func (c *stmtCache) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return c.db.ExecContext(ctx, query, args...)
}

// begin starts a read transaction on one reader connection, for reads that
// must see one snapshot. warm lists the query texts the transaction will run:
// they are prepared first, while the transaction holds no connection, since
// preparing on the pool from inside it could wait for a connection that
// every other reader holds in the same way.
func (c *stmtCache) begin(ctx context.Context, warm ...string) (*readTx, error) {
	for _, q := range warm {
		c.stmt(ctx, q)
	}
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	return &readTx{tx: tx, cache: c}, nil
}

// Close closes every cached statement. Queries that start afterwards run
// unprepared (and fail once the pool is closed too).
func (c *stmtCache) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	var errs []error
	for q, st := range c.stmts {
		errs = append(errs, st.Close())
		delete(c.stmts, q)
	}
	return errors.Join(errs...)
}

// readTx is a querier on a read transaction of the reader pool. It runs the
// cached statements through the transaction's connection (tx.StmtContext
// reuses the one prepared there, or prepares it there), and never prepares on
// the pool itself.
type readTx struct {
	tx    *sql.Tx
	cache *stmtCache
}

func (r *readTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := r.cache.lookup(query); st != nil {
		return r.tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	}
	return r.tx.QueryContext(ctx, query, args...)
}

func (r *readTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := r.cache.lookup(query); st != nil {
		return r.tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return r.tx.QueryRowContext(ctx, query, args...)
}

func (r *readTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return r.tx.ExecContext(ctx, query, args...)
}

// end finishes the transaction. It only read, so rolling back loses nothing.
func (r *readTx) end() { _ = r.tx.Rollback() }
