package steward

import "time"

// Session is a login session. The token itself is never stored, only its hash.
type Session struct {
	ID             string     `json:"id"`
	UserID         string     `json:"user_id"`
	TokenHash      []byte     `json:"-"`
	CreatedAt      time.Time  `json:"created_at"`
	ExpiresAt      time.Time  `json:"expires_at"`
	LastSeenAt     time.Time  `json:"last_seen_at"`
	IP             string     `json:"ip"`
	UserAgent      string     `json:"user_agent"`
	RevokedAt      *time.Time `json:"revoked_at"`
	RevokedReason  string     `json:"revoked_reason"`
	ImpersonatorID string     `json:"impersonator_id"`
	// ImpersonationID names the impersonation that issued the session, else "".
	ImpersonationID string `json:"impersonation_id,omitempty"`
	ReadOnly        bool   `json:"read_only"`
}

// Session states as reported and filtered on.
const (
	SessionActive  = "active"
	SessionRevoked = "revoked"
	SessionExpired = "expired"
)

// State is active, revoked or expired at now.
func (s *Session) State(now time.Time) string {
	switch {
	case s.RevokedAt != nil:
		return SessionRevoked
	case !now.Before(s.ExpiresAt):
		return SessionExpired
	}
	return SessionActive
}

// SessionFilter selects sessions, newest first. Status is evaluated at Now.
type SessionFilter struct {
	UserID string
	Status string
	Now    time.Time
	Before string
	Limit  int
}

// SigningKey is an Ed25519 key that signs access tokens. Retired keys no longer
// sign but stay published until the tokens they signed have expired.
type SigningKey struct {
	ID         string
	PrivateKey []byte // ed25519.PrivateKey
	CreatedAt  time.Time
	RetiredAt  *time.Time
}
