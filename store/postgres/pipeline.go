package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stewardhq/steward/store"
)

// pipeTx is a write transaction's connection. It counts the statements run
// on it (Store.Statements) and holds back writes whose outcome nothing in
// the transaction reads (queue): a ledger batch's entry inserts, block and
// account updates, audit and outbox inserts. They go to the server together,
// in one pipelined round trip, just before the next statement that is not
// deferred, or before the commit; and the rows of one kind go as one
// statement (bulk), whatever the number of calls that queued them. A batch
// of a hundred deducts is then a few statements in one round trip instead
// of several hundred, and the triggers that count its entries run once.
//
// A read in the same transaction sees every write made before it: whatever
// is deferred runs before the next statement. Within one flush the kinds go
// in a fixed order (bulkOrder) that puts every row after the rows it refers
// to, and each kind's rows in the order they were queued. What changes is
// where a deferred write's failure is reported: at the next statement or at
// the commit, not at the call that queued it. So a failure poisons the
// transaction: every later statement and the commit fail with it, whatever
// the caller that saw it first made of it, and the transaction rolls back
// whole. Deferred writes are therefore only those whose failure no caller
// handles other than by failing: never an insert whose unique violation
// answers a client.
type pipeTx struct {
	pgx.Tx
	n       *atomic.Uint64
	pending map[*bulk][][]any
	failed  error
}

// bulk is a kind of deferred write: sql takes one array per column ($1 the
// first column of every queued row, and so on), cast to its type.
type bulk struct {
	op  string
	sql string
	// what, for an update, names the row column 0 identifies ("credit
	// block"): of the rows queued for one, only the last is sent, and sql
	// returns the keys it updated, every one of which must be there.
	what string
}

// bulkOrder is the order a flush sends the kinds in: a block before the
// updates, entries and draws that name it, an entry before its draws.
var bulkOrder = []*bulk{bulkCreditBlocks, bulkBlockRemaining, bulkLedgerEntries, bulkCreditDraws,
	bulkCreditAccounts, bulkPendingAudit, bulkWebhookEvents}

// queue defers one row of kind k. A kind missing from bulkOrder would never
// be sent, its rows silently dropped: that is a programming error, refused
// at the first row.
func (p *pipeTx) queue(k *bulk, row ...any) {
	if !slices.Contains(bulkOrder, k) {
		panic("postgres: deferred write " + k.op + " is not in bulkOrder")
	}
	if p.pending == nil {
		p.pending = map[*bulk][][]any{}
	}
	p.pending[k] = append(p.pending[k], row)
}

// flush sends what was deferred, one statement per kind, in one round trip.
func (p *pipeTx) flush(ctx context.Context) error {
	if p.failed != nil || len(p.pending) == 0 {
		return p.failed
	}
	pending := p.pending
	p.pending = nil
	b := &pgx.Batch{}
	type sent struct {
		k    *bulk
		keys []any // an update's keys, each once
	}
	var order []sent
	for _, k := range bulkOrder {
		rows := pending[k]
		if len(rows) == 0 {
			continue
		}
		var keys []any
		if k.what != "" {
			rows = lastPerKey(rows)
			keys = make([]any, len(rows))
			for i, r := range rows {
				keys[i] = r[0]
			}
		}
		b.Queue(k.sql, columns(rows)...)
		order = append(order, sent{k, keys})
	}
	p.n.Add(uint64(len(order)))
	br := p.Tx.SendBatch(ctx, b)
	for _, s := range order {
		var err error
		if s.k.what == "" {
			_, err = br.Exec()
		} else {
			err = updatedAll(br, s.k.what, s.keys)
		}
		if err != nil {
			p.failed = &deferredError{op: s.k.op, err: mapErr(err)}
			break
		}
	}
	if err := br.Close(); err != nil && p.failed == nil {
		p.failed = &deferredError{op: "deferred writes", err: mapErr(err)}
	}
	return p.failed
}

// lastPerKey keeps, of the rows with one key (column 0), the last queued,
// in the order of the keys' first rows.
func lastPerKey(rows [][]any) [][]any {
	at := make(map[any]int, len(rows))
	out := rows[:0:0]
	for _, r := range rows {
		if i, ok := at[r[0]]; ok {
			out[i] = r
			continue
		}
		at[r[0]] = len(out)
		out = append(out, r)
	}
	return out
}

// columns turns rows into one array per column.
func columns(rows [][]any) []any {
	cols := make([]any, len(rows[0]))
	for c := range cols {
		col := make([]any, len(rows))
		for i, r := range rows {
			col[i] = r[c]
		}
		cols[c] = col
	}
	return cols
}

// updatedAll reads the keys an update returned: each of keys must be among
// them, or the row it names was not there.
func updatedAll(br pgx.BatchResults, what string, keys []any) error {
	rows, err := br.Query()
	if err != nil {
		return err
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	if len(got) == len(keys) {
		return nil
	}
	for _, k := range keys {
		if !slices.Contains(got, k.(string)) {
			return fmt.Errorf("%s %s: %w", what, k, store.ErrNotFound)
		}
	}
	return nil
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
