package steward

import (
	"context"
	"encoding/json"
	"time"
)

// Every service method takes the acting principal from ctx (WithActor) and
// checks its permission itself; a missing actor is UNAUTHENTICATED, a missing
// permission FORBIDDEN. The codes each method may add are listed on it.

// UserService manages end users and operators.
type UserService interface {
	// ListUsers: BAD_REQUEST for a bad cursor.
	ListUsers(ctx context.Context, f UserFilter, p ListParams) (*Page[*User], error)
	// ListAdmins lists users ranked support or above.
	ListAdmins(ctx context.Context, p ListParams) (*Page[*User], error)
	// CreateUser: VALIDATION_FAILED, ALREADY_EXISTS, CANNOT_ESCALATE (role above the actor's).
	CreateUser(ctx context.Context, in *UserCreate) (*User, error)
	// GetUser: NOT_FOUND.
	GetUser(ctx context.Context, id string) (*User, error)
	// UpdateUser applies a merge patch: NOT_FOUND, VALIDATION_FAILED, ALREADY_EXISTS,
	// INSUFFICIENT_ROLE, and the role guards when the patch changes the role.
	UpdateUser(ctx context.Context, id string, p *UserPatch) (*User, error)
	// DeleteUser soft-deletes: NOT_FOUND, INVALID_STATE, CANNOT_TARGET_SELF,
	// INSUFFICIENT_ROLE, LAST_ACTIVE_OWNER.
	DeleteUser(ctx context.Context, id, reason string) (*User, error)
	// RestoreUser undoes a soft delete: NOT_FOUND, INVALID_STATE.
	RestoreUser(ctx context.Context, id string) (*User, error)
	// PurgeUser erases the user for good: the DeleteUser codes.
	PurgeUser(ctx context.Context, id, reason string) error
	// SuspendUser: NOT_FOUND, INVALID_STATE, CANNOT_TARGET_SELF, INSUFFICIENT_ROLE, LAST_ACTIVE_OWNER.
	SuspendUser(ctx context.Context, id, reason string) (*User, error)
	// UnsuspendUser: NOT_FOUND, INVALID_STATE, INSUFFICIENT_ROLE.
	UnsuspendUser(ctx context.Context, id string) (*User, error)
	// BanUser: VALIDATION_FAILED (reason, expires_at), ALREADY_BANNED and the SuspendUser codes.
	BanUser(ctx context.Context, id string, in BanInput) (*User, error)
	// UnbanUser: NOT_FOUND, INVALID_STATE, INSUFFICIENT_ROLE.
	UnbanUser(ctx context.Context, id string) (*User, error)
	// ForceLogout revokes every session and bumps token_version: NOT_FOUND, INSUFFICIENT_ROLE.
	ForceLogout(ctx context.Context, id string) (*ForceLogoutResult, error)
	// ChangePassword: VALIDATION_FAILED, NOT_FOUND, INSUFFICIENT_ROLE.
	ChangePassword(ctx context.Context, id, newPassword string) (*User, error)
	// ChangeRole: VALIDATION_FAILED, NOT_FOUND, CANNOT_ESCALATE, INSUFFICIENT_ROLE,
	// CANNOT_TARGET_SELF, LAST_ACTIVE_OWNER.
	ChangeRole(ctx context.Context, id string, role Role) (*User, error)
	// BulkUsers applies one action to many users, each in its own transaction.
	BulkUsers(ctx context.Context, in *BulkRequest) (*BulkResult, error)
	// SweepExpiredBans lifts bans whose expiry passed, writing user.ban_expired.
	SweepExpiredBans(ctx context.Context) (int, error)

	// Operators as a resource (operator.go): each answers NOT_FOUND unless
	// the target is an operator, and otherwise the codes of the user action.
	// CreateAdmin: the CreateUser codes; role must be an operator role.
	CreateAdmin(ctx context.Context, in *AdminCreate) (*User, error)
	GetAdmin(ctx context.Context, id string) (*User, error)
	// UpdateAdmin applies the whole patch in one transaction: VALIDATION_FAILED,
	// ALREADY_EXISTS, INVALID_STATE and every role and status guard.
	UpdateAdmin(ctx context.Context, id string, p *AdminPatch) (*User, error)
	// DeleteAdmin soft-deletes, or with purge erases: the DeleteUser codes.
	DeleteAdmin(ctx context.Context, id, reason string, purge bool) (*User, error)
}

// SessionService lists and revokes sessions.
type SessionService interface {
	ListSessions(ctx context.Context, f SessionFilter, p ListParams) (*Page[*Session], error)
	// RevokeSession: NOT_FOUND, INVALID_STATE (already revoked), INSUFFICIENT_ROLE.
	RevokeSession(ctx context.Context, id string) (*Session, error)
}

// AuditService reads and checks the audit log.
type AuditService interface {
	ListAudit(ctx context.Context, f AuditFilter, p ListParams) (*Page[*AuditEntry], error)
	// ListAudit lists pending entries first on the first page, then
	// sealed ones newest first; cursors continue over sealed seqs.
	// VerifyAudit walks the whole sealed chain and counts what is pending.
	VerifyAudit(ctx context.Context) (*AuditVerification, error)
	// ExportAudit streams matching entries oldest first to fn, and records the
	// export itself in the log.
	ExportAudit(ctx context.Context, f AuditFilter, format string, fn func(*AuditEntry) error) error
	// CreateAuditCheckpoint signs the chain's head now, after appending its
	// own audit.checkpoint entry, which it covers.
	CreateAuditCheckpoint(ctx context.Context) (*AuditCheckpoint, error)
	// ListAuditCheckpoints lists signed checkpoints, newest first.
	ListAuditCheckpoints(ctx context.Context, p ListParams) (*Page[*AuditCheckpoint], error)
	// AuditPending reports the entries awaiting sealing.
	AuditPending(ctx context.Context) (*AuditPending, error)
}

// AuthService logs users in and resolves credentials.
type AuthService interface {
	// Login: INVALID_CREDENTIALS (one message for every cause), RATE_LIMITED.
	Login(ctx context.Context, in LoginInput) (*LoginResult, error)
	// Refresh mints a new access token for a live session token: UNAUTHENTICATED.
	Refresh(ctx context.Context, sessionToken string) (*LoginResult, error)
	// Logout revokes the session behind a session token or access token: UNAUTHENTICATED.
	Logout(ctx context.Context, token string) error
	// Authenticate resolves a bearer credential against the current database
	// state: UNAUTHENTICATED.
	Authenticate(ctx context.Context, token string) (*Principal, error)
	// JWKS is the JSON Web Key Set of the access-token signing keys.
	JWKS(ctx context.Context) ([]byte, error)
	// UpdateMe and ChangeOwnPassword are the signed-in user's own writes
	// (service/self.go): VALIDATION_FAILED, ALREADY_EXISTS,
	// IMPERSONATION_WRITE_DENIED under a read-only impersonation.
	UpdateMe(ctx context.Context, in SelfUpdate) (*User, error)
	ChangeOwnPassword(ctx context.Context, current, next string) (*ForceLogoutResult, error)
	// VerifySession is POST /platform/sessions/verify (sessions:verify).
	VerifySession(ctx context.Context, in SessionVerifyRequest) (*SessionVerifyResult, error)
}

// SelfUpdate is the body of PATCH /auth/me; a nil field is left alone.
type SelfUpdate struct {
	Name     *string `json:"name"`
	Username *string `json:"username"`
}

// UserCreate is the body of POST /admin/users.
type UserCreate struct {
	Email         string         `json:"email"`
	Username      string         `json:"username"`
	Name          string         `json:"name"`
	Password      string         `json:"password"`
	Role          Role           `json:"role"`
	TenantID      string         `json:"tenant_id"`
	TenantRole    TenantRole     `json:"tenant_role"`
	Tags          []string       `json:"tags"`
	Metadata      map[string]any `json:"metadata"`
	EmailVerified bool           `json:"email_verified"`
}

// Optional is a merge-patch field: absent (Set false), null (Set, Null) or a value.
type Optional[T any] struct {
	Set   bool
	Null  bool
	Value T
}

// UnmarshalJSON is called for present keys only, null included.
func (o *Optional[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Null = true
		return nil
	}
	return json.Unmarshal(b, &o.Value)
}

// UserPatch is the body of PUT/PATCH /admin/users/{id} (JSON Merge Patch).
type UserPatch struct {
	Email         Optional[string]          `json:"email"`
	Username      Optional[string]          `json:"username"`
	Name          Optional[string]          `json:"name"`
	Role          Optional[Role]            `json:"role"`
	TenantID      Optional[string]          `json:"tenant_id"`
	TenantRole    Optional[TenantRole]      `json:"tenant_role"`
	Tags          Optional[[]string]        `json:"tags"`
	Metadata      Optional[json.RawMessage] `json:"metadata"`
	EmailVerified Optional[bool]            `json:"email_verified"`
}

// BanInput is the body of POST /admin/users/{id}/ban.
type BanInput struct {
	Reason    string     `json:"reason"`
	ExpiresAt *time.Time `json:"expires_at"`
}

// ForceLogoutResult says what a force logout did.
type ForceLogoutResult struct {
	User            *User `json:"user"`
	SessionsRevoked int64 `json:"sessions_revoked"`
}

// Bulk actions.
const (
	BulkSuspend   = "suspend"
	BulkUnsuspend = "unsuspend"
	BulkDelete    = "delete"
	BulkTag       = "tag"
	BulkNotify    = "notify"
)

// MaxBulk is the most ids one bulk request takes.
const MaxBulk = 1000

// BulkRequest is the body of POST /admin/users/bulk.
type BulkRequest struct {
	UserIDs []string        `json:"user_ids"`
	Action  string          `json:"action"`
	Params  json.RawMessage `json:"params"`
}

// BulkItem is the outcome for one id.
type BulkItem struct {
	ID      string `json:"id"`
	OK      bool   `json:"ok"`
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

// BulkResult is the answer of a bulk action.
type BulkResult struct {
	Results   []BulkItem `json:"results"`
	Succeeded int        `json:"succeeded"`
	Failed    int        `json:"failed"`
}

// LoginInput is the body of POST /auth/login; one of Email or Username.
type LoginInput struct {
	Email     string `json:"email"`
	Username  string `json:"username"`
	Password  string `json:"password"`
	IP        string `json:"-"`
	UserAgent string `json:"-"`
}

// LoginResult is what login and refresh return.
type LoginResult struct {
	SessionToken   string    `json:"session_token"`
	AccessToken    string    `json:"access_token"`
	TokenType      string    `json:"token_type"`
	ExpiresAt      time.Time `json:"expires_at"`
	SessionExpires time.Time `json:"session_expires_at"`
	User           *User     `json:"user"`
}

// Principal is an authenticated caller with the current state of its user
// and session.
type Principal struct {
	Actor   Actor
	User    *User    // nil when the credential is an API key: Actor has its owner
	Session *Session // nil when the credential is an API key
	Key     *APIKey  // nil when the credential is a session
}

// KeyService manages API keys and verifies them.
type KeyService interface {
	// CreateKey: VALIDATION_FAILED (each bad field), NOT_FOUND (user_id),
	// CANNOT_ESCALATE (scopes the actor does not hold), INSUFFICIENT_ROLE.
	CreateKey(ctx context.Context, in *KeyCreate) (*CreatedKey, error)
	ListKeys(ctx context.Context, f KeyFilter, p ListParams) (*Page[*APIKey], error)
	// GetKey: NOT_FOUND.
	GetKey(ctx context.Context, id string) (*APIKey, error)
	// UpdateKey changes name, allowed_ips or rate_limit_rpm: NOT_FOUND,
	// VALIDATION_FAILED, INVALID_STATE (revoked), INSUFFICIENT_ROLE.
	UpdateKey(ctx context.Context, id string, p *KeyPatch) (*APIKey, error)
	// RevokeKey: NOT_FOUND, INVALID_STATE (already revoked), INSUFFICIENT_ROLE.
	RevokeKey(ctx context.Context, id, reason string) (*APIKey, error)
	// BulkRevokeKeys revokes each id in its own transaction.
	BulkRevokeKeys(ctx context.Context, ids []string) (*BulkResult, error)
	// RotateKey makes a new key with the same settings and revokes the old
	// one now or after the grace period: NOT_FOUND, INVALID_STATE, VALIDATION_FAILED.
	RotateKey(ctx context.Context, id string, in *KeyRotate) (*CreatedKey, error)
	KeyStats(ctx context.Context) (*KeyStats, error)
	// VerifyKey answers for any key text; only the caller's own errors
	// (authentication, permission) are errors.
	VerifyKey(ctx context.Context, in *VerifyRequest) (*VerifyResult, error)
}

// KeyCreate is the body of POST /admin/api-keys.
type KeyCreate struct {
	Name         string       `json:"name"`
	Type         KeyType      `json:"key_type"`
	UserID       string       `json:"user_id"`
	TenantID     string       `json:"tenant_id"`
	Purpose      string       `json:"purpose"`
	Scopes       []Permission `json:"scopes"`
	RateLimitRPM int          `json:"rate_limit_rpm"`
	ExpiresAt    *time.Time   `json:"expires_at"`
	AllowedIPs   []string     `json:"allowed_ips"`
}

// CreatedKey is a key with its plaintext, shown this once.
type CreatedKey struct {
	*APIKey
	Key string `json:"key"`
}

// KeyPatch is the body of PATCH /admin/api-keys/{id}.
type KeyPatch struct {
	Name         Optional[string]   `json:"name"`
	AllowedIPs   Optional[[]string] `json:"allowed_ips"`
	RateLimitRPM Optional[int]      `json:"rate_limit_rpm"`
}

// KeyRotate is the body of POST /admin/api-keys/{id}/rotate.
type KeyRotate struct {
	// GracePeriodSeconds keeps the old key working this long (0: revoked now).
	GracePeriodSeconds int `json:"grace_period_seconds"`
}

// VerifyRequest is the body of POST /platform/keys/verify.
type VerifyRequest struct {
	Key   string     `json:"key"`
	IP    string     `json:"ip"`
	Scope Permission `json:"scope"`
}

// RateLimitState is a key's rate-limit window as of a verification.
type RateLimitState struct {
	Limit     int   `json:"limit"`     // requests per minute; 0 = unlimited
	Remaining int   `json:"remaining"` // requests left now
	Reset     int64 `json:"reset"`     // unix seconds when the bucket is full again
}

// VerifyResult is the answer of POST /platform/keys/verify.
type VerifyResult struct {
	Valid     bool           `json:"valid"`
	Code      string         `json:"code"`
	KeyID     string         `json:"key_id"`
	KeyType   KeyType        `json:"key_type"`
	UserID    string         `json:"user_id"`
	TenantID  string         `json:"tenant_id"`
	Scopes    []Permission   `json:"scopes"`
	RateLimit RateLimitState `json:"ratelimit"`
}

// Answer is an HTTP-level result that the idempotency mechanism keeps and
// replays: a status and a body.
type Answer struct {
	Status int
	Body   []byte
}

// IdempotencyService runs a request at most once per Idempotency-Key.
type IdempotencyService interface {
	// Idempotent runs fn once per (scope, key) within 24 h and answers
	// repeats with the first answer (replayed = true): BAD_REQUEST (malformed
	// key), IDEMPOTENCY_KEY_REUSED (same key, other body).
	Idempotent(ctx context.Context, scope, key string, request []byte, fn func() Answer) (ans Answer, replayed bool, err error)
}

// TenantService manages tenants and reads the plan catalogue.
type TenantService interface {
	// ListPlans returns the catalogue in its configured order.
	ListPlans(ctx context.Context) ([]*Plan, error)
	// ListTenants: VALIDATION_FAILED (status, q), BAD_REQUEST (cursor). The
	// plan filter takes any id, so tenants left on a plan the catalogue no
	// longer has can still be found.
	ListTenants(ctx context.Context, f TenantFilter, p ListParams) (*Page[*Tenant], error)
	// CreateTenant: VALIDATION_FAILED (each bad field; an unknown plan lists
	// the plans), ALREADY_EXISTS (slug), TENANT_USER_LIMIT (the owner would
	// exceed max_users).
	CreateTenant(ctx context.Context, in *TenantCreate) (*Tenant, error)
	// GetTenant takes an id or a slug (as does every method taking a tenant
	// id): NOT_FOUND.
	GetTenant(ctx context.Context, idOrSlug string) (*Tenant, error)
	// UpdateTenant applies a merge patch: NOT_FOUND, VALIDATION_FAILED,
	// ALREADY_EXISTS (slug), INVALID_STATE (deleted), TENANT_USER_LIMIT.
	UpdateTenant(ctx context.Context, id string, p *TenantPatch) (*Tenant, error)
	// TenantDetail: NOT_FOUND.
	TenantDetail(ctx context.Context, id string) (*TenantDetail, error)
	// SuspendTenant: NOT_FOUND, INVALID_STATE (not active), and, for
	// operators among the members, CANNOT_TARGET_SELF, INSUFFICIENT_ROLE,
	// LAST_ACTIVE_OWNER.
	SuspendTenant(ctx context.Context, id, reason string) (*TenantCascade, error)
	// UnsuspendTenant: NOT_FOUND, INVALID_STATE (not suspended).
	UnsuspendTenant(ctx context.Context, id string) (*TenantCascade, error)
	// ChangePlan: NOT_FOUND, VALIDATION_FAILED (plan), INVALID_STATE
	// (deleted, or already on the plan).
	ChangePlan(ctx context.Context, id string, in *PlanChangeInput) (*PlanChangeResult, error)
	// ListPlanChanges: NOT_FOUND, BAD_REQUEST (cursor).
	ListPlanChanges(ctx context.Context, id string, p ListParams) (*Page[*PlanChange], error)
	// DeleteTenant soft-deletes with the suspend cascade: the SuspendTenant
	// codes, INVALID_STATE (already deleted).
	DeleteTenant(ctx context.Context, id, reason string) (*TenantCascade, error)
	// RestoreTenant undoes a soft delete: NOT_FOUND, INVALID_STATE.
	RestoreTenant(ctx context.Context, id string) (*TenantCascade, error)
	// PurgeTenant erases the tenant and everything that hangs off it: the
	// DeleteTenant guards.
	PurgeTenant(ctx context.Context, id, reason string) (*TenantPurgeResult, error)
}

// TenantCreate is the body of POST /admin/tenants.
type TenantCreate struct {
	Name        string         `json:"name"`
	Slug        string         `json:"slug"`
	Plan        string         `json:"plan"`
	OwnerUserID string         `json:"owner_user_id"`
	Limits      *TenantLimits  `json:"limits"`
	Spending    *SpendingCaps  `json:"spending"`
	Features    map[string]any `json:"features"`
	Notes       string         `json:"notes"`
}

// LimitsPatch is a merge patch of limit overrides: null returns a limit to
// the plan's value.
type LimitsPatch struct {
	MaxUsers           Optional[int64] `json:"max_users"`
	MaxConcurrentTasks Optional[int64] `json:"max_concurrent_tasks"`
	MaxDailyTasks      Optional[int64] `json:"max_daily_tasks"`
}

// SpendingPatch is a merge patch of spending caps: null removes a cap.
type SpendingPatch struct {
	MonthlyCap            Optional[int64] `json:"monthly_cap"`
	DailyCap              Optional[int64] `json:"daily_cap"`
	AlertThresholdPercent Optional[int]   `json:"alert_threshold_percent"`
	UserMonthlyCap        Optional[int64] `json:"user_monthly_cap"`
	UserDailyCap          Optional[int64] `json:"user_daily_cap"`
	UserSessionCap        Optional[int64] `json:"user_session_cap"`
}

// TenantPatch is the body of PATCH /admin/tenants/{id} (JSON Merge Patch).
// The plan changes through POST /admin/tenants/{id}/plan only.
type TenantPatch struct {
	Name        Optional[string]          `json:"name"`
	Slug        Optional[string]          `json:"slug"`
	OwnerUserID Optional[string]          `json:"owner_user_id"`
	Limits      Optional[LimitsPatch]     `json:"limits"`
	Spending    Optional[SpendingPatch]   `json:"spending"`
	Features    Optional[json.RawMessage] `json:"features"`
	Notes       Optional[string]          `json:"notes"`
}

// TenantCascade is the answer of suspend, unsuspend, delete and restore:
// the tenant after the change and the rows the change moved.
type TenantCascade struct {
	Tenant          *Tenant `json:"tenant"`
	UsersSuspended  int64   `json:"users_suspended"`
	SessionsRevoked int64   `json:"sessions_revoked"`
	APIKeysDisabled int64   `json:"api_keys_disabled"`
	UsersRestored   int64   `json:"users_restored"`
	APIKeysRestored int64   `json:"api_keys_restored"`
	// Resources whose desired state the cascade set to suspended, or back
	// to running (docs/resources.md).
	ResourcesSuspended int64 `json:"resources_suspended"`
	ResourcesRestored  int64 `json:"resources_restored"`
}

// TenantPurgeResult is the answer of a purge.
type TenantPurgeResult struct {
	TenantID string `json:"tenant_id"`
	Purged   bool   `json:"purged"`
	TenantPurgeCounts
}

// PlanChangeInput is the body of POST /admin/tenants/{id}/plan.
type PlanChangeInput struct {
	Plan    string `json:"plan"`
	Prorate *bool  `json:"prorate"` // default true
}

// PlanChangeResult is the answer of a plan change. Warnings name limits the
// tenant already exceeds under the new plan: nothing is removed, but
// nothing more is admitted.
type PlanChangeResult struct {
	Tenant   *Tenant     `json:"tenant"`
	Change   *PlanChange `json:"change"`
	Warnings []string    `json:"warnings"`
	// Proration is the grant of an upgrade with prorate (nil otherwise).
	Proration *LedgerEntry `json:"proration"`
}

// TenantDetail is the answer of GET /admin/tenants/{id}/detail.
type TenantDetail struct {
	Tenant *Tenant `json:"tenant"`
	Plan   *Plan   `json:"plan"` // nil when the catalogue no longer has it
	// Members counts the tenant's users by status; MembersTotal excludes deleted ones.
	Members      map[UserStatus]int64 `json:"members"`
	MembersTotal int64                `json:"members_total"`
	// ActiveAPIKeys counts the tenant's keys that are active now.
	ActiveAPIKeys int64 `json:"active_api_keys"`
	// Held is what a suspension or soft delete holds inactive, to be
	// restored by unsuspend or restore.
	Held TenantHoldCounts `json:"held"`
	// Credits is the balance now (nil without credits:read); Usage sums
	// this billing period's usage by metric (empty without usage:read).
	Credits           *Balance       `json:"credits"`
	PeriodStart       time.Time      `json:"period_start"`
	PeriodEnd         time.Time      `json:"period_end"`
	Usage             []UsageRow     `json:"usage_this_period"`
	EffectiveFeatures map[string]any `json:"effective_features"`
	PlanChanges       []*PlanChange  `json:"recent_plan_changes"`
	// RecentAudit is empty unless the caller holds audit:read.
	RecentAudit []*AuditEntry `json:"recent_audit"`
}

// CreditService keeps the credits ledger and records usage. Every write
// moves value, holds the tenant's account lock, and writes its audit entry
// in the same transaction.
type CreditService interface {
	// Grant opens a block: VALIDATION_FAILED (amount, description,
	// expires_at), NOT_FOUND (tenant), INVALID_STATE (tenant deleted),
	// IDEMPOTENCY_KEY_REUSED.
	Grant(ctx context.Context, in *GrantInput) (*LedgerResult, error)
	// Deduct draws from open blocks, soonest expiry first: the Grant codes,
	// INSUFFICIENT_CREDITS, SPENDING_CAP_REACHED.
	Deduct(ctx context.Context, in *DeductInput) (*LedgerResult, error)
	// Refund returns credits to the blocks a deduct drew from (or opens a
	// block when no deduct is named): the Grant codes, NOT_FOUND
	// (transaction_id), VALIDATION_FAILED (more than is left to refund).
	Refund(ctx context.Context, in *RefundInput) (*LedgerResult, error)
	// Adjust corrects a balance up (a new block) or down (drawn like a
	// deduct): the Deduct codes; reason required.
	Adjust(ctx context.Context, in *AdjustInput) (*LedgerResult, error)
	// Balance: NOT_FOUND (tenant).
	Balance(ctx context.Context, tenantID string) (*Balance, error)
	// History: NOT_FOUND (tenant), VALIDATION_FAILED (kind), BAD_REQUEST (cursor).
	History(ctx context.Context, f LedgerFilter, p ListParams) (*Page[*LedgerEntry], error)
	// SweepExpiredCredits writes an expire entry for each block that
	// lapsed with credits left.
	SweepExpiredCredits(ctx context.Context) (int, error)
	// CheckLedger returns every tenant's totals whose views disagree.
	CheckLedger(ctx context.Context) ([]LedgerTotals, error)
	// RecordUsage records a batch of events, each at most once, paying for
	// those with credits; per-event outcomes, never one failure for all.
	RecordUsage(ctx context.Context, in *UsageBatch) (*UsageBatchResult, error)
	// UsageReport aggregates usage: VALIDATION_FAILED (period, start, end, group_by).
	UsageReport(ctx context.Context, in *UsageReportInput) (*UsageReport, error)
}

// GrantInput is the body of POST /admin/credits/grant.
type GrantInput struct {
	TenantID    string     `json:"tenant_id"`
	Amount      Credits    `json:"amount"`
	Description string     `json:"description"`
	ExpiresAt   *time.Time `json:"expires_at"`
	// IdempotencyKey comes from the Idempotency-Key header.
	IdempotencyKey string `json:"-"`
}

// DeductInput is the body of POST /admin/credits/deduct.
type DeductInput struct {
	TenantID       string  `json:"tenant_id"`
	Amount         Credits `json:"amount"`
	Description    string  `json:"description"`
	IdempotencyKey string  `json:"-"`

	// UserID and SessionID, when set, count the deduct against the user's
	// caps (service/usercaps.go).
	UserID    string `json:"user_id"`
	SessionID string `json:"session_id"`
}

// RefundInput is the body of POST /admin/credits/refund.
type RefundInput struct {
	TenantID       string  `json:"tenant_id"`
	Amount         Credits `json:"amount"`
	Description    string  `json:"description"`
	TransactionID  string  `json:"transaction_id"`
	IdempotencyKey string  `json:"-"`
}

// AdjustInput is the body of POST /admin/credits/adjust: a signed, non-zero
// amount with a reason.
type AdjustInput struct {
	TenantID       string     `json:"tenant_id"`
	Amount         Credits    `json:"amount"`
	Description    string     `json:"description"`
	Reason         string     `json:"reason"`
	ExpiresAt      *time.Time `json:"expires_at"`
	IdempotencyKey string     `json:"-"`
}

// LedgerResult is the answer of every ledger write.
type LedgerResult struct {
	Transaction *LedgerEntry `json:"transaction"`
	Balance     int64        `json:"balance"`
	// Replayed is true when the idempotency key had already been used
	// with the same request: the first transaction is returned.
	Replayed bool `json:"-"`
}

// UsageBatch is the body of POST /platform/usage.
type UsageBatch struct {
	Events []UsageEventInput `json:"events"`
}

// UsageEventInput is one reported event.
type UsageEventInput struct {
	ID         string     `json:"id"`
	TenantID   string     `json:"tenant_id"`
	UserID     string     `json:"user_id"`
	Metric     string     `json:"metric"`
	Quantity   Credits    `json:"quantity"`
	Credits    Credits    `json:"credits"`
	CostMicros Credits    `json:"cost_micros"`
	Model      string     `json:"model"`
	OccurredAt *time.Time `json:"occurred_at"`

	// SessionID, with UserID, counts the event against the user's
	// per-session cap.
	SessionID string `json:"session_id"`
}

// Usage event outcomes.
const (
	UsageRecorded  = "recorded"  // new, and paid for when it carried credits
	UsageDuplicate = "duplicate" // this id was recorded before: nothing done
	UsageRejected  = "rejected"  // not recorded: see code and message
)

// UsageEventResult is the outcome for one event.
type UsageEventResult struct {
	ID            string `json:"id"`
	Status        string `json:"status"`
	Code          string `json:"code,omitempty"`
	Message       string `json:"message,omitempty"`
	TransactionID string `json:"transaction_id,omitempty"`
	Balance       *int64 `json:"balance,omitempty"`
}

// UsageBatchResult is the answer of POST /platform/usage.
type UsageBatchResult struct {
	Results    []UsageEventResult `json:"results"`
	Recorded   int                `json:"recorded"`
	Duplicates int                `json:"duplicates"`
	Rejected   int                `json:"rejected"`
}

// MaxUsageBatch is the most events one request takes.
const MaxUsageBatch = 1000

// UsageReportInput is the query of GET /admin/usage.
type UsageReportInput struct {
	Period   string // day, week, month or custom
	Start    *time.Time
	End      *time.Time
	GroupBy  UsageGroup
	TenantID string
}

// UsageReport is the answer of GET /admin/usage.
type UsageReport struct {
	Start   time.Time  `json:"start"`
	End     time.Time  `json:"end"`
	GroupBy UsageGroup `json:"group_by"`
	Data    []UsageRow `json:"data"`
	Totals  UsageRow   `json:"totals"`
}

// StatsService answers the overview's figures (docs/overview.md).
type StatsService interface {
	// Stats is what the platform holds now, read from counters, with the
	// month and day boundaries in loc (nil: UTC). Needs stats:read.
	Stats(ctx context.Context, loc *time.Location) (*Stats, error)
}
