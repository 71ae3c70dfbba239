package steward

import (
	"net/netip"
	"slices"
	"time"
)

// KeyType is what a key is for and where it is accepted.
type KeyType string

const (
	// KeyUser is an end user's key for the product's API: verified through
	// the platform surface, never accepted on the admin surface.
	KeyUser KeyType = "user"
	// KeyAdmin is automation acting for one operator, capped by its scopes
	// and by the operator's current role.
	KeyAdmin KeyType = "admin"
	// KeyPlatform is the product's backend: the platform surface, and the
	// admin surface within its scopes.
	KeyPlatform KeyType = "platform"
)

// Letter is the type's letter in the key text: <prefix>_<letter>_<secret>.
func (t KeyType) Letter() string {
	switch t {
	case KeyUser:
		return "u"
	case KeyAdmin:
		return "a"
	case KeyPlatform:
		return "p"
	}
	return ""
}

// Valid reports whether t is a known key type.
func (t KeyType) Valid() bool { return t.Letter() != "" }

// KeyStatus is a key's state as shown to operators.
type KeyStatus string

const (
	KeyActive   KeyStatus = "active"
	KeyRevoked  KeyStatus = "revoked"
	KeyExpired  KeyStatus = "expired"
	KeyDisabled KeyStatus = "disabled"
)

// APIKey is a key's stored settings. The secret itself is never stored, only
// its SHA-256.
type APIKey struct {
	ID           string       `json:"id"`
	Name         string       `json:"name"`
	Type         KeyType      `json:"key_type"`
	Purpose      string       `json:"purpose"`
	TenantID     string       `json:"tenant_id"`
	UserID       string       `json:"user_id"`
	Scopes       []Permission `json:"scopes"`
	RateLimitRPM int          `json:"rate_limit_rpm"` // 0 = unlimited
	ExpiresAt    *time.Time   `json:"expires_at"`
	AllowedIPs   []string     `json:"allowed_ips"` // CIDRs; empty = any
	// Status is the stored state: active, or disabled by a cascade, or
	// revoked. A revocation may be scheduled (RevokedAt in the future, the
	// grace period of a rotation); State tells what holds at a given time.
	Status        KeyStatus  `json:"status"`
	RevokedAt     *time.Time `json:"revoked_at"`
	RevokedReason string     `json:"revoked_reason"`
	RotatedFrom   string     `json:"rotated_from"`
	KeyPrefix     string     `json:"key_prefix"` // e.g. "stw_a_" + first 4 secret characters
	LastFour      string     `json:"last_four"`
	LastUsedAt    *time.Time `json:"last_used_at"`
	LastUsedIP    string     `json:"last_used_ip"`
	CreatedBy     string     `json:"created_by"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`

	SecretHash []byte `json:"-"`
}

// State is the key's own state at now, before its owner is considered.
func (k *APIKey) State(now time.Time) KeyStatus {
	switch {
	case k.Status == KeyRevoked, k.RevokedAt != nil && !now.Before(*k.RevokedAt):
		return KeyRevoked
	case k.ExpiresAt != nil && !now.Before(*k.ExpiresAt):
		return KeyExpired
	case k.Status == KeyDisabled:
		return KeyDisabled
	}
	return KeyActive
}

// AllowsIP reports whether ip may use the key. A key without allowed_ips
// allows every address; an unparsable ip is allowed only then.
func (k *APIKey) AllowsIP(ip string) bool {
	if len(k.AllowedIPs) == 0 {
		return true
	}
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	addr = addr.Unmap()
	for _, c := range k.AllowedIPs {
		if p, err := netip.ParsePrefix(c); err == nil && p.Contains(addr) {
			return true
		}
	}
	return false
}

// HasScope reports whether the key carries scope (or "*").
func (k *APIKey) HasScope(scope Permission) bool {
	return slices.Contains(k.Scopes, PermAll) || slices.Contains(k.Scopes, scope)
}

// Verification codes of POST /platform/keys/verify.
const (
	VerifyValid             = "VALID"
	VerifyNotFound          = "NOT_FOUND"
	VerifyRevoked           = "REVOKED"
	VerifyExpired           = "EXPIRED"
	VerifyDisabled          = "DISABLED"
	VerifyIPNotAllowed      = "IP_NOT_ALLOWED"
	VerifyRateLimited       = "RATE_LIMITED"
	VerifyOwnerInactive     = "OWNER_INACTIVE"
	VerifyInsufficientScope = "INSUFFICIENT_SCOPE"
)

// KeyFilter selects keys, newest first. Status is the key's own state at
// Now, as APIKey.State computes it (an owner's state is not considered).
type KeyFilter struct {
	TenantID string
	UserID   string
	Status   KeyStatus
	Type     KeyType
	Now      time.Time
	Before   string
	Limit    int
}

// KeyUse is one recorded use of a key, flushed to the store in batches.
type KeyUse struct {
	KeyID string
	At    time.Time
	IP    string
}

// KeyStats counts keys for GET /admin/api-keys/stats.
type KeyStats struct {
	ByStatus  map[KeyStatus]int64 `json:"by_status"`
	ByType    map[KeyType]int64   `json:"by_type"`
	Total     int64               `json:"total"`
	Created24 int64               `json:"created_last_24h"`
	Created30 int64               `json:"created_last_30d"`
	Used24    int64               `json:"used_last_24h"`
	Used30    int64               `json:"used_last_30d"`
}

// IdempotencyRecord remembers the first answer to a POST sent with an
// Idempotency-Key. KeyHash is the SHA-256 of the caller's scope and key;
// the key itself is never stored, and Body is sealed under a key derived
// from it, so a stored answer (a new API key's secret, say) cannot be read
// back without the Idempotency-Key the client holds.
type IdempotencyRecord struct {
	KeyHash     []byte
	RequestHash []byte
	Status      int // 0 while the first request is still running
	Body        []byte
	CreatedAt   time.Time
	ExpiresAt   time.Time
}

// KeyOwner is the part of a key's owner that verification needs, read in
// the same query as the key.
type KeyOwner struct {
	ID           string
	Role         Role
	Status       UserStatus
	BanExpiresAt *time.Time
	TenantID     string
	// TenantStatus is the status of the owner's tenant ("" without one).
	TenantStatus TenantStatus
}

// IsActive reports whether the owner may act at now (an expired ban counts
// as lifted, as for User.IsActive) and their tenant, if any, is active.
func (o *KeyOwner) IsActive(now time.Time) bool {
	if o.TenantStatus != "" && o.TenantStatus != TenantActive {
		return false
	}
	u := User{Status: o.Status}
	if o.Status == StatusBanned {
		u.Ban = &Ban{ExpiresAt: o.BanExpiresAt}
	}
	return u.IsActive(now)
}
