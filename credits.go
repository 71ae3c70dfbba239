package steward

import (
	"encoding/json"
	"math"
	"time"
)

// Credits is a whole number in a request body. A JSON value that is not an
// integer (1.5, "10", true) decodes to InvalidCredits instead of failing the
// whole body, so validation can answer 422 naming the field.
type Credits int64

// InvalidCredits is what a non-integer decodes to; every range check refuses it.
const InvalidCredits Credits = math.MinInt64

// UnmarshalJSON implements json.Unmarshaler.
func (c *Credits) UnmarshalJSON(b []byte) error {
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		*c = InvalidCredits
		return nil
	}
	*c = Credits(n)
	return nil
}

// LedgerKind is the kind of a ledger entry.
type LedgerKind string

const (
	LedgerGrant  LedgerKind = "grant"
	LedgerDeduct LedgerKind = "deduct"
	LedgerRefund LedgerKind = "refund"
	LedgerExpire LedgerKind = "expire"
	LedgerAdjust LedgerKind = "adjust"
)

// Valid reports whether k is a known kind.
func (k LedgerKind) Valid() bool {
	switch k {
	case LedgerGrant, LedgerDeduct, LedgerRefund, LedgerExpire, LedgerAdjust:
		return true
	}
	return false
}

// Draw is what one entry took from (negative) or put back into (positive)
// one block.
type Draw struct {
	BlockID string `json:"block_id"`
	Amount  int64  `json:"amount"`
}

// LedgerEntry is one append-only line of a tenant's credits ledger. Amount
// is signed: credits in are positive, credits out negative; BalanceAfter is
// the sum of the tenant's entries up to and including this one.
type LedgerEntry struct {
	ID       string `json:"id"`
	TenantID string `json:"tenant_id"`
	// Seq numbers the tenant's entries 1, 2, 3… in the order they were
	// written (ids made in one millisecond by two processes need not be).
	Seq          int64      `json:"seq"`
	Kind         LedgerKind `json:"kind"`
	Amount       int64      `json:"amount"`
	BalanceAfter int64      `json:"balance_after"`
	Description  string     `json:"description"`
	Reason       string     `json:"reason"`
	ActorType    string     `json:"actor_type"`
	ActorID      string     `json:"actor_id"`
	// IdempotencyKey is the caller's Idempotency-Key (or a usage event's
	// id), unique per tenant: the entry is written at most once per key.
	IdempotencyKey string `json:"idempotency_key"`
	// RelatedID is the deduct a refund returns, or the block an expiry ends.
	RelatedID string `json:"related_id"`
	// BlockID is the block this entry opened (grants, positive adjusts,
	// refunds without a deduct).
	BlockID   string     `json:"block_id"`
	ExpiresAt *time.Time `json:"expires_at"`
	// UsageEventID is the usage event a deduct paid for.
	UsageEventID string    `json:"usage_event_id"`
	Draws        []Draw    `json:"draws"`
	CreatedAt    time.Time `json:"created_at"`
}

// CreditBlock is a grant's credits, drawn down by deducts. Remaining counts
// until ExpiresAt; an expire entry then takes what is left.
type CreditBlock struct {
	ID        string     `json:"block_id"`
	TenantID  string     `json:"tenant_id"`
	Amount    int64      `json:"amount"`
	Remaining int64      `json:"remaining"`
	ExpiresAt *time.Time `json:"expires_at"`
	CreatedAt time.Time  `json:"created_at"`
}

// Open reports whether the block still counts at now.
func (b *CreditBlock) Open(now time.Time) bool {
	return b.Remaining > 0 && (b.ExpiresAt == nil || now.Before(*b.ExpiresAt))
}

// CreditAccount is a tenant's running balance (the sum of its entries) and
// what it spent in the current day and billing month, for spending caps.
// Its row is what serialises a tenant's ledger writes.
type CreditAccount struct {
	TenantID   string
	Balance    int64
	LastSeq    int64 // the seq of the tenant's newest entry
	DaySpent   int64
	DayStart   time.Time
	MonthSpent int64
	MonthStart time.Time
	UpdatedAt  time.Time
}

// LedgerFilter selects a tenant's entries, newest (highest seq) first.
type LedgerFilter struct {
	TenantID  string
	Kind      LedgerKind
	Since     *time.Time // inclusive
	Until     *time.Time // exclusive
	BeforeSeq int64      // exclusive; 0 for the newest
	Limit     int
}

// ExpiringBlock is a block that stops counting soon.
type ExpiringBlock struct {
	BlockID   string    `json:"block_id"`
	Remaining int64     `json:"remaining"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Balance is what a tenant can spend at AsOf.
type Balance struct {
	TenantID string `json:"tenant_id"`
	Balance  int64  `json:"balance"`
	// Expiring lists open blocks that expire within 30 days, soonest first.
	Expiring []ExpiringBlock `json:"expiring"`
	AsOf     time.Time       `json:"as_of"`
}

// LedgerTotals are one tenant's three views of its balance, which must agree.
type LedgerTotals struct {
	TenantID       string `json:"tenant_id"`
	Account        int64  `json:"account"`         // the running balance
	Entries        int64  `json:"entries"`         // the sum of entry amounts
	Blocks         int64  `json:"blocks"`          // the sum of block remainders
	LastBalance    int64  `json:"last_balance"`    // balance_after of the entry with the highest seq
	NegativeBlocks int64  `json:"negative_blocks"` // blocks with remaining < 0 (must be 0)
}

// OK reports whether the totals agree and nothing is negative.
func (t LedgerTotals) OK() bool {
	return t.Account == t.Entries && t.Entries == t.Blocks && t.LastBalance == t.Account &&
		t.Account >= 0 && t.NegativeBlocks == 0
}

// UsageEvent is one unit of metered use reported by the product.
type UsageEvent struct {
	ID         string    `json:"id"`
	TenantID   string    `json:"tenant_id"`
	UserID     string    `json:"user_id"`
	Metric     string    `json:"metric"`
	Quantity   int64     `json:"quantity"`
	Credits    int64     `json:"credits"`
	CostMicros int64     `json:"cost_micros"`
	Model      string    `json:"model"`
	OccurredAt time.Time `json:"occurred_at"`
	RecordedAt time.Time `json:"recorded_at"`
	// TransactionID is the deduct that paid for it ("" when free).
	TransactionID string `json:"transaction_id"`
}

// UsageGroup is what usage is aggregated by.
type UsageGroup string

const (
	UsageByTenant UsageGroup = "tenant"
	UsageByUser   UsageGroup = "user"
	UsageByMetric UsageGroup = "metric"
	UsageByModel  UsageGroup = "model"
)

// UsageQuery selects usage to aggregate: events that occurred in [Start, End).
type UsageQuery struct {
	Start    time.Time
	End      time.Time
	GroupBy  UsageGroup
	TenantID string
}

// UsageRow is one group of an aggregate.
type UsageRow struct {
	Key        string `json:"key"`
	Events     int64  `json:"events"`
	Quantity   int64  `json:"quantity"`
	Credits    int64  `json:"credits"`
	CostMicros int64  `json:"cost_micros"`
}

// PeriodAt is the tenant's monthly billing period that contains now: it
// starts on BillingPeriodStart's day of the month (the month's last day
// when shorter) at the same time of day.
func (t *Tenant) PeriodAt(now time.Time) (start, end time.Time) {
	anchor := t.BillingPeriodStart.UTC()
	if anchor.IsZero() || now.Before(anchor) {
		return anchor, addMonths(anchor, 1)
	}
	months := (now.Year()-anchor.Year())*12 + int(now.Month()-anchor.Month())
	start = addMonths(anchor, months)
	if start.After(now) {
		months--
		start = addMonths(anchor, months)
	}
	return start, addMonths(anchor, months+1)
}

// addMonths moves t by n months, keeping its day of the month where the
// target month has it and taking the month's last day where it does not
// (Jan 31 + 1 month = Feb 28/29), unlike time.AddDate.
func addMonths(t time.Time, n int) time.Time {
	y, m, d := t.Date()
	first := time.Date(y, m+time.Month(n), 1, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
	last := first.AddDate(0, 1, -1).Day()
	return first.AddDate(0, 0, min(d, last)-1)
}
