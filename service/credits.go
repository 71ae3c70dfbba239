package service

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/id"
	"github.com/stewardhq/steward/store"
)

const (
	maxDescriptionLen = 500
	expiringWindow    = 30 * 24 * time.Hour
	maxCredits        = steward.MaxLimitValue
)

// tenantLedger is one tenant's ledger state inside a write transaction: the
// tenant row, its locked account and its blocks with credits left, in
// drawing order. Writes go to the store at once, except the account row,
// which is written once when the transaction ends (flush).
type tenantLedger struct {
	tenant  *steward.Tenant // nil: no such tenant
	account *steward.CreditAccount
	blocks  []*steward.CreditBlock
	dirty   bool
}

// ledgerLocks holds the ledgers a transaction has locked.
type ledgerLocks struct {
	s       *core
	tx      store.Tx
	ledgers map[string]*tenantLedger
	// defaults and users are read once per transaction (usercaps.go).
	defaults *platformDefaults
	users    map[userKey]*userLedger
}

// load locks tenant tid's row and account (once per transaction) and reads
// its blocks. A missing tenant gives a ledger with a nil tenant.
func (lk *ledgerLocks) load(ctx context.Context, tid string) (*tenantLedger, error) {
	if tl, ok := lk.ledgers[tid]; ok {
		return tl, nil
	}
	tl := &tenantLedger{}
	lk.ledgers[tid] = tl
	t, err := lk.tx.GetTenant(ctx, tid)
	if errors.Is(err, store.ErrNotFound) {
		return tl, nil
	}
	if err != nil {
		return nil, err
	}
	tl.tenant = t
	if tl.account, err = lk.tx.LockCreditAccount(ctx, tid, lk.s.now()); err != nil {
		return nil, err
	}
	if tl.blocks, err = lk.tx.ListCreditBlocks(ctx, tid); err != nil {
		return nil, err
	}
	return tl, nil
}

// loadAll is load for many tenants at once (one round trip on
// PostgreSQL), locking them in id order.
func (lk *ledgerLocks) loadAll(ctx context.Context, tids []string) error {
	ledgers, err := lk.tx.LockCreditLedgers(ctx, tids, lk.s.now())
	if err != nil {
		return err
	}
	for _, tid := range tids {
		if _, ok := lk.ledgers[tid]; !ok {
			lk.ledgers[tid] = &tenantLedger{} // no such tenant, unless found below
		}
	}
	for _, l := range ledgers {
		lk.ledgers[l.Tenant.ID] = &tenantLedger{tenant: l.Tenant, account: l.Account, blocks: l.Blocks}
	}
	return nil
}

// ledger returns tid's ledger for a write: NOT_FOUND for no tenant,
// INVALID_STATE for a deleted one. Lapsed blocks are expired first, so
// every balance_after written next is true.
func (lk *ledgerLocks) ledger(ctx context.Context, tid string) (*tenantLedger, error) {
	tl, err := lk.load(ctx, tid)
	if err != nil {
		return nil, err
	}
	if tl.tenant == nil {
		return nil, slugHint(ctx, lk.tx, tid, steward.Errorf(steward.CodeNotFound, "tenant %q not found", tid))
	}
	if tl.tenant.Status == steward.TenantDeleted {
		return nil, tenantInactive(tl.tenant, "move credits; restore it first")
	}
	return tl, lk.expireLapsed(ctx, tl)
}

// flush writes every account a transaction changed.
func (lk *ledgerLocks) flush(ctx context.Context) error {
	for _, tl := range lk.ledgers {
		if tl.dirty {
			tl.account.UpdatedAt = lk.s.now()
			if err := lk.tx.UpdateCreditAccount(ctx, tl.account); err != nil {
				return err
			}
		}
	}
	return nil
}

// available is what the tenant can spend at now: the open blocks.
func (tl *tenantLedger) available(now time.Time) int64 {
	var n int64
	for _, b := range tl.blocks {
		if b.Open(now) {
			n += b.Remaining
		}
	}
	return n
}

// plan says how amount would be drawn from the open blocks, soonest expiry
// first then oldest (the blocks' order), without changing anything. ok is
// false when they hold less than amount.
func (tl *tenantLedger) plan(amount int64, now time.Time) (draws []steward.Draw, ok bool) {
	left := amount
	for _, b := range tl.blocks {
		if left == 0 {
			break
		}
		if !b.Open(now) {
			continue
		}
		take := min(b.Remaining, left)
		draws = append(draws, steward.Draw{BlockID: b.ID, Amount: -take})
		left -= take
	}
	return draws, left == 0
}

// move applies draws (negative: taken, positive: returned) to the blocks.
// A block returned to that is not among the open ones is read first.
func (lk *ledgerLocks) move(ctx context.Context, tl *tenantLedger, draws []steward.Draw) error {
	for _, d := range draws {
		i := slices.IndexFunc(tl.blocks, func(b *steward.CreditBlock) bool { return b.ID == d.BlockID })
		var b *steward.CreditBlock
		if i >= 0 {
			b = tl.blocks[i]
		} else {
			var err error
			if b, err = lk.tx.GetCreditBlock(ctx, d.BlockID); err != nil {
				return err
			}
		}
		b.Remaining += d.Amount
		if err := lk.tx.SetBlockRemaining(ctx, b.ID, b.Remaining); err != nil {
			return err
		}
		switch {
		case b.Remaining == 0 && i >= 0:
			tl.blocks = slices.Delete(tl.blocks, i, i+1)
		case b.Remaining > 0 && i < 0:
			tl.insertBlock(b)
		}
	}
	return nil
}

// insertBlock keeps blocks in drawing order: soonest expiry first, no
// expiry last, then by id (oldest first).
func (tl *tenantLedger) insertBlock(b *steward.CreditBlock) {
	tl.blocks = append(tl.blocks, b)
	slices.SortStableFunc(tl.blocks, func(x, y *steward.CreditBlock) int {
		switch {
		case x.ExpiresAt == nil && y.ExpiresAt != nil:
			return 1
		case x.ExpiresAt != nil && y.ExpiresAt == nil:
			return -1
		case x.ExpiresAt != nil && !x.ExpiresAt.Equal(*y.ExpiresAt):
			return x.ExpiresAt.Compare(*y.ExpiresAt)
		}
		return strings.Compare(x.ID, y.ID)
	})
}

// appendEntry writes e after the tenant's last entry, with its audit entry.
func (lk *ledgerLocks) appendEntry(ctx context.Context, tl *tenantLedger, e *steward.LedgerEntry) error {
	a, ok := steward.ActorFrom(ctx)
	if !ok {
		a = steward.SystemActor
	}
	e.TenantID, e.ActorType, e.ActorID, e.CreatedAt = tl.tenant.ID, a.Type, a.ID, lk.s.now()
	if e.ID == "" {
		e.ID = id.New("txn", e.CreatedAt)
	}
	if e.Draws == nil {
		e.Draws = []steward.Draw{}
	}
	tl.account.Balance += e.Amount
	tl.account.LastSeq++
	e.BalanceAfter, e.Seq = tl.account.Balance, tl.account.LastSeq
	tl.dirty = true
	if err := lk.tx.InsertLedgerEntry(ctx, e); err != nil {
		return err
	}
	md := map[string]any{"amount": e.Amount, "balance_after": e.BalanceAfter, "draws": e.Draws}
	if e.RelatedID != "" {
		md["related_id"] = e.RelatedID
	}
	if e.UsageEventID != "" {
		md["usage_event_id"] = e.UsageEventID
	}
	if e.ExpiresAt != nil {
		md["expires_at"] = e.ExpiresAt
	}
	return lk.s.audit(ctx, lk.tx, event{Action: "credits." + string(e.Kind), TargetType: "credit_transaction",
		TargetID: e.ID, TenantID: e.TenantID, Reason: e.Reason, Metadata: md})
}

// openBlock writes a new block for a credit entry (grant, positive adjust,
// refund without a deduct); the block's id is the entry's.
func (lk *ledgerLocks) openBlock(ctx context.Context, tl *tenantLedger, e *steward.LedgerEntry) error {
	now := lk.s.now()
	e.ID = id.New("txn", now)
	b := &steward.CreditBlock{ID: e.ID, TenantID: tl.tenant.ID, Amount: e.Amount, Remaining: e.Amount,
		ExpiresAt: e.ExpiresAt, CreatedAt: now}
	if err := lk.tx.InsertCreditBlock(ctx, b); err != nil {
		return err
	}
	e.BlockID = b.ID
	tl.insertBlock(b)
	return lk.appendEntry(ctx, tl, e)
}

// expireLapsed writes an expire entry for each block that lapsed with
// credits left, as the system.
func (lk *ledgerLocks) expireLapsed(ctx context.Context, tl *tenantLedger) error {
	now := lk.s.now()
	var lapsed []*steward.CreditBlock
	for _, b := range tl.blocks {
		if b.Remaining > 0 && !b.Open(now) {
			lapsed = append(lapsed, b)
		}
	}
	sys := steward.WithActor(ctx, steward.SystemActor)
	for _, b := range lapsed {
		d := []steward.Draw{{BlockID: b.ID, Amount: -b.Remaining}}
		e := &steward.LedgerEntry{Kind: steward.LedgerExpire, Amount: -b.Remaining, RelatedID: b.ID,
			Description: "block expired", Draws: d}
		if err := lk.move(ctx, tl, d); err != nil {
			return err
		}
		if err := lk.appendEntry(sys, tl, e); err != nil {
			return err
		}
	}
	return nil
}

// replay answers a repeated idempotency key: the first entry when the
// request matches it (kind, amount, description, related transaction,
// expiry), IDEMPOTENCY_KEY_REUSED when it does not, nil when the key is new.
func (lk *ledgerLocks) replay(ctx context.Context, tid, key string, kind steward.LedgerKind, amount int64, want *steward.LedgerEntry) (*steward.LedgerEntry, error) {
	if key == "" {
		return nil, nil
	}
	e, err := lk.tx.GetLedgerEntryByKey(ctx, tid, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if e.Kind != kind || e.Amount != amount || e.Description != want.Description || e.RelatedID != want.RelatedID ||
		!sameTime(e.ExpiresAt, want.ExpiresAt) {
		return nil, &steward.Error{Code: steward.CodeIdempotencyKeyReused,
			Message: "this Idempotency-Key was used for another ledger request",
			Details: map[string]any{"transaction_id": e.ID}}
	}
	return e, nil
}

func sameTime(a, b *time.Time) bool {
	return a == nil && b == nil || a != nil && b != nil && a.Equal(*b)
}

// systemKeyPrefix starts the idempotency keys Steward writes itself (a
// usage event's deduct, a proration); callers' keys may not use it.
const systemKeyPrefix = "steward:"

// spend checks the tenant's spending caps for amount and counts it. The
// day is the UTC calendar day; the month is the tenant's billing period.
func (lk *ledgerLocks) spend(ctx context.Context, tl *tenantLedger, amount int64) error {
	now := lk.s.now()
	d, err := lk.platform(ctx)
	if err != nil {
		return err
	}
	// Each cap the tenant does not set is the platform's (configlimits.go).
	acc, caps := tl.account, d.spendingFor(tl.tenant)
	day := now.Truncate(24 * time.Hour)
	if !acc.DayStart.Equal(day) {
		acc.DayStart, acc.DaySpent = day, 0
	}
	month, _ := tl.tenant.PeriodAt(now)
	if !acc.MonthStart.Equal(month) {
		acc.MonthStart, acc.MonthSpent = month, 0
	}
	for _, c := range []struct {
		name  string
		limit *int64
		spent int64
		tier  string
	}{{"daily", caps.DailyCap, acc.DaySpent, capTier(tl.tenant.Spending.DailyCap)},
		{"monthly", caps.MonthlyCap, acc.MonthSpent, capTier(tl.tenant.Spending.MonthlyCap)}} {
		if c.limit != nil && c.spent+amount > *c.limit {
			return &steward.Error{Code: steward.CodeSpendingCapReached,
				Message: fmt.Sprintf("tenant %s has spent %d of its %s cap of %d", tl.tenant.ID, c.spent, c.name, *c.limit),
				Details: map[string]any{"scope": "tenant", "tier": c.tier, "cap": c.name, "limit": *c.limit,
					"spent": c.spent, "requested": amount}}
		}
	}
	threshold := int64(caps.AlertThresholdPercent)
	for _, c := range []struct {
		name  string
		limit *int64
		spent *int64
	}{{"daily", caps.DailyCap, &acc.DaySpent}, {"monthly", caps.MonthlyCap, &acc.MonthSpent}} {
		before := *c.spent
		*c.spent += amount
		// One alert per cap and period: when this spend crosses the line.
		if c.limit != nil && *c.limit > 0 && before*100 < threshold**c.limit && *c.spent*100 >= threshold**c.limit {
			if err := lk.s.audit(ctx, lk.tx, event{Action: "credits.spending_alert", TargetType: "tenant",
				TargetID: tl.tenant.ID, TenantID: tl.tenant.ID, Metadata: map[string]any{"cap": c.name,
					"limit": *c.limit, "spent": *c.spent, "threshold_percent": threshold}}); err != nil {
				return err
			}
		}
	}
	tl.dirty = true
	return nil
}

// deduct draws amount (checked against balance and, when capped, the caps)
// and writes entry e of its kind.
func (lk *ledgerLocks) deduct(ctx context.Context, tl *tenantLedger, e *steward.LedgerEntry, amount int64, capped bool) error {
	now := lk.s.now()
	draws, ok := tl.plan(amount, now)
	if !ok {
		return &steward.Error{Code: steward.CodeInsufficientCredits,
			Message: fmt.Sprintf("tenant %s has %d credits; %d needed", tl.tenant.ID, tl.available(now), amount),
			Details: map[string]any{"balance": tl.available(now), "requested": amount}}
	}
	if capped {
		if err := lk.spend(ctx, tl, amount); err != nil {
			return err
		}
	}
	if err := lk.move(ctx, tl, draws); err != nil {
		return err
	}
	e.Amount, e.Draws = -amount, draws
	return lk.appendEntry(ctx, tl, e)
}

// result is the answer of a ledger write.
func (tl *tenantLedger) result(e *steward.LedgerEntry, now time.Time, replayed bool) *steward.LedgerResult {
	return &steward.LedgerResult{Transaction: e, Balance: tl.available(now), Replayed: replayed}
}

func validAmount(n int64, fe steward.FieldErrors) {
	if n <= 0 || n > maxCredits {
		fe.Add("amount", "must be a whole number of credits between 1 and 1000000000000")
	}
}

func validDescription(d string, fe steward.FieldErrors) string {
	d = strings.TrimSpace(d)
	switch {
	case d == "":
		fe.Add("description", "is required")
	case utf8.RuneCountInString(d) > maxDescriptionLen:
		fe.Add("description", "must be at most 500 characters")
	}
	return d
}

func (s *Credits) validExpiry(t *time.Time, fe steward.FieldErrors) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC().Truncate(time.Microsecond)
	if !u.After(s.now()) {
		fe.Add("expires_at", "must be in the future")
	}
	return &u
}

func validTenantID(tid string, fe steward.FieldErrors) string {
	tid = strings.TrimSpace(tid)
	if tid == "" || len(tid) > 64 {
		fe.Add("tenant_id", "is required")
	}
	return tid
}

// ledgerCall runs one single-tenant ledger write, already authorized and
// validated: fn fills in and writes a copy of want in a batched transaction
// holding the tenant's lock. A repeated Idempotency-Key is answered the same
// way for every kind, compared with want.
func (s *Credits) ledgerCall(ctx context.Context, tid string, want *steward.LedgerEntry,
	fn func(ctx context.Context, lk *ledgerLocks, tl *tenantLedger, e *steward.LedgerEntry) error) (*steward.LedgerResult, error) {
	key := want.IdempotencyKey
	if strings.HasPrefix(key, systemKeyPrefix) {
		return nil, &steward.Error{Code: steward.CodeBadRequest, Message: "Idempotency-Key values starting with steward: are reserved",
			Details: map[string]any{"fields": map[string]any{"Idempotency-Key": "must not start with steward:"}}}
	}
	var res *steward.LedgerResult
	err := s.ledgerWrite(ctx, []string{tid}, func(ctx context.Context, tx store.Tx, lk *ledgerLocks) error {
		tl, err := lk.ledger(ctx, tid)
		if err != nil {
			return err
		}
		first, err := lk.replay(ctx, tid, key, want.Kind, want.Amount, want)
		if err != nil || first != nil {
			res = tl.result(first, s.now(), true)
			return err
		}
		e := *want // a fresh copy each time: a PostgreSQL retry runs this again
		if err := fn(ctx, lk, tl, &e); err != nil {
			return err
		}
		res = tl.result(&e, s.now(), false)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// Grant implements steward.CreditService.
func (s *Credits) Grant(ctx context.Context, in *steward.GrantInput) (*steward.LedgerResult, error) {
	if _, err := authorize(ctx, steward.PermCreditsWrite); err != nil {
		return nil, err
	}
	amount := int64(in.Amount)
	fe := steward.FieldErrors{}
	tid := validTenantID(in.TenantID, fe)
	validAmount(amount, fe)
	desc := validDescription(in.Description, fe)
	exp := s.validExpiry(in.ExpiresAt, fe)
	if err := fe.Err(); err != nil {
		return nil, err
	}
	want := &steward.LedgerEntry{Kind: steward.LedgerGrant, Amount: amount, Description: desc, ExpiresAt: exp,
		IdempotencyKey: in.IdempotencyKey}
	return s.ledgerCall(ctx, tid, want, func(ctx context.Context, lk *ledgerLocks, tl *tenantLedger, e *steward.LedgerEntry) error {
		return lk.openBlock(ctx, tl, e)
	})
}

// Deduct implements steward.CreditService.
func (s *Credits) Deduct(ctx context.Context, in *steward.DeductInput) (*steward.LedgerResult, error) {
	if _, err := authorize(ctx, steward.PermCreditsWrite); err != nil {
		return nil, err
	}
	amount := int64(in.Amount)
	fe := steward.FieldErrors{}
	tid := validTenantID(in.TenantID, fe)
	validAmount(amount, fe)
	desc := validDescription(in.Description, fe)
	uid, sid := validSpender(in.UserID, in.SessionID, fe)
	if err := fe.Err(); err != nil {
		return nil, err
	}
	want := &steward.LedgerEntry{Kind: steward.LedgerDeduct, Amount: -amount, Description: desc, IdempotencyKey: in.IdempotencyKey}
	return s.ledgerCall(ctx, tid, want, func(ctx context.Context, lk *ledgerLocks, tl *tenantLedger, e *steward.LedgerEntry) error {
		return lk.deductFor(ctx, tl, e, amount, uid, sid)
	})
}

// Refund implements steward.CreditService. A refund against a deduct goes
// back into the blocks the deduct drew from, the last drawn first; earlier
// refunds of the same deduct are taken to have filled them in that order.
// What goes back into a block that has expired meanwhile expires with it at
// once (an expire entry follows).
func (s *Credits) Refund(ctx context.Context, in *steward.RefundInput) (*steward.LedgerResult, error) {
	if _, err := authorize(ctx, steward.PermCreditsWrite); err != nil {
		return nil, err
	}
	amount := int64(in.Amount)
	fe := steward.FieldErrors{}
	tid := validTenantID(in.TenantID, fe)
	validAmount(amount, fe)
	desc := validDescription(in.Description, fe)
	txid := strings.TrimSpace(in.TransactionID)
	if err := fe.Err(); err != nil {
		return nil, err
	}
	want := &steward.LedgerEntry{Kind: steward.LedgerRefund, Amount: amount, Description: desc,
		IdempotencyKey: in.IdempotencyKey, RelatedID: txid}
	return s.ledgerCall(ctx, tid, want, func(ctx context.Context, lk *ledgerLocks, tl *tenantLedger, e *steward.LedgerEntry) error {
		if txid == "" {
			return lk.openBlock(ctx, tl, e)
		}
		orig, err := lk.tx.GetLedgerEntry(ctx, txid)
		if errors.Is(err, store.ErrNotFound) || err == nil && orig.TenantID != tl.tenant.ID {
			return steward.Errorf(steward.CodeNotFound, "transaction %q not found for tenant %s", txid, tl.tenant.ID)
		}
		if err != nil {
			return err
		}
		if orig.Kind != steward.LedgerDeduct {
			return steward.FieldError("transaction_id", "must name a deduct, not a "+string(orig.Kind))
		}
		done, err := lk.tx.RefundedAmount(ctx, txid)
		if err != nil {
			return err
		}
		if left := -orig.Amount - done; amount > left {
			return &steward.Error{Code: steward.CodeValidation,
				Message: fmt.Sprintf("at most %d of transaction %s can still be refunded", left, txid),
				Details: map[string]any{"fields": map[string]any{"amount": fmt.Sprintf("must be at most %d", left)},
					"refundable": left, "refunded": done}}
		}
		e.Draws = refundDraws(orig.Draws, done, amount)
		if err := lk.move(ctx, tl, e.Draws); err != nil {
			return err
		}
		if err := lk.appendEntry(ctx, tl, e); err != nil {
			return err
		}
		return lk.expireLapsed(ctx, tl)
	})
}

// refundDraws returns amount to the blocks of draws (negative: what the
// deduct took), last drawn first, after skipping what earlier refunds
// returned.
func refundDraws(draws []steward.Draw, earlier, amount int64) []steward.Draw {
	var out []steward.Draw
	for i := len(draws) - 1; i >= 0 && amount > 0; i-- {
		took := -draws[i].Amount
		skip := min(took, earlier)
		earlier -= skip
		back := min(took-skip, amount)
		if back > 0 {
			out = append(out, steward.Draw{BlockID: draws[i].BlockID, Amount: back})
			amount -= back
		}
	}
	return out
}

// Adjust implements steward.CreditService.
func (s *Credits) Adjust(ctx context.Context, in *steward.AdjustInput) (*steward.LedgerResult, error) {
	if _, err := authorize(ctx, steward.PermCreditsAdjust); err != nil {
		return nil, err
	}
	amount := int64(in.Amount)
	fe := steward.FieldErrors{}
	tid := validTenantID(in.TenantID, fe)
	if amount == 0 || amount > maxCredits || amount < -maxCredits {
		fe.Add("amount", "must be a non-zero whole number of credits, at most 1000000000000 either way")
	}
	desc := validDescription(in.Description, fe)
	reason, err := validReason(in.Reason, true)
	if err != nil {
		fe.Add("reason", "is required, at most 1000 characters")
	}
	exp := s.validExpiry(in.ExpiresAt, fe)
	if exp != nil && amount < 0 {
		fe.Add("expires_at", "only an upward adjustment opens a block that can expire")
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	want := &steward.LedgerEntry{Kind: steward.LedgerAdjust, Amount: amount, Description: desc, Reason: reason,
		ExpiresAt: exp, IdempotencyKey: in.IdempotencyKey}
	return s.ledgerCall(ctx, tid, want, func(ctx context.Context, lk *ledgerLocks, tl *tenantLedger, e *steward.LedgerEntry) error {
		if amount > 0 {
			return lk.openBlock(ctx, tl, e)
		}
		// A correction is not spending: the caps do not apply.
		return lk.deduct(ctx, tl, e, -amount, false)
	})
}

// Balance implements steward.CreditService. Expired blocks stop counting
// at the instant they expire, whether or not the sweeper has run.
func (s *Credits) Balance(ctx context.Context, tid string) (*steward.Balance, error) {
	if _, err := authorize(ctx, steward.PermCreditsRead); err != nil {
		return nil, err
	}
	t, err := getTenant(ctx, s.store, tid)
	if err != nil {
		return nil, err
	}
	return s.balanceOf(ctx, t.ID)
}

func (s *Credits) balanceOf(ctx context.Context, tid string) (*steward.Balance, error) {
	blocks, err := s.store.ListCreditBlocks(ctx, tid)
	if err != nil {
		return nil, err
	}
	now := s.now()
	tl := &tenantLedger{blocks: blocks}
	b := &steward.Balance{TenantID: tid, Balance: tl.available(now), Expiring: []steward.ExpiringBlock{}, AsOf: now}
	for _, bl := range blocks {
		if bl.Open(now) && bl.ExpiresAt != nil && bl.ExpiresAt.Sub(now) <= expiringWindow {
			b.Expiring = append(b.Expiring, steward.ExpiringBlock{BlockID: bl.ID, Remaining: bl.Remaining, ExpiresAt: *bl.ExpiresAt})
		}
	}
	return b, nil
}

// History implements steward.CreditService.
func (s *Credits) History(ctx context.Context, f steward.LedgerFilter, p steward.ListParams) (*steward.Page[*steward.LedgerEntry], error) {
	if _, err := authorize(ctx, steward.PermCreditsRead); err != nil {
		return nil, err
	}
	if f.Kind != "" && !f.Kind.Valid() {
		return nil, steward.FieldError("kind", "must be one of grant, deduct, refund, expire, adjust")
	}
	limit, err := limitOf(p)
	if err != nil {
		return nil, err
	}
	if f.BeforeSeq, err = decodeSeqCursor(p.Cursor); err != nil {
		return nil, err
	}
	t, err := getTenant(ctx, s.store, f.TenantID)
	if err != nil {
		return nil, err
	}
	f.TenantID, f.Limit = t.ID, limit+1
	rows, err := s.store.ListLedger(ctx, f)
	if err != nil {
		return nil, err
	}
	return page(rows, limit, func(e *steward.LedgerEntry) string { return encodeCursor(strconv.FormatInt(e.Seq, 10)) }), nil
}

// SweepExpiredCredits implements steward.CreditService.
func (s *Credits) SweepExpiredCredits(ctx context.Context) (int, error) {
	ctx = steward.WithActor(ctx, steward.SystemActor)
	total := 0
	for {
		lapsed, err := s.store.ListLapsedBlocks(ctx, s.now(), 100)
		if err != nil || len(lapsed) == 0 {
			return total, err
		}
		var tenants []string
		for _, b := range lapsed {
			tenants = append(tenants, b.TenantID)
		}
		slices.Sort(tenants)
		tenants = slices.Compact(tenants)
		n := 0
		err = s.ledgerWrite(ctx, tenants, func(ctx context.Context, tx store.Tx, lk *ledgerLocks) error {
			n = 0
			for _, tid := range tenants {
				tl, err := lk.load(ctx, tid)
				if err != nil || tl.tenant == nil {
					return err
				}
				before := len(tl.blocks)
				if err := lk.expireLapsed(ctx, tl); err != nil {
					return err
				}
				n += before - len(tl.blocks)
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		total += n
		if n == 0 {
			return total, nil // changed under us; the next sweep sees the rest
		}
	}
}

// CheckLedger implements steward.CreditService.
func (s *Credits) CheckLedger(ctx context.Context) ([]steward.LedgerTotals, error) {
	totals, err := s.store.LedgerTotals(ctx)
	if err != nil {
		return nil, err
	}
	bad := []steward.LedgerTotals{}
	for _, t := range totals {
		if !t.OK() {
			bad = append(bad, t)
		}
	}
	return bad, nil
}

// prorate grants, inside a plan change's transaction, the prorated
// difference of included monthly credits for the rest of the billing
// period: floor((new − old) × seconds left / seconds in the period),
// expiring at the period's end. Nothing for a downgrade or an equal plan.
func (s *Credits) prorate(ctx context.Context, tx store.Tx, t *steward.Tenant, from, to *steward.Plan, changeID string) (*steward.LedgerEntry, error) {
	var had int64
	if from != nil {
		had = from.IncludedCredits
	}
	diff := to.IncludedCredits - had
	if diff <= 0 {
		return nil, nil
	}
	now := s.now()
	start, end := t.PeriodAt(now)
	left, whole := int64(end.Sub(now)/time.Second), int64(end.Sub(start)/time.Second)
	if whole <= 0 || left <= 0 {
		return nil, nil
	}
	amount := diff * left / whole
	if amount <= 0 {
		return nil, nil
	}
	lk := &ledgerLocks{s: s.core, tx: tx, ledgers: map[string]*tenantLedger{}}
	tl, err := lk.ledger(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	e := &steward.LedgerEntry{Kind: steward.LedgerGrant, Amount: amount, ExpiresAt: &end,
		Description:    fmt.Sprintf("proration: %s → %s, %d of %d credits for the rest of the period", had0(from), to.ID, amount, diff),
		IdempotencyKey: systemKeyPrefix + "plan-change:" + changeID}
	if err := lk.openBlock(ctx, tl, e); err != nil {
		return nil, err
	}
	return e, lk.flush(ctx)
}

func had0(p *steward.Plan) string {
	if p == nil {
		return "(no plan)"
	}
	return p.ID
}
