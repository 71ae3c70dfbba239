// Package store declares the small storage contract the service layer needs.
// Stores only store: no business rule lives behind these interfaces. Every
// backend runs the same behaviour suite in store/storetest.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/stewardhq/steward"
)

// ErrNotFound is returned when a row does not exist.
var ErrNotFound = errors.New("store: not found")

// ErrUnavailable marks an error that came from the database being out of
// reach (refused, cut, shutting down) rather than from the request: the API
// answers it 503 with Retry-After, not 500.
var ErrUnavailable = errors.New("store: database unavailable")

// DuplicateError is returned when a unique constraint is violated. Field names
// the domain field ("email", "username", "id").
type DuplicateError struct{ Field string }

func (e *DuplicateError) Error() string { return "store: duplicate " + e.Field }

// Store is a backend: reads outside a transaction go to a reader pool, writes
// go through Update.
type Store interface {
	Queries
	Health
	// Update runs fn in one write transaction. If fn returns an error, or the
	// commit fails, nothing fn wrote is kept. On PostgreSQL, a serialization
	// failure or deadlock is retried a few times, so fn must be safe to re-run.
	Update(ctx context.Context, fn func(Tx) error) error
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Migrate applies the embedded migrations that have not run yet.
	Migrate(ctx context.Context) error
	// MigrationVersion is the schema version applied.
	MigrationVersion(ctx context.Context) (int64, error)
	// Dialect is "sqlite" or "postgres".
	Dialect() string
	Close() error
}

// Queries are the reads, one interface per domain. Inside a Tx, Get* methods
// lock the row they return until the transaction ends (SELECT … FOR UPDATE on
// PostgreSQL; SQLite's single writer serialises write transactions already),
// so read-modify-write is safe. A new domain adds its own XQueries and XTx
// here and embeds them below.
type Queries interface {
	UserQueries
	SessionQueries
	AuditQueries
	SigningKeyQueries
	KeyQueries
	IdempotencyQueries
	TenantQueries
	CreditQueries
	AuditCheckpointQueries
	ImpersonationQueries
	KeyUsageQueries
	SeriesQueries
	StatsQueries
	RetentionQueries
	PlatformConfigQueries
	UserSpendingQueries
	FlagQueries
	WebhookQueries
	WebhookEndpointQueries
	ResourceQueries
	ModelQueries
	RawQueries
}

// Tx is one write transaction: every read, and every domain's writes.
type Tx interface {
	Queries
	UserTx
	SessionTx
	AuditTx
	SigningKeyTx
	KeyTx
	IdempotencyTx
	TenantTx
	CreditTx
	AuditCheckpointWrites
	ImpersonationTx
	KeyUsageTx
	SeriesTx
	StatsTx
	RetentionTx
	PlatformConfigTx
	UserSpendingTx
	FlagTx
	WebhookTx
	WebhookEndpointTx
	ResourceTx
	ModelTx
}

// UserQueries are the reads of users.
type UserQueries interface {
	GetUser(ctx context.Context, id string) (*steward.User, error)
	GetUserByEmail(ctx context.Context, email string) (*steward.User, error)
	GetUserByUsername(ctx context.Context, username string) (*steward.User, error)
	// ListUsers returns up to f.Limit users matching f, id descending.
	ListUsers(ctx context.Context, f steward.UserFilter) ([]*steward.User, error)
	// CountUsers counts users matching f, ignoring Before and Limit.
	CountUsers(ctx context.Context, f steward.UserFilter) (int64, error)
	// ListUsersBanExpired returns up to limit banned users whose ban expired at or before now.
	ListUsersBanExpired(ctx context.Context, now time.Time, limit int) ([]*steward.User, error)
	// ListUsersByIDs returns the users among ids that exist, in any order.
	ListUsersByIDs(ctx context.Context, ids []string) ([]*steward.User, error)
}

// SessionQueries are the reads of sessions.
type SessionQueries interface {
	GetSession(ctx context.Context, id string) (*steward.Session, error)
	GetSessionByTokenHash(ctx context.Context, hash []byte) (*steward.Session, error)
	// ListSessions returns up to f.Limit sessions matching f, id descending.
	ListSessions(ctx context.Context, f steward.SessionFilter) ([]*steward.Session, error)
	// CountSessions counts sessions matching f, ignoring Before and Limit.
	CountSessions(ctx context.Context, f steward.SessionFilter) (int64, error)
}

// AuditQueries are the reads of the audit log.
type AuditQueries interface {
	// ListAudit returns up to f.Limit entries matching f: on the first page
	// (no f.BeforeSeq) and unless f.SealedOnly, pending ones first (Pending
	// set, Seq 0), newest first, then sealed ones, seq descending. Both
	// parts are read in one statement, so an entry sealed meanwhile is in
	// one of them.
	ListAudit(ctx context.Context, f steward.AuditFilter) ([]*steward.AuditEntry, error)
	// CountAudit counts entries matching f, pending ones too, ignoring
	// BeforeSeq and Limit.
	CountAudit(ctx context.Context, f steward.AuditFilter) (int64, error)
	// AuditPending says how many entries await sealing, and how old the
	// oldest is and what holds sealing back.
	AuditPending(ctx context.Context) (*AuditPending, error)
	// ScanAudit calls fn for every sealed entry matching f (Limit and
	// BeforeSeq ignored), seq ascending, up to the head as of its start. It reads in
	// bounded keyset pages, each its own short read, and holds no read
	// while fn runs, so a slow fn pins no connection or snapshot. An error
	// from fn stops the scan and is returned.
	ScanAudit(ctx context.Context, f steward.AuditFilter, fn func(*steward.AuditEntry) error) error
}

// SigningKeyQueries are the reads of the token signing keys.
type SigningKeyQueries interface {
	// ListSigningKeys returns every signing key, oldest first.
	ListSigningKeys(ctx context.Context) ([]*steward.SigningKey, error)
}

// KeyQueries are the reads of API keys.
type KeyQueries interface {
	GetAPIKey(ctx context.Context, id string) (*steward.APIKey, error)
	GetAPIKeyByHash(ctx context.Context, hash []byte) (*steward.APIKey, error)
	// GetAPIKeyForVerify is GetAPIKeyByHash with its owner's state, in one
	// query: the read of every key verification. The owner is nil when the
	// user row is gone. It never locks.
	GetAPIKeyForVerify(ctx context.Context, hash []byte) (*steward.APIKey, *steward.KeyOwner, error)
	// ListAPIKeys returns up to f.Limit keys matching f (stored status), id descending.
	ListAPIKeys(ctx context.Context, f steward.KeyFilter) ([]*steward.APIKey, error)
	// CountAPIKeys counts keys matching f, ignoring Before and Limit.
	CountAPIKeys(ctx context.Context, f steward.KeyFilter) (int64, error)
	// APIKeyStats counts keys by state at now (revoked: stored revoked or a
	// scheduled revocation at or before now; expired: expires_at at or
	// before now and not revoked; disabled: stored disabled and neither of
	// those; active: the rest), by type, and created/used in the 24 h and
	// 30 days before now.
	APIKeyStats(ctx context.Context, now time.Time) (*steward.KeyStats, error)
}

// IdempotencyQueries are the reads of idempotency records.
type IdempotencyQueries interface {
	GetIdempotency(ctx context.Context, keyHash []byte) (*steward.IdempotencyRecord, error)
}

// TenantQueries are the reads of tenants and their plan changes.
type TenantQueries interface {
	GetTenant(ctx context.Context, id string) (*steward.Tenant, error)
	GetTenantBySlug(ctx context.Context, slug string) (*steward.Tenant, error)
	// ListTenants returns up to f.Limit tenants matching f, id descending.
	ListTenants(ctx context.Context, f steward.TenantFilter) ([]*steward.Tenant, error)
	// CountTenants counts tenants matching f, ignoring Before and Limit.
	CountTenants(ctx context.Context, f steward.TenantFilter) (int64, error)
	// CountTenantMembers counts the users whose tenant_id is tenantID, by
	// stored status (statuses without members are absent).
	CountTenantMembers(ctx context.Context, tenantID string) (map[steward.UserStatus]int64, error)
	// CountTenantHolds counts the rows the tenant's suspension holds.
	CountTenantHolds(ctx context.Context, tenantID string) (steward.TenantHoldCounts, error)
	// ListPlanChanges returns up to limit changes of the tenant, newest
	// first, with id below before when before is not "".
	ListPlanChanges(ctx context.Context, tenantID, before string, limit int) ([]*steward.PlanChange, error)
}

// CreditQueries are the reads of the credits ledger and usage events.
type CreditQueries interface {
	// GetCreditAccount returns the tenant's account; ErrNotFound before its
	// first ledger entry. It does not lock (LockCreditAccount does).
	GetCreditAccount(ctx context.Context, tenantID string) (*steward.CreditAccount, error)
	// ListCreditBlocks returns the tenant's blocks with remaining > 0
	// (expired or not), soonest expiry first (no expiry last), then oldest
	// (id ascending).
	ListCreditBlocks(ctx context.Context, tenantID string) ([]*steward.CreditBlock, error)
	// GetCreditBlock returns one block, whatever its remaining.
	GetCreditBlock(ctx context.Context, id string) (*steward.CreditBlock, error)
	// ListLapsedBlocks returns up to limit blocks of any tenant with
	// remaining > 0 and expires_at at or before now, oldest expiry first.
	ListLapsedBlocks(ctx context.Context, now time.Time, limit int) ([]*steward.CreditBlock, error)
	// GetLedgerEntry returns one entry with its draws.
	GetLedgerEntry(ctx context.Context, id string) (*steward.LedgerEntry, error)
	// GetLedgerEntryByKey returns the tenant's entry written under an
	// idempotency key; ErrNotFound if none.
	GetLedgerEntryByKey(ctx context.Context, tenantID, key string) (*steward.LedgerEntry, error)
	// ListLedger returns up to f.Limit entries matching f with their draws,
	// seq descending.
	ListLedger(ctx context.Context, f steward.LedgerFilter) ([]*steward.LedgerEntry, error)
	// RefundedAmount is the sum of the amounts of refunds whose related_id
	// is deductID.
	RefundedAmount(ctx context.Context, deductID string) (int64, error)
	// LedgerTotals returns, for every tenant with an account or a ledger
	// entry or a block, its account balance, the sum of its entry amounts,
	// the sum of its blocks' remainders, the balance_after of its entry
	// with the highest seq and how many of its blocks have remaining < 0.
	LedgerTotals(ctx context.Context) ([]steward.LedgerTotals, error)
	// GetUsageEvent returns a recorded event by tenant and id.
	GetUsageEvent(ctx context.Context, tenantID, id string) (*steward.UsageEvent, error)
	// AggregateUsage sums events that occurred in [q.Start, q.End) (of
	// q.TenantID when set) by q.GroupBy, largest credits first then key.
	// A group key that is empty (no user, no model) is "".
	AggregateUsage(ctx context.Context, q steward.UsageQuery) ([]steward.UsageRow, error)
}

// UserTx are the writes of users.
type UserTx interface {
	// CreateUser inserts u; a taken email or username is a *DuplicateError.
	CreateUser(ctx context.Context, u *steward.User) error
	// UpdateUser writes every column of u; ErrNotFound if it does not exist.
	UpdateUser(ctx context.Context, u *steward.User) error
	// PurgeUser deletes the user and every row that hangs off it (sessions,
	// API keys).
	PurgeUser(ctx context.Context, id string) error
	// LockOperators serialises changes to operators' roles and statuses until
	// the transaction ends, so the last-active-owner count cannot race.
	LockOperators(ctx context.Context) error
}

// SessionTx are the writes of sessions.
type SessionTx interface {
	CreateSession(ctx context.Context, s *steward.Session) error
	UpdateSession(ctx context.Context, s *steward.Session) error
	// RevokeUserSessions revokes every unrevoked, unexpired session of the
	// user at now with reason, returning how many it revoked.
	RevokeUserSessions(ctx context.Context, userID string, now time.Time, reason string) (int64, error)
}

// AuditTx are the writes of the audit log.
type AuditTx interface {
	// LockAuditHead takes the sealer lock until the transaction ends (one
	// sealer at a time across replicas; writers never take it) and
	// returns the last sealed entry's seq and hash (0 and "" when none).
	LockAuditHead(ctx context.Context) (seq int64, hash string, err error)
	// InsertAudit appends e pending when e.Seq is 0 (the sequencer seals
	// it later), else sealed as given (tests build chains this way).
	InsertAudit(ctx context.Context, e *steward.AuditEntry) error
	// SealableAudit returns up to limit pending entries that are safe to
	// seal now, in insertion order: on PostgreSQL those whose writer
	// ended before every transaction still running (the snapshot's xmin),
	// and this transaction's own; on SQLite every pending entry, since the
	// one writer is this transaction. Call it holding LockAuditHead.
	SealableAudit(ctx context.Context, limit int) ([]*steward.AuditEntry, error)
	// SealAudit writes back Seq, PrevHash and Hash of pending entries
	// (by ID) in one statement; an entry no longer pending is an error.
	SealAudit(ctx context.Context, entries []*steward.AuditEntry) error
}

// AuditPending is the sequencer's backlog: Count entries not yet sealed,
// Oldest the time of the oldest of them (nil when none), and OldestTx the
// start of the oldest transaction in the database cluster that holds an
// xid (PostgreSQL only, nil otherwise or when none): while it runs, no
// entry written after it began can be sealed.
// Events counts webhook events waiting for their seq (PostgreSQL only).
type AuditPending struct {
	Count    int64
	Oldest   *time.Time
	OldestTx *time.Time
	Events   int64
}

// SigningKeyTx are the writes of the token signing keys.
type SigningKeyTx interface {
	InsertSigningKey(ctx context.Context, k *steward.SigningKey) error
	UpdateSigningKey(ctx context.Context, k *steward.SigningKey) error
}

// KeyTx are the writes of API keys.
type KeyTx interface {
	// CreateAPIKey inserts k; a taken id or secret hash is a *DuplicateError.
	CreateAPIKey(ctx context.Context, k *steward.APIKey) error
	// UpdateAPIKey writes every column of k; ErrNotFound if it does not exist.
	UpdateAPIKey(ctx context.Context, k *steward.APIKey) error
	// RecordKeyUses sets last_used_at/last_used_ip of each key, but only
	// where the recorded use is newer than the stored one. Unknown ids are
	// ignored (the key may have been purged meanwhile).
	RecordKeyUses(ctx context.Context, uses []steward.KeyUse) error
}

// IdempotencyTx are the writes of idempotency records.
type IdempotencyTx interface {
	// InsertIdempotency claims r.KeyHash; a *DuplicateError if it is taken.
	InsertIdempotency(ctx context.Context, r *steward.IdempotencyRecord) error
	// UpdateIdempotency stores the answer; ErrNotFound if the claim is gone.
	UpdateIdempotency(ctx context.Context, r *steward.IdempotencyRecord) error
	DeleteIdempotency(ctx context.Context, keyHash []byte) error
}

// TenantTx are the writes of tenants: plan changes, the suspend cascade
// and the purge.
type TenantTx interface {
	// CreateTenant inserts t; a taken id or slug is a *DuplicateError
	// ("id", "slug"). EffectiveLimits is not stored.
	CreateTenant(ctx context.Context, t *steward.Tenant) error
	// UpdateTenant writes every stored column of t; ErrNotFound if it does
	// not exist; a taken slug is a *DuplicateError.
	UpdateTenant(ctx context.Context, t *steward.Tenant) error
	InsertPlanChange(ctx context.Context, c *steward.PlanChange) error

	// The suspend cascade works on sets, in one statement per table, so a
	// tenant of any size moves in one short transaction. A "hold" records
	// that a row was moved by the tenant's suspension, so that
	// ReleaseTenant moves back exactly those rows. Holds go when their
	// user, key or tenant is deleted.

	// HoldTenantUsers suspends every user of the tenant whose stored status
	// is active (status suspended, suspension_reason reason, token_version
	// + 1, updated_at now) and holds each. It returns how many.
	HoldTenantUsers(ctx context.Context, tenantID, reason string, now time.Time) (int64, error)
	// RevokeHeldSessions revokes, at now with reason, the sessions of the
	// tenant's held users that are neither revoked nor expired at now.
	RevokeHeldSessions(ctx context.Context, tenantID string, now time.Time, reason string) (int64, error)
	// HoldTenantKeys disables every key with this tenant_id whose stored
	// status is active and that is neither revoked nor expired at now
	// (updated_at now), and holds each. It returns how many.
	HoldTenantKeys(ctx context.Context, tenantID string, now time.Time) (int64, error)
	// HoldUser adds a hold on one user of the tenant (a user who became
	// suspended by the tenant after the cascade); holding twice is a no-op.
	HoldUser(ctx context.Context, tenantID, userID string) error
	// ReleaseTenant makes held users whose stored status is still
	// suspended active again (suspension_reason cleared) and held keys
	// whose stored status is still disabled active again (updated_at now
	// on both), drops every hold of the tenant, and returns how many users
	// and keys it made active.
	ReleaseTenant(ctx context.Context, tenantID string, now time.Time) (users, keys int64, err error)
	// PurgeTenant deletes the tenant and every row that hangs off it: its
	// users (with their sessions and keys), the keys with its tenant_id,
	// its holds, its plan changes, its credit account, blocks, ledger
	// entries with their draws, and usage events. ErrNotFound if it does
	// not exist.
	// Audit entries stay.
	PurgeTenant(ctx context.Context, tenantID string) (steward.TenantPurgeCounts, error)
}

// CreditLedger is one tenant's ledger state as a ledger write starts: its
// row and account, locked, and its blocks with credits left.
type CreditLedger struct {
	Tenant  *steward.Tenant
	Account *steward.CreditAccount
	Blocks  []*steward.CreditBlock
}

// CreditTx are the writes of the credits ledger and usage events. On
// PostgreSQL the writes whose outcome nothing reads back (UpdateCreditAccount,
// InsertCreditBlock, SetBlockRemaining, InsertLedgerEntry) are deferred to
// the transaction's next statement or its commit (store/postgres/pipeline.go):
// their errors are what Update returns, not necessarily what the call does.
type CreditTx interface {
	// LockCreditAccount returns the tenant's account, creating it (balance
	// 0, day and month starting at now) if it does not exist, and locks it
	// until the transaction ends: every ledger write for the tenant takes
	// this lock first, so two writers never both spend the same credits.
	LockCreditAccount(ctx context.Context, tenantID string, now time.Time) (*steward.CreditAccount, error)
	// UpdateCreditAccount writes every column of a.
	UpdateCreditAccount(ctx context.Context, a *steward.CreditAccount) error
	// LockCreditLedgers is what a ledger write reads first, for many
	// tenants at once: it locks each existing tenant's row and then each
	// one's account (created as LockCreditAccount does), both in tenant id
	// order, so that two transactions locking overlapping sets cannot
	// deadlock, and reads each one's blocks with credits left (in
	// ListCreditBlocks's order). Tenants that do not exist are left out;
	// the result is in tenant id order.
	LockCreditLedgers(ctx context.Context, tenantIDs []string, now time.Time) ([]*CreditLedger, error)
	// InsertCreditBlock opens a block.
	InsertCreditBlock(ctx context.Context, b *steward.CreditBlock) error
	// SetBlockRemaining sets a block's remaining.
	SetBlockRemaining(ctx context.Context, blockID string, remaining int64) error
	// InsertLedgerEntry appends e with its draws; a taken (tenant_id,
	// idempotency_key) is a *DuplicateError{Field: "idempotency_key"}, a
	// taken (tenant_id, seq) a *DuplicateError{Field: "seq"}.
	InsertLedgerEntry(ctx context.Context, e *steward.LedgerEntry) error
	// InsertUsageEvent records an event; a taken (tenant_id, id) is a
	// *DuplicateError{Field: "id"}.
	InsertUsageEvent(ctx context.Context, e *steward.UsageEvent) error
}

// Generational is implemented by a store whose every write goes through this
// process (SQLite: one writer connection). Generation moves after each
// committed write transaction, before Update returns, so a value read at
// generation g is still current while Generation() == g. A store shared with
// other processes (PostgreSQL behind several replicas) must not implement it.
type Generational interface {
	Generation() uint64
}

// AuditCheckpointQueries read the signed checkpoints of the audit chain's head.
type AuditCheckpointQueries interface {
	// ListAuditCheckpoints returns up to limit checkpoints, id descending
	// (newest first), with id below before when before is not "".
	ListAuditCheckpoints(ctx context.Context, before string, limit int) ([]*steward.AuditCheckpoint, error)
	// LatestAuditCheckpoint returns the checkpoint with the highest seq (of
	// those, the highest id); ErrNotFound when there is none.
	LatestAuditCheckpoint(ctx context.Context) (*steward.AuditCheckpoint, error)
}

// AuditCheckpointWrites store signed checkpoints. Checkpoints are never
// updated or deleted by Steward.
type AuditCheckpointWrites interface {
	// InsertAuditCheckpoint stores c; a taken id is a *DuplicateError.
	InsertAuditCheckpoint(ctx context.Context, c *steward.AuditCheckpoint) error
}

// ImpersonationQueries are the reads of impersonations.
type ImpersonationQueries interface {
	GetImpersonation(ctx context.Context, id string) (*steward.Impersonation, error)
	// ListImpersonations returns up to f.Limit impersonations matching f
	// (Active: not ended and expires_at after f.Now), id descending.
	ListImpersonations(ctx context.Context, f steward.ImpersonationFilter) ([]*steward.Impersonation, error)
	// ListImpersonationsLapsed returns up to limit impersonations not ended
	// whose expires_at is at or before now, oldest expiry first.
	ListImpersonationsLapsed(ctx context.Context, now time.Time, limit int) ([]*steward.Impersonation, error)
}

// ImpersonationTx are the writes of impersonations.
type ImpersonationTx interface {
	// CreateImpersonation inserts imp; a taken id is a *DuplicateError.
	CreateImpersonation(ctx context.Context, imp *steward.Impersonation) error
	// UpdateImpersonation writes every column of imp; ErrNotFound if it does not exist.
	UpdateImpersonation(ctx context.Context, imp *steward.Impersonation) error
	// EndImpersonations ends, in one statement, every open impersonation
	// (not ended, not yet expired at now) that f matches, setting ended_at
	// to now and ended_by to endedBy, and returns the rows it ended.
	EndImpersonations(ctx context.Context, f ImpersonationEnd, now time.Time, endedBy string) ([]*steward.Impersonation, error)
}

// ImpersonationEnd selects the open impersonations EndImpersonations ends;
// exactly one field is set. TenantID matches the impersonations of the
// tenant's users and those started by its members.
type ImpersonationEnd struct {
	UserID, OperatorID, SessionID, TenantID string
}
