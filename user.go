package steward

import (
	"net/mail"
	"regexp"
	"strings"
	"time"
)

// UserStatus is the stored lifecycle state of a user.
type UserStatus string

const (
	StatusActive    UserStatus = "active"
	StatusSuspended UserStatus = "suspended"
	StatusBanned    UserStatus = "banned"
	StatusDeleted   UserStatus = "deleted"
)

// Valid reports whether s is a known status.
func (s UserStatus) Valid() bool {
	switch s {
	case StatusActive, StatusSuspended, StatusBanned, StatusDeleted:
		return true
	}
	return false
}

// TenantRole is a user's role inside their tenant.
type TenantRole string

const (
	TenantMember TenantRole = "member"
	TenantAdmin  TenantRole = "admin"
	TenantOwner  TenantRole = "owner"
)

// Valid reports whether r is a known tenant role (empty is allowed: no tenant).
func (r TenantRole) Valid() bool {
	switch r {
	case "", TenantMember, TenantAdmin, TenantOwner:
		return true
	}
	return false
}

// Ban records why, until when and by whom a user is banned.
type Ban struct {
	Reason    string     `json:"reason"`
	ExpiresAt *time.Time `json:"expires_at"`
	By        string     `json:"banned_by"`
	At        time.Time  `json:"banned_at"`
}

// User is an end user or, with a role ranked support or above, an operator.
type User struct {
	ID               string         `json:"id"`
	Email            string         `json:"email"`
	Username         string         `json:"username"`
	Name             string         `json:"name"`
	Role             Role           `json:"role"`
	TenantID         string         `json:"tenant_id"`
	TenantRole       TenantRole     `json:"tenant_role"`
	Status           UserStatus     `json:"status"`
	Ban              *Ban           `json:"ban"`
	SuspensionReason string         `json:"suspension_reason"`
	Tags             []string       `json:"tags"`
	Metadata         map[string]any `json:"metadata"`
	EmailVerified    bool           `json:"email_verified"`
	TokenVersion     int64          `json:"token_version"`
	LastLoginAt      *time.Time     `json:"last_login_at"`
	CreatedAt        time.Time      `json:"created_at"`
	UpdatedAt        time.Time      `json:"updated_at"`
	DeletedAt        *time.Time     `json:"deleted_at"`

	// StatusBeforeDelete is what restore returns a soft-deleted user to.
	StatusBeforeDelete UserStatus `json:"-"`
	PasswordHash       string     `json:"-"`
	FailedLogins       int        `json:"-"`
	LockedUntil        *time.Time `json:"-"`
}

// BanExpired reports whether u is banned with an expiry that has passed.
func (u *User) BanExpired(now time.Time) bool {
	return u.Status == StatusBanned && u.Ban != nil && u.Ban.ExpiresAt != nil && !now.Before(*u.Ban.ExpiresAt)
}

// EffectiveStatus is Status, except that an expired ban already counts as active.
func (u *User) EffectiveStatus(now time.Time) UserStatus {
	if u.BanExpired(now) {
		return StatusActive
	}
	return u.Status
}

// IsActive reports whether u may hold sessions and credentials at now.
func (u *User) IsActive(now time.Time) bool { return u.EffectiveStatus(now) == StatusActive }

var (
	usernameRe = regexp.MustCompile(`^[a-z0-9._-]{2,32}$`)
	tagRe      = regexp.MustCompile(`^[A-Za-z0-9:._-]{1,64}$`)
)

// MinPasswordLength is the only password rule: no composition rules.
const MinPasswordLength = 8

// NormalizeEmail lower-cases and trims an email address.
func NormalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// ValidateEmail reports a problem with an (already normalised) email, or "".
func ValidateEmail(email string) string {
	if email == "" {
		return "is required"
	}
	if len(email) > 254 {
		return "must be at most 254 characters"
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || !strings.Contains(email[strings.LastIndex(email, "@")+1:], ".") && !strings.HasSuffix(email, "@localhost") {
		return "must be a valid email address"
	}
	return ""
}

// ValidateUsername reports a problem with a username, or "". Empty is allowed.
func ValidateUsername(s string) string {
	if s != "" && !usernameRe.MatchString(s) {
		return "must be 2-32 characters of a-z, 0-9, '.', '_' or '-'"
	}
	return ""
}

// ValidatePassword reports a problem with a new password, or "".
func ValidatePassword(s string) string {
	if len([]rune(s)) < MinPasswordLength {
		return "must be at least 8 characters"
	}
	if len(s) > 1024 {
		return "must be at most 1024 bytes"
	}
	return ""
}

// ValidateTags reports a problem with a tag list, or "".
func ValidateTags(tags []string) string {
	if len(tags) > 50 {
		return "at most 50 tags"
	}
	for _, t := range tags {
		if !tagRe.MatchString(t) {
			return "each tag must be 1-64 characters of letters, digits, ':', '.', '_' or '-'"
		}
	}
	return ""
}

// UserFilter selects users for a list. Rows come newest first (id descending);
// Before is the exclusive id to continue after.
type UserFilter struct {
	Q        string // matches email, username, name (substring) or exact id
	Status   UserStatus
	Role     Role
	Roles    []Role // any of these roles
	TenantID string
	Tag      string
	Before   string
	Limit    int
}
