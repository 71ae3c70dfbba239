package steward

import (
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
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
	// LoginResetAt is when an operator last cleared the account's login
	// throttles (unlock or password reset); failures before it no longer count.
	LoginResetAt *time.Time `json:"-"`
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

// NormalizeEmail is the one form an email is stored, looked up and compared
// in: trimmed, lower-cased and in Unicode NFC, so that the same address typed
// with composed or decomposed accents is one account. Validation refuses
// what normalising cannot make unambiguous (see ValidateEmail).
func NormalizeEmail(s string) string { return norm.NFC.String(strings.ToLower(strings.TrimSpace(s))) }

// NormalizeUsername is NormalizeEmail's rule for usernames.
func NormalizeUsername(s string) string { return NormalizeEmail(s) }

// ValidateEmail reports a problem with an (already normalised) email, or "".
// Beyond the address syntax it refuses invisible and format characters, a
// domain that is not ASCII (an internationalised domain is written in its
// xn-- form), and a local part that mixes scripts the way look-alikes do
// (Latin with Cyrillic or Greek): see LookalikeProblem.
func ValidateEmail(email string) string {
	if email == "" {
		return "is required"
	}
	if len(email) > 254 {
		return "must be at most 254 characters"
	}
	if msg := InvisibleProblem(email); msg != "" {
		return msg
	}
	a, err := mail.ParseAddress(email)
	at := strings.LastIndex(email, "@")
	if err != nil || a.Address != email || at < 0 || !strings.Contains(email[at+1:], ".") && !strings.HasSuffix(email, "@localhost") {
		return "must be a valid email address"
	}
	for _, r := range email[at+1:] {
		if r >= utf8.RuneSelf {
			return "the domain must be ASCII: write an internationalised domain in its xn-- form"
		}
	}
	return LookalikeProblem(email[:at])
}

// ValidateUsername reports a problem with a username, or "". Empty is allowed.
func ValidateUsername(s string) string {
	if msg := InvisibleProblem(s); msg != "" {
		return msg
	}
	if s != "" && !usernameRe.MatchString(s) {
		return "must be 2-32 characters of a-z, 0-9, '.', '_' or '-'"
	}
	return ""
}

// InvisibleProblem refuses, in an email or username, characters a reader
// cannot see or that change how the rest is shown: format characters
// (Unicode Cf: zero-width spaces and joiners, bidi controls, the soft
// hyphen, the BOM), controls, spaces other than none at all, and the few
// letters and marks that render as nothing (Hangul fillers, variation
// selectors, the combining grapheme joiner). Each would make two accounts
// that look like one.
func InvisibleProblem(s string) string {
	for _, r := range s {
		if invisible(r) {
			return fmt.Sprintf("must not contain invisible or formatting characters (found U+%04X)", r)
		}
	}
	return ""
}

func invisible(r rune) bool {
	if r < utf8.RuneSelf {
		return r <= ' ' || r == 0x7f
	}
	switch {
	case unicode.In(r, unicode.Cf, unicode.Cc, unicode.Zs, unicode.Zl, unicode.Zp, unicode.Co, unicode.Cs),
		r == 0x034f, r == 0x115f, r == 0x1160, r == 0x3164, r == 0xffa0, r == 0x2800,
		r >= 0x180b && r <= 0x180f, r >= 0xfe00 && r <= 0xfe0f, r >= 0xe0100 && r <= 0xe01ef,
		r == utf8.RuneError:
		return true
	}
	return false
}

// LookalikeProblem refuses a local part that mixes scripts, Unicode's
// "highly restrictive" level (UTS #39 §5.2): one script, or Latin with the
// scripts written alongside it in Chinese, Japanese or Korean. Digits and
// punctuation (scripts Common and Inherited) go with any. So "rооt" with
// two Cyrillic o's is refused, while "élodie", "иван" and "山田" are not.
// A whole-script look-alike (every letter Cyrillic) is a different address
// and is allowed; docs/users.md says so.
func LookalikeProblem(local string) string {
	var seen []*unicode.RangeTable
	for _, r := range local {
		if r < utf8.RuneSelf {
			if unicode.IsLetter(r) {
				seen = addScript(seen, unicode.Latin)
			}
			continue
		}
		if unicode.In(r, unicode.Common, unicode.Inherited) {
			continue
		}
		seen = addScript(seen, scriptOf(r))
	}
	if len(seen) <= 1 {
		return ""
	}
	for _, allowed := range cjkSets {
		if subset(seen, allowed) {
			return ""
		}
	}
	return "must not mix scripts (such as Latin with Cyrillic or Greek) in the part before the @"
}

var cjkSets = [][]*unicode.RangeTable{
	{unicode.Latin, unicode.Han, unicode.Hiragana, unicode.Katakana},
	{unicode.Latin, unicode.Han, unicode.Bopomofo},
	{unicode.Latin, unicode.Han, unicode.Hangul},
}

// scriptOf is r's script table, or nil for one Go does not name.
func scriptOf(r rune) *unicode.RangeTable {
	for _, t := range unicode.Scripts {
		if unicode.Is(t, r) {
			return t
		}
	}
	return nil
}

func addScript(seen []*unicode.RangeTable, t *unicode.RangeTable) []*unicode.RangeTable {
	if slices.Contains(seen, t) {
		return seen
	}
	return append(seen, t)
}

func subset(a, b []*unicode.RangeTable) bool {
	for _, t := range a {
		if !slices.Contains(b, t) {
			return false
		}
	}
	return true
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
