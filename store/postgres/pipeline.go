package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stewardhq/steward/store"
)

// pipeTx is a write transaction's connection. It counts the statements run
// on it (Store.Statements) and holds back writes whose outcome nothing in
// the transaction reads (later): a ledger batch's entry inserts, block and
// account updates, audit and outbox inserts. They go to the server together,
// in one pipelined round trip, just before the next statement that is not
// deferred, or before the commit. A batch of a hundred deducts is then a few
// round trips instead of several hundred, which is what bounds a
// transaction's speed when the server is a network hop away.
//
// The order of statements is kept: everything deferred runs before
// whatever comes next, so a read in the same transaction sees every write
// made before it. What changes is where a deferred write's failure is
// reported: at the next statement or at the commit, not at the call that
// queued it. So a failure poisons the transaction: every later statement and
// the commit fail with it, whatever the caller that saw it first made of it,
// and the transaction rolls back whole. Deferred writes are therefore only
// those whose failure no caller handles other than by failing: never an
// insert whose unique violation answers a client.
type pipeTx struct {
	pgx.Tx
	n       *atomic.Uint64
	pending []deferred
	failed  error
}

// deferred is one held-back write: check, when set, judges its result
// (a row count that must not be zero, say).
type deferred struct {
	op    string
	sql   string
	args  []any
	check func(pgconn.CommandTag) error
}

// deferredError is a deferred write's failure (mapped: a DuplicateError, a
// database error, store.ErrNotFound for a row that was not there) as
// reported by whatever statement surfaced it. It unwraps to that error
// (so a serialization failure is still retried) except store.ErrNotFound: a
// read that surfaced it must not be taken to have found nothing. The
// commit reports the failure itself (cause), so the transaction's caller
// sees what the write's own statement would have returned.
type deferredError struct {
	op  string
	err error
}

func (e *deferredError) Error() string {
	return fmt.Sprintf("postgres: %s (deferred): %v", e.op, e.err)
}

func (e *deferredError) Unwrap() error {
	if errors.Is(e.err, store.ErrNotFound) {
		return nil
	}
	return e.err
}

// cause is err as the deferred write's own call would have returned it.
func cause(err error) error {
	var de *deferredError
	if errors.As(err, &de) {
		return opErr(de.op, de.err)
	}
	return err
}

// later queues a write to run before the next statement or the commit.
func (p *pipeTx) later(op, sql string, check func(pgconn.CommandTag) error, args ...any) {
	p.pending = append(p.pending, deferred{op: op, sql: sql, args: args, check: check})
}

// flush sends what was deferred, in one batch.
func (p *pipeTx) flush(ctx context.Context) error {
	if p.failed != nil || len(p.pending) == 0 {
		return p.failed
	}
	pending := p.pending
	p.pending = nil
	b := &pgx.Batch{}
	for _, d := range pending {
		b.Queue(d.sql, d.args...)
	}
	p.n.Add(uint64(len(pending)))
	br := p.Tx.SendBatch(ctx, b)
	for _, d := range pending {
		tag, err := br.Exec()
		if err == nil && d.check != nil {
			err = d.check(tag)
		}
		if err != nil {
			p.failed = &deferredError{op: d.op, err: mapErr(err)}
			break
		}
	}
	if err := br.Close(); err != nil && p.failed == nil {
		p.failed = &deferredError{op: "deferred writes", err: mapErr(err)}
	}
	return p.failed
}

func (p *pipeTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if err := p.flush(ctx); err != nil {
		return pgconn.CommandTag{}, err
	}
	p.n.Add(1)
	return p.Tx.Exec(ctx, sql, args...)
}

func (p *pipeTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if err := p.flush(ctx); err != nil {
		return nil, err
	}
	p.n.Add(1)
	return p.Tx.Query(ctx, sql, args...)
}

func (p *pipeTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if err := p.flush(ctx); err != nil {
		return errRow{err}
	}
	p.n.Add(1)
	return p.Tx.QueryRow(ctx, sql, args...)
}

func (p *pipeTx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	if err := p.flush(ctx); err != nil {
		return errBatch{err: err}
	}
	p.n.Add(uint64(b.Len()))
	return p.Tx.SendBatch(ctx, b)
}

// errRow and errBatch carry a poisoned transaction's failure to a caller
// that expects a row or batch results.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

type errBatch struct {
	pgx.BatchResults // methods beyond these four are never called on it
	err              error
}

func (b errBatch) Exec() (pgconn.CommandTag, error) { return pgconn.CommandTag{}, b.err }
func (b errBatch) Query() (pgx.Rows, error)         { return nil, b.err }
func (b errBatch) QueryRow() pgx.Row                { return errRow{b.err} }
func (b errBatch) Close() error                     { return b.err }

// rowsAffected is a deferred write's check that it changed a row.
func rowsAffected(what string) func(pgconn.CommandTag) error {
	return func(tag pgconn.CommandTag) error {
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("%s: %w", what, store.ErrNotFound)
		}
		return nil
	}
}
