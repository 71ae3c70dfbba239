package steward

import (
	"context"
	"time"
)

// Impersonation is an operator signed in as a user (SPEC §10). The row stays
// after it ends: it is the record of who looked at whose account and why.
type Impersonation struct {
	ID         string `json:"id"`
	UserID     string `json:"user_id"`
	OperatorID string `json:"operator_id"`
	SessionID  string `json:"session_id"`
	TenantID   string `json:"tenant_id"`
	Reason     string `json:"reason"`
	ReadOnly   bool   `json:"read_only"`
	// OperatorTokenVersion is the operator's token_version at the start:
	// once it moves (suspend, ban, force-logout, password change) the
	// impersonation no longer authenticates.
	OperatorTokenVersion int64      `json:"-"`
	StartedAt            time.Time  `json:"started_at"`
	ExpiresAt            time.Time  `json:"expires_at"`
	EndedAt              *time.Time `json:"ended_at"`
	// EndedBy is the id of whoever stopped it, "expired", or what else ended
	// it ("user.suspend", "logout", "tenant.suspend", ...: docs/impersonation.md).
	EndedBy string `json:"ended_by"`
	// Active is computed at read time: not ended and not expired.
	Active bool `json:"active"`
}

// ImpersonationEndedExpired is EndedBy of an impersonation that ran out.
const ImpersonationEndedExpired = "expired"

// Open reports whether imp has neither been stopped nor run out at now.
func (imp *Impersonation) Open(now time.Time) bool {
	return imp.EndedAt == nil && now.Before(imp.ExpiresAt)
}

// ImpersonationFilter selects impersonations, newest first. Active, when
// set, is evaluated at Now.
type ImpersonationFilter struct {
	Active     *bool
	OperatorID string
	UserID     string
	Now        time.Time
	Before     string
	Limit      int
}

// ImpersonationStart is what starting an impersonation takes. Duration is
// the requested length (0: the default).
type ImpersonationStart struct {
	UserID   string
	Reason   string
	Duration time.Duration
	// DurationField names the field Duration came from, for errors
	// (default "duration_seconds").
	DurationField string
	AllowWrites   bool
	IP            string
	UserAgent     string
}

// ImpersonationStarted is the answer to a start: a session token for the
// user and its access JWT.
type ImpersonationStarted struct {
	Token           string    `json:"token"`
	AccessToken     string    `json:"access_token"`
	ImpersonationID string    `json:"impersonation_id"`
	ExpiresAt       time.Time `json:"expires_at"`
	ReadOnly        bool      `json:"read_only"`
}

// ImpersonationDetail is one impersonation with the audit entries written
// under its session.
type ImpersonationDetail struct {
	*Impersonation
	AuditEntries []*AuditEntry `json:"audit_entries"`
}

// ImpersonationService starts, lists and stops impersonations.
type ImpersonationService interface {
	StartImpersonation(ctx context.Context, in ImpersonationStart) (*ImpersonationStarted, error)
	ListImpersonations(ctx context.Context, f ImpersonationFilter, p ListParams) (*Page[*Impersonation], error)
	GetImpersonation(ctx context.Context, id string) (*ImpersonationDetail, error)
	StopImpersonation(ctx context.Context, id string) (*Impersonation, error)
	// SweepExpiredImpersonations records the end of every impersonation
	// that ran out (impersonation.stop, ended_by "expired").
	SweepExpiredImpersonations(ctx context.Context) (int, error)
	ImpersonationDisclosures
}

// PermSessionsVerify lets a platform key call POST /platform/sessions/verify
// (admin and up, like keys:verify).
const PermSessionsVerify Permission = "sessions:verify"

// Codes of a session verification.
const (
	SessionVerifyValid           = "VALID"
	SessionVerifyExpired         = "EXPIRED"
	SessionVerifyRevoked         = "REVOKED"
	SessionVerifyNotFound        = "NOT_FOUND"
	SessionVerifyUserInactive    = "USER_INACTIVE"
	SessionVerifyTenantInactive  = "TENANT_INACTIVE"
	SessionVerifyWriteDenied     = CodeImpersonationWriteDenied
	sessionVerifyMethodMaxLength = 16
)

// SessionVerifyRequest is the body of POST /platform/sessions/verify: a
// session token or an access JWT, and the method of the request it came
// with (optional).
type SessionVerifyRequest struct {
	Token  string `json:"token"`
	Method string `json:"method,omitempty"`
}

// SessionVerifyResult is the answer; everything but valid and code is empty
// when the token names no live session.
type SessionVerifyResult struct {
	Valid         bool                  `json:"valid"`
	Code          string                `json:"code"`
	UserID        string                `json:"user_id"`
	TenantID      string                `json:"tenant_id"`
	Role          Role                  `json:"role"`
	SessionID     string                `json:"session_id"`
	ExpiresAt     *time.Time            `json:"expires_at"`
	Impersonation *SessionImpersonation `json:"impersonation"`
}

// SessionImpersonation describes the impersonation behind a verified session.
type SessionImpersonation struct {
	ID         string    `json:"id"`
	OperatorID string    `json:"operator_id"`
	ReadOnly   bool      `json:"read_only"`
	ExpiresAt  time.Time `json:"expires_at"`
}

// ValidMethod reports whether m is an acceptable method name (upper-case letters).
func ValidMethod(m string) bool {
	if m == "" || len(m) > sessionVerifyMethodMaxLength {
		return false
	}
	for _, r := range m {
		if r < 'A' || r > 'Z' {
			return false
		}
	}
	return true
}

// SafeMethod reports whether m changes nothing (GET, HEAD, OPTIONS).
func SafeMethod(m string) bool { return m == "GET" || m == "HEAD" || m == "OPTIONS" }

// ImpersonationDisclosure is what a user is shown about an impersonation of
// their account (GET /auth/impersonations).
type ImpersonationDisclosure struct {
	ID           string     `json:"id"`
	OperatorID   string     `json:"operator_id"`
	OperatorName string     `json:"operator_name"`
	Reason       string     `json:"reason"`
	ReadOnly     bool       `json:"read_only"`
	StartedAt    time.Time  `json:"started_at"`
	ExpiresAt    time.Time  `json:"expires_at"`
	EndedAt      *time.Time `json:"ended_at"`
	// DurationSeconds is how long it lasted (or has lasted so far, or was
	// granted when it ran out).
	DurationSeconds int64 `json:"duration_seconds"`
}

// ImpersonationDisclosures lists the signed-in user's impersonations; the
// deployment may turn it off (STEWARD_IMPERSONATION_DISCLOSE=false).
type ImpersonationDisclosures interface {
	ListMyImpersonations(ctx context.Context, p ListParams) (*Page[*ImpersonationDisclosure], error)
}
