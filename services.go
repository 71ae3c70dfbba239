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
	// VerifyAudit walks the whole chain.
	VerifyAudit(ctx context.Context) (*AuditVerification, error)
	// ExportAudit streams matching entries oldest first to fn, and records the
	// export itself in the log.
	ExportAudit(ctx context.Context, f AuditFilter, format string, fn func(*AuditEntry) error) error
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
	User    *User
	Session *Session
}
