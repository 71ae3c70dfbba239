package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// Accounts. LockCreditAccount reads first and creates only on a miss: the
// single writer already excludes every other write transaction, so nothing
// can insert the row in between, and a ledger write costs one statement
// here once the tenant has an account.
const (
	creditAccountColumns   = "tenant_id, balance, last_seq, day_spent, day_start, month_spent, month_start, updated_at"
	getCreditAccountSQL    = "SELECT " + creditAccountColumns + " FROM credit_accounts WHERE tenant_id = ?"
	createCreditAccountSQL = "INSERT INTO credit_accounts (tenant_id, day_start, month_start, updated_at) " +
		"VALUES (?1, ?2, ?2, ?2) RETURNING " + creditAccountColumns
	updateCreditAccountSQL = "UPDATE credit_accounts SET balance = ?, last_seq = ?, day_spent = ?, day_start = ?, " +
		"month_spent = ?, month_start = ?, updated_at = ? WHERE tenant_id = ?"
)

func scanCreditAccount(sc scanner) (*steward.CreditAccount, error) {
	var (
		a                        steward.CreditAccount
		dayStart, month, updated int64
	)
	err := sc.Scan(&a.TenantID, &a.Balance, &a.LastSeq, &a.DaySpent, &dayStart, &a.MonthSpent, &month, &updated)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, store.ErrNotFound
		}
		return nil, err
	}
	a.DayStart, a.MonthStart, a.UpdatedAt = fromMicros(dayStart), fromMicros(month), fromMicros(updated)
	return &a, nil
}

func (q queries) GetCreditAccount(ctx context.Context, tenantID string) (*steward.CreditAccount, error) {
	a, err := scanCreditAccount(q.db.QueryRowContext(ctx, getCreditAccountSQL, tenantID))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("sqlite: get credit account: %w", err)
	}
	return a, err
}

// LockCreditAccount is one statement when the account exists, two when it
// creates it. The transaction already holds the database's write lock.
func (t *tx) LockCreditAccount(ctx context.Context, tenantID string, now time.Time) (*steward.CreditAccount, error) {
	a, err := scanCreditAccount(t.tx.QueryRowContext(ctx, getCreditAccountSQL, tenantID))
	if errors.Is(err, store.ErrNotFound) {
		a, err = scanCreditAccount(t.tx.QueryRowContext(ctx, createCreditAccountSQL, tenantID, micros(now)))
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: lock credit account: %w", mapError(err))
	}
	return a, nil
}

func (t *tx) UpdateCreditAccount(ctx context.Context, a *steward.CreditAccount) error {
	err := exactlyOne(t.tx.ExecContext(ctx, updateCreditAccountSQL, a.Balance, a.LastSeq, a.DaySpent, micros(a.DayStart),
		a.MonthSpent, micros(a.MonthStart), micros(a.UpdatedAt), a.TenantID))
	if err != nil {
		return fmt.Errorf("sqlite: update credit account: %w", err)
	}
	return nil
}

// Blocks. The open blocks of a tenant are few (its unspent grants), so
// ListCreditBlocks sorts them after a range of credit_blocks_open; SQLite
// puts NULL first in an index, and drawing order wants no expiry last. It
// names the index: the planner would otherwise take credit_blocks_tenant,
// which also holds every spent block the tenant ever had. ListLapsedBlocks
// walks credit_blocks_lapsing from the oldest expiry.
const (
	creditBlockColumns  = "id, tenant_id, amount, remaining, expires_at, created_at"
	listCreditBlocksSQL = "SELECT " + creditBlockColumns + " FROM credit_blocks INDEXED BY credit_blocks_open " +
		"WHERE tenant_id = ? AND remaining > 0 ORDER BY expires_at IS NULL, expires_at, id"
	listLapsedBlocksSQL = "SELECT " + creditBlockColumns + " FROM credit_blocks " +
		"WHERE remaining > 0 AND expires_at IS NOT NULL AND expires_at <= ? ORDER BY expires_at, id LIMIT ?"
	getCreditBlockSQL    = "SELECT " + creditBlockColumns + " FROM credit_blocks WHERE id = ?"
	insertCreditBlockSQL = "INSERT INTO credit_blocks (" + creditBlockColumns + ") VALUES (?, ?, ?, ?, ?, ?)"
	setBlockRemainingSQL = "UPDATE credit_blocks SET remaining = ? WHERE id = ?"
)

func scanCreditBlock(sc scanner) (*steward.CreditBlock, error) {
	var (
		b       steward.CreditBlock
		expires sql.NullInt64
		created int64
	)
	if err := sc.Scan(&b.ID, &b.TenantID, &b.Amount, &b.Remaining, &expires, &created); err != nil {
		return nil, err
	}
	b.ExpiresAt, b.CreatedAt = timePtr(expires), fromMicros(created)
	return &b, nil
}

func (q queries) ListCreditBlocks(ctx context.Context, tenantID string) ([]*steward.CreditBlock, error) {
	list, err := queryAll(ctx, q.db, scanCreditBlock, listCreditBlocksSQL, tenantID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list credit blocks: %w", err)
	}
	return list, nil
}

func (q queries) GetCreditBlock(ctx context.Context, id string) (*steward.CreditBlock, error) {
	b, err := scanCreditBlock(q.db.QueryRowContext(ctx, getCreditBlockSQL, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get credit block: %w", err)
	}
	return b, nil
}

func (q queries) ListLapsedBlocks(ctx context.Context, now time.Time, n int) ([]*steward.CreditBlock, error) {
	list, err := queryAll(ctx, q.db, scanCreditBlock, listLapsedBlocksSQL, micros(now), limit(n))
	if err != nil {
		return nil, fmt.Errorf("sqlite: list lapsed blocks: %w", err)
	}
	return list, nil
}

func (t *tx) InsertCreditBlock(ctx context.Context, b *steward.CreditBlock) error {
	_, err := t.tx.ExecContext(ctx, insertCreditBlockSQL, b.ID, b.TenantID, b.Amount, b.Remaining,
		nullMicros(b.ExpiresAt), micros(b.CreatedAt))
	if err != nil {
		return fmt.Errorf("sqlite: insert credit block: %w", mapError(err))
	}
	return nil
}

func (t *tx) SetBlockRemaining(ctx context.Context, blockID string, remaining int64) error {
	if err := exactlyOne(t.tx.ExecContext(ctx, setBlockRemainingSQL, remaining, blockID)); err != nil {
		return fmt.Errorf("sqlite: set block remaining: %w", err)
	}
	return nil
}

// Ledger entries. Every read returns entries with their draws in one
// statement, so an entry and its draws come from one snapshot: the entries
// (a page of them, at most) LEFT JOIN their draws, one row per draw (or one
// for an entry without any), by the draws' primary key (entry_id, ord).
var (
	ledgerEntryCols = []string{
		"id", "tenant_id", "seq", "kind", "amount", "balance_after", "description", "reason", "actor_type",
		"actor_id", "idempotency_key", "related_id", "block_id", "expires_at", "usage_event_id", "created_at",
	}
	ledgerEntryColumns = strings.Join(ledgerEntryCols, ", ")
	insertLedgerSQL    = "INSERT INTO credit_entries (" + ledgerEntryColumns + ") VALUES (?" +
		strings.Repeat(", ?", len(ledgerEntryCols)-1) + ")"
	// ledgerWithDrawsSQL selects the columns scanLedgerRows reads, from
	// entries e and draws d.
	ledgerWithDrawsSQL = "SELECT e." + strings.Join(ledgerEntryCols, ", e.") + ", d.block_id, d.amount FROM "
	getLedgerEntrySQL  = ledgerWithDrawsSQL +
		"credit_entries e LEFT JOIN credit_draws d ON d.entry_id = e.id WHERE e.id = ? ORDER BY d.ord"
	// getLedgerEntryByKeySQL repeats the partial index's condition so that
	// the planner may use credit_entries_idempotency.
	getLedgerEntryByKeySQL = ledgerWithDrawsSQL + "credit_entries e LEFT JOIN credit_draws d ON d.entry_id = e.id " +
		"WHERE e.tenant_id = ? AND e.idempotency_key = ? AND e.idempotency_key <> '' ORDER BY d.ord"
	// refundedAmountSQL likewise for credit_entries_related.
	refundedAmountSQL = "SELECT coalesce(sum(amount), 0) FROM credit_entries " +
		"WHERE related_id = ? AND related_id <> '' AND kind = 'refund'"
)

// maxDrawRows bounds the rows of one INSERT of draws, well inside SQLite's
// limit of 32,766 parameters.
const maxDrawRows = 500

// insertDrawsSQL inserts n draws; the texts for a few draws, which most
// entries have, are made once and prepared (see writePathSQL).
func insertDrawsSQL(n int) string {
	if n < len(fewDrawsSQL) {
		return fewDrawsSQL[n]
	}
	return makeInsertDrawsSQL(n)
}

func makeInsertDrawsSQL(n int) string {
	return "INSERT INTO credit_draws (entry_id, ord, block_id, amount) VALUES (?, ?, ?, ?)" +
		strings.Repeat(", (?, ?, ?, ?)", n-1)
}

var fewDrawsSQL = func() []string {
	texts := make([]string, 5)
	for n := 1; n < len(texts); n++ {
		texts[n] = makeInsertDrawsSQL(n)
	}
	return texts
}()

// writePathSQL are the statements of a ledger write and a usage record,
// which the writer prepares once (see Store.prepareWrites): the service
// reads the tenant, locks its account, reads its blocks, and writes the
// entry, its draws, the blocks and the account.
var writePathSQL = append([]string{
	getTenantSQL, getCreditAccountSQL, updateCreditAccountSQL, listCreditBlocksSQL, getCreditBlockSQL,
	setBlockRemainingSQL, insertCreditBlockSQL, insertLedgerSQL, getLedgerEntrySQL, getLedgerEntryByKeySQL,
	refundedAmountSQL, insertUsageEventSQL, getUsageEventSQL, insertAuditSQL,
}, fewDrawsSQL[1:]...)

// scanLedgerRows reads the rows of a ledgerWithDrawsSQL query, in which an
// entry's rows are adjacent and its draws in order; never nil, and each
// entry's Draws is empty rather than nil when it has none.
func scanLedgerRows(rows *sql.Rows) ([]*steward.LedgerEntry, error) {
	defer rows.Close()
	out := []*steward.LedgerEntry{}
	for rows.Next() {
		var (
			e          steward.LedgerEntry
			expires    sql.NullInt64
			created    int64
			drawBlock  sql.NullString
			drawAmount sql.NullInt64
		)
		err := rows.Scan(&e.ID, &e.TenantID, &e.Seq, &e.Kind, &e.Amount, &e.BalanceAfter, &e.Description, &e.Reason,
			&e.ActorType, &e.ActorID, &e.IdempotencyKey, &e.RelatedID, &e.BlockID, &expires, &e.UsageEventID,
			&created, &drawBlock, &drawAmount)
		if err != nil {
			return nil, err
		}
		last := len(out) - 1
		if last < 0 || out[last].ID != e.ID {
			e.ExpiresAt, e.CreatedAt, e.Draws = timePtr(expires), fromMicros(created), []steward.Draw{}
			out = append(out, &e)
			last++
		}
		if drawBlock.Valid {
			out[last].Draws = append(out[last].Draws, steward.Draw{BlockID: drawBlock.String, Amount: drawAmount.Int64})
		}
	}
	return out, rows.Err()
}

func (q queries) getLedgerEntry(ctx context.Context, query string, args ...any) (*steward.LedgerEntry, error) {
	rows, err := q.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: get ledger entry: %w", err)
	}
	list, err := scanLedgerRows(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlite: get ledger entry: %w", err)
	}
	if len(list) == 0 {
		return nil, store.ErrNotFound
	}
	return list[0], nil
}

func (q queries) GetLedgerEntry(ctx context.Context, id string) (*steward.LedgerEntry, error) {
	return q.getLedgerEntry(ctx, getLedgerEntrySQL, id)
}

// GetLedgerEntryByKey finds nothing for the empty key, which is no key.
func (q queries) GetLedgerEntryByKey(ctx context.Context, tenantID, key string) (*steward.LedgerEntry, error) {
	if key == "" {
		return nil, store.ErrNotFound
	}
	return q.getLedgerEntry(ctx, getLedgerEntryByKeySQL, tenantID, key)
}

// listLedgerSQL selects a page of entries in a subquery, which walks
// (tenant_id, seq) or, with a kind, (tenant_id, kind, seq) backwards, and
// joins their draws.
func listLedgerSQL(f steward.LedgerFilter) (string, []any) {
	where, args := []string{"tenant_id = ?"}, []any{f.TenantID}
	if f.Kind != "" {
		where = append(where, "kind = ?")
		args = append(args, string(f.Kind))
	}
	if f.Since != nil {
		where = append(where, "created_at >= ?")
		args = append(args, micros(*f.Since))
	}
	if f.Until != nil {
		where = append(where, "created_at < ?")
		args = append(args, micros(*f.Until))
	}
	if f.BeforeSeq > 0 {
		where = append(where, "seq < ?")
		args = append(args, f.BeforeSeq)
	}
	page := "SELECT " + ledgerEntryColumns + " FROM credit_entries" + whereClause(where) + " ORDER BY seq DESC LIMIT ?"
	return ledgerWithDrawsSQL + "(" + page + ") e LEFT JOIN credit_draws d ON d.entry_id = e.id ORDER BY e.seq DESC, d.ord",
		append(args, limit(f.Limit))
}

// ListLedger needs a tenant: seq orders one tenant's entries only.
func (q queries) ListLedger(ctx context.Context, f steward.LedgerFilter) ([]*steward.LedgerEntry, error) {
	if f.TenantID == "" {
		return nil, errors.New("sqlite: list ledger: no tenant")
	}
	query, args := listLedgerSQL(f)
	rows, err := q.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list ledger: %w", err)
	}
	list, err := scanLedgerRows(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list ledger: %w", err)
	}
	return list, nil
}

func (q queries) RefundedAmount(ctx context.Context, deductID string) (int64, error) {
	if deductID == "" {
		return 0, nil
	}
	var n int64
	if err := q.db.QueryRowContext(ctx, refundedAmountSQL, deductID).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: refunded amount: %w", err)
	}
	return n, nil
}

// ledgerTotalsSQL reads every account, entry and block once. In the
// entries' aggregate, balance_after is a bare column beside the one max():
// SQLite takes it from the row holding max(seq), the tenant's newest entry.
const ledgerTotalsSQL = `SELECT t.tenant_id, coalesce(a.balance, 0), coalesce(e.total, 0), coalesce(b.total, 0),
	coalesce(e.last, 0), coalesce(b.negative, 0)
FROM (SELECT tenant_id FROM credit_accounts
	UNION SELECT tenant_id FROM credit_entries
	UNION SELECT tenant_id FROM credit_blocks) t
LEFT JOIN credit_accounts a ON a.tenant_id = t.tenant_id
LEFT JOIN (SELECT tenant_id, sum(amount) AS total, balance_after AS last, max(seq) FROM credit_entries
	GROUP BY tenant_id) e ON e.tenant_id = t.tenant_id
LEFT JOIN (SELECT tenant_id, sum(remaining) AS total, sum(remaining < 0) AS negative FROM credit_blocks
	GROUP BY tenant_id) b ON b.tenant_id = t.tenant_id
ORDER BY t.tenant_id`

func (q queries) LedgerTotals(ctx context.Context) ([]steward.LedgerTotals, error) {
	list, err := queryAll(ctx, q.db, func(sc scanner) (steward.LedgerTotals, error) {
		var x steward.LedgerTotals
		err := sc.Scan(&x.TenantID, &x.Account, &x.Entries, &x.Blocks, &x.LastBalance, &x.NegativeBlocks)
		return x, err
	}, ledgerTotalsSQL)
	if err != nil {
		return nil, fmt.Errorf("sqlite: ledger totals: %w", err)
	}
	return list, nil
}

// InsertLedgerEntry is one statement for the entry and one for its draws
// (none without draws; one more per maxDrawRows draws).
func (t *tx) InsertLedgerEntry(ctx context.Context, e *steward.LedgerEntry) error {
	_, err := t.tx.ExecContext(ctx, insertLedgerSQL, e.ID, e.TenantID, e.Seq, string(e.Kind), e.Amount, e.BalanceAfter,
		e.Description, e.Reason, e.ActorType, e.ActorID, e.IdempotencyKey, e.RelatedID, e.BlockID,
		nullMicros(e.ExpiresAt), e.UsageEventID, micros(e.CreatedAt))
	if err != nil {
		return fmt.Errorf("sqlite: insert ledger entry: %w", mapError(err))
	}
	for start := 0; start < len(e.Draws); start += maxDrawRows {
		chunk := e.Draws[start:min(start+maxDrawRows, len(e.Draws))]
		args := make([]any, 0, 4*len(chunk))
		for i, d := range chunk {
			args = append(args, e.ID, start+i, d.BlockID, d.Amount)
		}
		if _, err := t.tx.ExecContext(ctx, insertDrawsSQL(len(chunk)), args...); err != nil {
			return fmt.Errorf("sqlite: insert ledger draws: %w", mapError(err))
		}
	}
	return nil
}

// Usage events.
const (
	usageEventColumns = "tenant_id, id, user_id, metric, quantity, credits, cost_micros, model, occurred_at, " +
		"recorded_at, transaction_id"
	insertUsageEventSQL = "INSERT INTO usage_events (" + usageEventColumns + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
	getUsageEventSQL    = "SELECT " + usageEventColumns + " FROM usage_events WHERE tenant_id = ? AND id = ?"
)

func (q queries) GetUsageEvent(ctx context.Context, tenantID, id string) (*steward.UsageEvent, error) {
	var (
		e                  steward.UsageEvent
		occurred, recorded int64
	)
	err := q.db.QueryRowContext(ctx, getUsageEventSQL, tenantID, id).Scan(&e.TenantID, &e.ID, &e.UserID, &e.Metric,
		&e.Quantity, &e.Credits, &e.CostMicros, &e.Model, &occurred, &recorded, &e.TransactionID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get usage event: %w", err)
	}
	e.OccurredAt, e.RecordedAt = fromMicros(occurred), fromMicros(recorded)
	return &e, nil
}

func (t *tx) InsertUsageEvent(ctx context.Context, e *steward.UsageEvent) error {
	_, err := t.tx.ExecContext(ctx, insertUsageEventSQL, e.TenantID, e.ID, e.UserID, e.Metric, e.Quantity, e.Credits,
		e.CostMicros, e.Model, micros(e.OccurredAt), micros(e.RecordedAt), e.TransactionID)
	if err != nil {
		return fmt.Errorf("sqlite: insert usage event: %w", mapError(err))
	}
	return nil
}

// usageGroupColumns is the column behind each UsageGroup; nothing else is
// ever put into the statement's text.
var usageGroupColumns = map[steward.UsageGroup]string{
	steward.UsageByTenant: "tenant_id",
	steward.UsageByUser:   "user_id",
	steward.UsageByMetric: "metric",
	steward.UsageByModel:  "model",
}

// aggregateUsageSQL reads the window from usage_events_occurred, or with a
// tenant from usage_events_tenant_occurred, and sorts the groups.
func aggregateUsageSQL(q steward.UsageQuery) (string, []any, error) {
	col, ok := usageGroupColumns[q.GroupBy]
	if !ok {
		return "", nil, fmt.Errorf("sqlite: aggregate usage: unknown group %q", q.GroupBy)
	}
	where, args := "occurred_at >= ? AND occurred_at < ?", []any{micros(q.Start), micros(q.End)}
	if q.TenantID != "" {
		where, args = "tenant_id = ? AND "+where, append([]any{q.TenantID}, args...)
	}
	return "SELECT " + col + ", count(*), sum(quantity), sum(credits), sum(cost_micros) FROM usage_events WHERE " +
		where + " GROUP BY " + col + " ORDER BY 4 DESC, 1", args, nil
}

func (q queries) AggregateUsage(ctx context.Context, uq steward.UsageQuery) ([]steward.UsageRow, error) {
	query, args, err := aggregateUsageSQL(uq)
	if err != nil {
		return nil, err
	}
	list, err := queryAll(ctx, q.db, func(sc scanner) (steward.UsageRow, error) {
		var r steward.UsageRow
		err := sc.Scan(&r.Key, &r.Events, &r.Quantity, &r.Credits, &r.CostMicros)
		return r, err
	}, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: aggregate usage: %w", err)
	}
	return list, nil
}

// LockCreditLedgers reads each tenant in turn: the transaction already holds
// the only writer, so there is no lock order to keep and no round trip to
// save.
func (t *tx) LockCreditLedgers(ctx context.Context, tenantIDs []string, now time.Time) ([]*store.CreditLedger, error) {
	ids := slices.Clone(tenantIDs)
	slices.Sort(ids)
	out := make([]*store.CreditLedger, 0, len(ids))
	for _, id := range slices.Compact(ids) {
		tn, err := t.GetTenant(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		l := &store.CreditLedger{Tenant: tn}
		if l.Account, err = t.LockCreditAccount(ctx, id, now); err != nil {
			return nil, err
		}
		if l.Blocks, err = t.ListCreditBlocks(ctx, id); err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}
