package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// Accounts. LockCreditAccount locks the row with SELECT … FOR UPDATE, which
// at READ COMMITTED waits for a holder to commit and then returns the row
// as it committed it. Only when there is no row does it run the upsert:
// ON CONFLICT DO UPDATE inserts the row, or, when another transaction
// inserted it meanwhile (invisible to the SELECT), waits for that one and
// locks the committed row, returning it. The no-op SET is what makes the
// conflict lock and return the row; DO NOTHING would do neither.
const (
	creditAccountCols      = "tenant_id, balance, last_seq, day_spent, day_start, month_spent, month_start, updated_at"
	lockCreditAccountSQL   = "SELECT " + creditAccountCols + " FROM credit_accounts WHERE tenant_id = $1 FOR UPDATE"
	upsertCreditAccountSQL = `INSERT INTO credit_accounts (tenant_id, day_start, month_start, updated_at)
	VALUES ($1, $2, $2, $2)
	ON CONFLICT (tenant_id) DO UPDATE SET updated_at = credit_accounts.updated_at
	RETURNING ` + creditAccountCols
)

// The ledger's deferred writes (pipeline.go), in bulk.
var (
	bulkCreditAccounts = &bulk{op: "update credit account", what: "credit account", sql: `UPDATE credit_accounts a SET
		balance = u.balance, last_seq = u.last_seq, day_spent = u.day_spent, day_start = u.day_start,
		month_spent = u.month_spent, month_start = u.month_start, updated_at = u.updated_at
	FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::timestamptz[], $6::bigint[],
		$7::timestamptz[], $8::timestamptz[])
		AS u (tenant_id, balance, last_seq, day_spent, day_start, month_spent, month_start, updated_at)
	WHERE a.tenant_id = u.tenant_id RETURNING a.tenant_id`}
	bulkCreditBlocks = &bulk{op: "insert credit block", sql: "INSERT INTO credit_blocks (" + creditBlockCols + `)
	SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::timestamptz[], $6::timestamptz[])`}
	bulkBlockRemaining = &bulk{op: "set block remaining", what: "credit block", sql: `UPDATE credit_blocks b
	SET remaining = u.remaining FROM unnest($1::text[], $2::bigint[]) AS u (id, remaining)
	WHERE b.id = u.id RETURNING b.id`}
	// Entries come out of unnest in the order queued, so a batch's rows
	// are inserted in seq order.
	bulkLedgerEntries = &bulk{op: "insert ledger entry", sql: "INSERT INTO credit_entries (" + ledgerEntryCols + `)
	SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::bigint[], $6::bigint[], $7::text[],
		$8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::timestamptz[], $15::text[],
		$16::timestamptz[])`}
	bulkCreditDraws = &bulk{op: "insert ledger entry", sql: `INSERT INTO credit_draws (entry_id, ord, block_id, amount)
	SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::bigint[])`}
)

func scanCreditAccount(row pgx.Row) (*steward.CreditAccount, error) {
	var a steward.CreditAccount
	if err := row.Scan(&a.TenantID, &a.Balance, &a.LastSeq, &a.DaySpent, &a.DayStart, &a.MonthSpent, &a.MonthStart,
		&a.UpdatedAt); err != nil {
		return nil, mapErr(err)
	}
	a.DayStart, a.MonthStart, a.UpdatedAt = a.DayStart.UTC(), a.MonthStart.UTC(), a.UpdatedAt.UTC()
	return &a, nil
}

// GetCreditAccount does not lock, inside a transaction or not:
// LockCreditAccount is the lock.
func (q *queries) GetCreditAccount(ctx context.Context, tenantID string) (_ *steward.CreditAccount, err error) {
	defer wrapErr(&err, "get credit account")
	return scanCreditAccount(q.q.QueryRow(ctx, "SELECT "+creditAccountCols+" FROM credit_accounts WHERE tenant_id = $1",
		tenantID))
}

// ledgerPlansSQL rules sequential scans out for the rest of a transaction
// that writes the ledger, before it writes anything. Every insert of a
// draw checks its entry and its block through their foreign keys, and
// PostgreSQL plans each check once per connection and keeps the plan: a
// connection whose first checks ran while credit_entries held a few rows
// (a new database, its first grants) kept a sequential scan, and went on
// scanning the whole table for every draw as it grew to millions of rows,
// until an autovacuum analyze happened to invalidate the plan. One such
// batch held its tenants' locks for half a second, and every other
// replica's batches queued behind it. Everything a ledger transaction
// reads is by key, which index scans serve at any size
// (TestLedgerChecksUseIndexes).
const ledgerPlansSQL = "SELECT set_config('enable_seqscan', 'off', true)"

// LockCreditAccount is two statements when the account exists, three when
// it creates it.
func (t *tx) LockCreditAccount(ctx context.Context, tenantID string, now time.Time) (_ *steward.CreditAccount, err error) {
	defer wrapErr(&err, "lock credit account")
	if _, err := t.q.Exec(ctx, ledgerPlansSQL); err != nil {
		return nil, mapErr(err)
	}
	a, err := scanCreditAccount(t.q.QueryRow(ctx, lockCreditAccountSQL, tenantID))
	if errors.Is(err, store.ErrNotFound) {
		a, err = scanCreditAccount(t.q.QueryRow(ctx, upsertCreditAccountSQL, tenantID, now))
	}
	if err != nil {
		return nil, err
	}
	return a, nil
}

// UpdateCreditAccount is deferred (pipeline.go): the account is locked, so
// the row is there; were it not, the transaction fails at its next statement
// or commit.
func (t *tx) UpdateCreditAccount(ctx context.Context, a *steward.CreditAccount) error {
	t.pipe.queue(bulkCreditAccounts, a.TenantID, a.Balance, a.LastSeq, a.DaySpent, a.DayStart, a.MonthSpent, a.MonthStart, a.UpdatedAt)
	return nil
}

// Blocks. ListCreditBlocks reads credit_blocks_open in its own order:
// ascending puts NULL (no expiry) last. ListLapsedBlocks walks
// credit_blocks_lapsing from the oldest expiry.
const creditBlockCols = "id, tenant_id, amount, remaining, expires_at, created_at"

func scanCreditBlock(row pgx.Row) (*steward.CreditBlock, error) {
	var b steward.CreditBlock
	if err := row.Scan(&b.ID, &b.TenantID, &b.Amount, &b.Remaining, &b.ExpiresAt, &b.CreatedAt); err != nil {
		return nil, mapErr(err)
	}
	b.ExpiresAt, b.CreatedAt = utcPtr(b.ExpiresAt), b.CreatedAt.UTC()
	return &b, nil
}

func (q *queries) ListCreditBlocks(ctx context.Context, tenantID string) (_ []*steward.CreditBlock, err error) {
	defer wrapErr(&err, "list credit blocks")
	rows, err := q.q.Query(ctx, "SELECT "+creditBlockCols+` FROM credit_blocks
		WHERE tenant_id = $1 AND open ORDER BY expires_at ASC NULLS LAST, id`, tenantID)
	return collectAll(rows, err, scanCreditBlock)
}

// GetCreditBlock locks the block inside a transaction, like every Get*.
func (q *queries) GetCreditBlock(ctx context.Context, id string) (_ *steward.CreditBlock, err error) {
	defer wrapErr(&err, "get credit block")
	return scanCreditBlock(q.q.QueryRow(ctx, "SELECT "+creditBlockCols+" FROM credit_blocks WHERE id = $1"+q.forUpdate(), id))
}

func (q *queries) ListLapsedBlocks(ctx context.Context, now time.Time, limit int) (_ []*steward.CreditBlock, err error) {
	defer wrapErr(&err, "list lapsed blocks")
	rows, err := q.q.Query(ctx, "SELECT "+creditBlockCols+` FROM credit_blocks
		WHERE open AND expires_at IS NOT NULL AND expires_at <= $1 ORDER BY expires_at, id LIMIT $2`,
		now, pageLimit(limit))
	return collectAll(rows, err, scanCreditBlock)
}

// InsertCreditBlock and SetBlockRemaining are deferred (pipeline.go): a
// block's id is its entry's, new, and the blocks a ledger write changes are
// those it read under the tenant's lock.
func (t *tx) InsertCreditBlock(ctx context.Context, b *steward.CreditBlock) error {
	t.pipe.queue(bulkCreditBlocks, b.ID, b.TenantID, b.Amount, b.Remaining, b.ExpiresAt, b.CreatedAt)
	return nil
}

func (t *tx) SetBlockRemaining(ctx context.Context, blockID string, remaining int64) error {
	t.pipe.queue(bulkBlockRemaining, blockID, remaining)
	return nil
}

// Ledger entries. Every read returns entries with their draws in one
// statement, so an entry and its draws come from one snapshot: the entries
// (a page of them, at most) LEFT JOIN their draws, one row per draw (or one
// for an entry without any), by the draws' primary key (entry_id, ord).
// Entries are never updated and LockCreditAccount serialises a tenant's
// ledger, so the reads do not lock, inside a transaction or not.
const (
	ledgerEntryCols = `id, tenant_id, seq, kind, amount, balance_after, description, reason, actor_type, actor_id,
	idempotency_key, related_id, block_id, expires_at, usage_event_id, created_at`
	// ledgerWithDrawsSQL selects the columns scanLedgerRows reads, from
	// entries e and draws d.
	ledgerWithDrawsSQL = `SELECT e.id, e.tenant_id, e.seq, e.kind, e.amount, e.balance_after, e.description, e.reason,
	e.actor_type, e.actor_id, e.idempotency_key, e.related_id, e.block_id, e.expires_at, e.usage_event_id,
	e.created_at, d.block_id, d.amount FROM `
)

// scanLedgerRows reads the rows of a ledgerWithDrawsSQL query, in which an
// entry's rows are adjacent and its draws in order; never nil, and each
// entry's Draws is empty rather than nil when it has none.
func scanLedgerRows(rows pgx.Rows, err error) ([]*steward.LedgerEntry, error) {
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	out := []*steward.LedgerEntry{}
	for rows.Next() {
		var (
			e          steward.LedgerEntry
			kind       string
			drawBlock  *string
			drawAmount *int64
		)
		err := rows.Scan(&e.ID, &e.TenantID, &e.Seq, &kind, &e.Amount, &e.BalanceAfter, &e.Description, &e.Reason,
			&e.ActorType, &e.ActorID, &e.IdempotencyKey, &e.RelatedID, &e.BlockID, &e.ExpiresAt, &e.UsageEventID,
			&e.CreatedAt, &drawBlock, &drawAmount)
		if err != nil {
			return nil, mapErr(err)
		}
		last := len(out) - 1
		if last < 0 || out[last].ID != e.ID {
			e.Kind, e.ExpiresAt, e.CreatedAt, e.Draws = steward.LedgerKind(kind), utcPtr(e.ExpiresAt), e.CreatedAt.UTC(),
				[]steward.Draw{}
			out = append(out, &e)
			last++
		}
		if drawBlock != nil && drawAmount != nil {
			out[last].Draws = append(out[last].Draws, steward.Draw{BlockID: *drawBlock, Amount: *drawAmount})
		}
	}
	return out, mapErr(rows.Err())
}

func (q *queries) getLedgerEntry(ctx context.Context, query string, args ...any) (*steward.LedgerEntry, error) {
	list, err := scanLedgerRows(q.q.Query(ctx, query, args...))
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, store.ErrNotFound
	}
	return list[0], nil
}

func (q *queries) GetLedgerEntry(ctx context.Context, id string) (_ *steward.LedgerEntry, err error) {
	defer wrapErr(&err, "get ledger entry")
	return q.getLedgerEntry(ctx, ledgerWithDrawsSQL+
		"credit_entries e LEFT JOIN credit_draws d ON d.entry_id = e.id WHERE e.id = $1 ORDER BY d.ord", id)
}

// GetLedgerEntryByKey finds nothing for the empty key, which is no key. The
// query repeats the partial index's condition, so that a generic plan may
// use credit_entries_idempotency_key.
func (q *queries) GetLedgerEntryByKey(ctx context.Context, tenantID, key string) (_ *steward.LedgerEntry, err error) {
	defer wrapErr(&err, "get ledger entry by key")
	if key == "" {
		return nil, store.ErrNotFound
	}
	return q.getLedgerEntry(ctx, ledgerWithDrawsSQL+"credit_entries e LEFT JOIN credit_draws d ON d.entry_id = e.id "+
		"WHERE e.tenant_id = $1 AND e.idempotency_key = $2 AND e.idempotency_key <> '' ORDER BY d.ord", tenantID, key)
}

// ListLedger selects a page of entries in a subquery, which walks
// (tenant_id, seq) or, with a kind, (tenant_id, kind, seq) backwards, and
// joins their draws. It needs a tenant: seq orders one tenant's entries
// only.
func (q *queries) ListLedger(ctx context.Context, f steward.LedgerFilter) (_ []*steward.LedgerEntry, err error) {
	defer wrapErr(&err, "list ledger")
	if f.TenantID == "" {
		return nil, errors.New("postgres: list ledger: no tenant")
	}
	w := &where{}
	w.add("tenant_id = " + w.arg(f.TenantID))
	if f.Kind != "" {
		w.add("kind = " + w.arg(string(f.Kind)))
	}
	if f.Since != nil {
		w.add("created_at >= " + w.arg(*f.Since))
	}
	if f.Until != nil {
		w.add("created_at < " + w.arg(*f.Until))
	}
	if f.BeforeSeq > 0 {
		w.add("seq < " + w.arg(f.BeforeSeq))
	}
	page := "SELECT " + ledgerEntryCols + " FROM credit_entries" + w.String() +
		" ORDER BY seq DESC LIMIT " + w.arg(pageLimit(f.Limit))
	return scanLedgerRows(q.q.Query(ctx, ledgerWithDrawsSQL+"("+page+
		") e LEFT JOIN credit_draws d ON d.entry_id = e.id ORDER BY e.seq DESC, d.ord", w.args...))
}

// RefundedAmount repeats the partial index's condition for
// credit_entries_related.
func (q *queries) RefundedAmount(ctx context.Context, deductID string) (_ int64, err error) {
	defer wrapErr(&err, "refunded amount")
	if deductID == "" {
		return 0, nil
	}
	var n int64
	err = q.q.QueryRow(ctx, `SELECT coalesce(sum(amount), 0)::bigint FROM credit_entries
		WHERE related_id = $1 AND related_id <> '' AND kind = 'refund'`, deductID).Scan(&n)
	return n, mapErr(err)
}

// ledgerTotalsSQL reads every account, entry and block once; the newest
// entry of each tenant comes from a backward walk of (tenant_id, seq).
const ledgerTotalsSQL = `SELECT t.tenant_id, coalesce(a.balance, 0), coalesce(e.total, 0), coalesce(b.total, 0),
	coalesce(l.balance_after, 0), coalesce(b.negative, 0)
FROM (SELECT tenant_id FROM credit_accounts
	UNION SELECT tenant_id FROM credit_entries
	UNION SELECT tenant_id FROM credit_blocks) t
LEFT JOIN credit_accounts a ON a.tenant_id = t.tenant_id
LEFT JOIN (SELECT tenant_id, sum(amount)::bigint AS total FROM credit_entries GROUP BY tenant_id) e
	ON e.tenant_id = t.tenant_id
LEFT JOIN (SELECT DISTINCT ON (tenant_id) tenant_id, balance_after FROM credit_entries
	ORDER BY tenant_id, seq DESC) l ON l.tenant_id = t.tenant_id
LEFT JOIN (SELECT tenant_id, sum(remaining)::bigint AS total, count(*) FILTER (WHERE remaining < 0) AS negative
	FROM credit_blocks GROUP BY tenant_id) b ON b.tenant_id = t.tenant_id
ORDER BY t.tenant_id`

func (q *queries) LedgerTotals(ctx context.Context) (_ []steward.LedgerTotals, err error) {
	defer wrapErr(&err, "ledger totals")
	rows, err := q.q.Query(ctx, ledgerTotalsSQL)
	return collectAll(rows, err, func(row pgx.Row) (steward.LedgerTotals, error) {
		var x steward.LedgerTotals
		err := row.Scan(&x.TenantID, &x.Account, &x.Entries, &x.Blocks, &x.LastBalance, &x.NegativeBlocks)
		return x, mapErr(err)
	})
}

// InsertLedgerEntry is deferred (pipeline.go), its draws after it: a
// repeated idempotency key is found by the replay read under the tenant's
// lock before any insert.
func (t *tx) InsertLedgerEntry(ctx context.Context, e *steward.LedgerEntry) error {
	t.pipe.queue(bulkLedgerEntries, e.ID, e.TenantID, e.Seq, string(e.Kind), e.Amount, e.BalanceAfter,
		e.Description, e.Reason, e.ActorType, e.ActorID, e.IdempotencyKey, e.RelatedID, e.BlockID, e.ExpiresAt, e.UsageEventID,
		e.CreatedAt)
	for i, d := range e.Draws {
		t.pipe.queue(bulkCreditDraws, e.ID, int32(i), d.BlockID, d.Amount)
	}
	return nil
}

// Usage events.
const usageEventCols = `tenant_id, id, user_id, metric, quantity, credits, cost_micros, model, occurred_at,
	recorded_at, transaction_id`

// GetUsageEvent does not lock: events are never updated.
func (q *queries) GetUsageEvent(ctx context.Context, tenantID, id string) (_ *steward.UsageEvent, err error) {
	defer wrapErr(&err, "get usage event")
	var e steward.UsageEvent
	err = q.q.QueryRow(ctx, "SELECT "+usageEventCols+" FROM usage_events WHERE tenant_id = $1 AND id = $2",
		tenantID, id).Scan(&e.TenantID, &e.ID, &e.UserID, &e.Metric, &e.Quantity, &e.Credits, &e.CostMicros, &e.Model,
		&e.OccurredAt, &e.RecordedAt, &e.TransactionID)
	if err != nil {
		return nil, mapErr(err)
	}
	e.OccurredAt, e.RecordedAt = e.OccurredAt.UTC(), e.RecordedAt.UTC()
	return &e, nil
}

func (t *tx) InsertUsageEvent(ctx context.Context, e *steward.UsageEvent) (err error) {
	defer wrapErr(&err, "insert usage event")
	_, err = t.q.Exec(ctx, "INSERT INTO usage_events ("+usageEventCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		e.TenantID, e.ID, e.UserID, e.Metric, e.Quantity, e.Credits, e.CostMicros, e.Model, e.OccurredAt, e.RecordedAt,
		e.TransactionID)
	return mapErr(err)
}

// usageGroupColumns is the column behind each UsageGroup; nothing else is
// ever put into the statement's text.
var usageGroupColumns = map[steward.UsageGroup]string{
	steward.UsageByTenant: "tenant_id",
	steward.UsageByUser:   "user_id",
	steward.UsageByMetric: "metric",
	steward.UsageByModel:  "model",
}

// AggregateUsage reads the window from usage_events_occurred, or with a
// tenant from usage_events_tenant_occurred, and sorts the groups. Keys sort
// bytewise (COLLATE "C"), as on SQLite, whatever the database's collation.
func (q *queries) AggregateUsage(ctx context.Context, uq steward.UsageQuery) (_ []steward.UsageRow, err error) {
	defer wrapErr(&err, "aggregate usage")
	col, ok := usageGroupColumns[uq.GroupBy]
	if !ok {
		return nil, fmt.Errorf("unknown group %q", uq.GroupBy)
	}
	w := &where{}
	if uq.TenantID != "" {
		w.add("tenant_id = " + w.arg(uq.TenantID))
	}
	w.add("occurred_at >= " + w.arg(uq.Start))
	w.add("occurred_at < " + w.arg(uq.End))
	rows, err := q.q.Query(ctx, "SELECT "+col+", count(*), sum(quantity)::bigint, sum(credits)::bigint, "+
		"sum(cost_micros)::bigint FROM usage_events"+w.String()+" GROUP BY "+col+
		" ORDER BY 4 DESC, "+col+` COLLATE "C"`, w.args...)
	return collectAll(rows, err, func(row pgx.Row) (steward.UsageRow, error) {
		var r steward.UsageRow
		err := row.Scan(&r.Key, &r.Events, &r.Quantity, &r.Credits, &r.CostMicros)
		return r, mapErr(err)
	})
}

const lockCreditAccountsSQL = "SELECT " + creditAccountCols +
	" FROM credit_accounts WHERE tenant_id = ANY($1) ORDER BY tenant_id FOR UPDATE"

// sendLedgerLocks sends LockCreditLedgers' batch and reads its answers.
func (t *tx) sendLedgerLocks(ctx context.Context, b *pgx.Batch) (tenants []*steward.Tenant,
	accounts []*steward.CreditAccount, blocks []*steward.CreditBlock, err error) {
	br := t.q.(batcher).SendBatch(ctx, b)
	defer func() {
		if cerr := br.Close(); err == nil {
			err = mapErr(cerr)
		}
	}()
	if _, err := br.Exec(); err != nil {
		return nil, nil, nil, mapErr(err)
	}
	rows, err := br.Query()
	if tenants, err = collectAll(rows, err, scanTenant); err != nil {
		return nil, nil, nil, err
	}
	rows, err = br.Query()
	if accounts, err = collectAll(rows, err, scanCreditAccount); err != nil {
		return nil, nil, nil, err
	}
	rows, err = br.Query()
	if blocks, err = collectAll(rows, err, scanCreditBlock); err != nil {
		return nil, nil, nil, err
	}
	return tenants, accounts, blocks, nil
}

// LockCreditLedgers sends its statements in one pipelined batch (one
// round trip whatever the number of tenants): the plan setting, the
// tenants, their accounts, their open blocks. FOR UPDATE under ORDER BY
// locks rows in the sorted order. Tenants without an account yet (their
// first ledger write) cost a second round trip, which creates the missing
// accounts and locks them; ON CONFLICT DO NOTHING waits for a concurrent
// creator, and the SELECT that follows, a statement of its own at READ
// COMMITTED, then sees its row.
func (t *tx) LockCreditLedgers(ctx context.Context, tenantIDs []string, now time.Time) (_ []*store.CreditLedger, err error) {
	defer wrapErr(&err, "lock credit ledgers")
	ids := slices.Clone(tenantIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	b := &pgx.Batch{}
	b.Queue(ledgerPlansSQL)
	b.Queue("SELECT "+tenantCols+" FROM tenants WHERE id = ANY($1) ORDER BY id FOR UPDATE", ids)
	b.Queue(lockCreditAccountsSQL, ids)
	b.Queue("SELECT "+creditBlockCols+` FROM credit_blocks WHERE tenant_id = ANY($1) AND open
		ORDER BY tenant_id, expires_at ASC NULLS LAST, id`, ids)
	tenants, accounts, blocks, err := t.sendLedgerLocks(ctx, b)
	if err != nil {
		return nil, err
	}
	if len(accounts) < len(tenants) {
		have := make(map[string]bool, len(accounts))
		for _, a := range accounts {
			have[a.TenantID] = true
		}
		var missing []string
		for _, tn := range tenants {
			if !have[tn.ID] {
				missing = append(missing, tn.ID)
			}
		}
		if _, err := t.q.Exec(ctx, `INSERT INTO credit_accounts (tenant_id, day_start, month_start, updated_at)
			SELECT id, $2, $2, $2 FROM unnest($1::text[]) AS id ORDER BY id
			ON CONFLICT (tenant_id) DO NOTHING`, missing, now); err != nil {
			return nil, mapErr(err)
		}
		rows, err := t.q.Query(ctx, lockCreditAccountsSQL, missing)
		created, err := collectAll(rows, err, scanCreditAccount)
		if err != nil {
			return nil, err
		}
		accounts = append(accounts, created...)
	}
	out := make([]*store.CreditLedger, len(tenants))
	byTenant := make(map[string]*store.CreditLedger, len(tenants))
	for i, tn := range tenants {
		out[i] = &store.CreditLedger{Tenant: tn, Blocks: []*steward.CreditBlock{}}
		byTenant[tn.ID] = out[i]
	}
	for _, a := range accounts {
		if l := byTenant[a.TenantID]; l != nil {
			l.Account = a
		}
	}
	for _, bl := range blocks {
		if l := byTenant[bl.TenantID]; l != nil {
			l.Blocks = append(l.Blocks, bl)
		}
	}
	for _, l := range out {
		if l.Account == nil {
			return nil, fmt.Errorf("tenant %s has no credit account after its creation", l.Tenant.ID)
		}
	}
	return out, nil
}
