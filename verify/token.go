package verify

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/stewardhq/steward"
)

// Issuer is the iss claim of Steward's access tokens.
const Issuer = "steward"

// DefaultLeeway is how far this process's clock may be off Steward's when
// exp and nbf are checked.
const DefaultLeeway = 5 * time.Second

// Token verification errors. Every refusal of a token wraps ErrInvalidToken
// or ErrTokenExpired; any other error (ErrJWKSUnavailable) means no verdict
// could be reached.
var (
	ErrInvalidToken    = errors.New("verify: invalid access token")
	ErrTokenExpired    = errors.New("verify: access token expired")
	ErrJWKSUnavailable = errors.New("verify: Steward's JWKS is unavailable")
)

// WithLeeway sets how far this process's clock may be off Steward's when a
// token's exp and nbf are checked (default DefaultLeeway; 0 is strict). It
// adds to how long an access token is accepted after its expiry.
func WithLeeway(d time.Duration) Option {
	return func(c *Client) {
		if d >= 0 {
			c.leeway = d
		}
	}
}

// Claims are what a verified access token says.
type Claims struct {
	Subject   string       // the user id (sub)
	TenantID  string       // tid; "" for a user without a tenant
	Role      steward.Role // the user's platform role when the token was minted
	Version   int64        // ver: the user's token_version when it was minted
	SessionID string       // sid
	// Actor is the impersonating operator's id (act.sub) under
	// impersonation, else "".
	Actor     string
	ReadOnly  bool // under a read-only impersonation
	ExpiresAt time.Time
}

// accessClaims is the wire form of Steward's access token claims.
type accessClaims struct {
	jwt.Claims
	TenantID string `json:"tid"`
	Role     string `json:"role"`
	Ver      int64  `json:"ver"`
	SID      string `json:"sid"`
	Act      *struct {
		Sub string `json:"sub"`
	} `json:"act"`
	ReadOnly bool `json:"read_only"`
}

// VerifyAccessToken checks an access token locally: an EdDSA signature by a
// key in Steward's JWKS (named by the token's kid), iss "steward", and
// exp/nbf against the client's clock (with WithLeeway's tolerance). Refusals
// wrap ErrInvalidToken or ErrTokenExpired; ErrJWKSUnavailable means the keys
// could not be fetched.
//
// Local verification cannot see anything that happened in Steward after the
// token was minted: a logout, a revoked session, a force logout, a ban or a
// suspension leaves the token accepted here until it expires (at most
// Steward's access token lifetime, 15 minutes by default, plus the leeway).
// Nor is the ver claim compared with the user's current token_version.
// Products that need revocation to take effect at once must send the session
// token to Steward instead (GET /api/v1/auth/me with it, which checks the
// live session, the user's state and token_version on every call).
func (c *Client) VerifyAccessToken(ctx context.Context, token string) (*Claims, error) {
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	if len(tok.Headers) != 1 || tok.Headers[0].KeyID == "" {
		return nil, fmt.Errorf("%w: expected one signature naming its kid", ErrInvalidToken)
	}
	pub, err := c.jwks.publicKey(ctx, c, tok.Headers[0].KeyID)
	if err != nil {
		return nil, err
	}
	var ac accessClaims
	if err := tok.Claims(pub, &ac); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	now := c.now()
	switch {
	case ac.Issuer != Issuer:
		return nil, fmt.Errorf("%w: issuer %q", ErrInvalidToken, ac.Issuer)
	case ac.Subject == "":
		return nil, fmt.Errorf("%w: no subject", ErrInvalidToken)
	case ac.Expiry == nil:
		return nil, fmt.Errorf("%w: no expiry", ErrInvalidToken)
	case ac.NotBefore != nil && now.Add(c.leeway).Before(ac.NotBefore.Time()):
		return nil, fmt.Errorf("%w: not valid before %s", ErrInvalidToken, ac.NotBefore.Time().UTC().Format(time.RFC3339))
	case !now.Before(ac.Expiry.Time().Add(c.leeway)):
		return nil, fmt.Errorf("%w at %s", ErrTokenExpired, ac.Expiry.Time().UTC().Format(time.RFC3339))
	}
	cl := &Claims{Subject: ac.Subject, TenantID: ac.TenantID, Role: steward.Role(ac.Role), Version: ac.Ver,
		SessionID: ac.SID, ReadOnly: ac.ReadOnly, ExpiresAt: ac.Expiry.Time().UTC()}
	if ac.Act != nil {
		cl.Actor = ac.Act.Sub
	}
	return cl, nil
}

// jwksCache holds Steward's public signing keys by kid.
type jwksCache struct {
	refresh    time.Duration // fetch again when the set is this old
	minRefetch time.Duration // never fetch more often than this

	mu        sync.RWMutex
	keys      map[string]ed25519.PublicKey // nil until the first fetch succeeds
	fetchedAt time.Time                    // last successful fetch

	fetchMu   sync.Mutex // one fetch at a time; guards the fields below
	attemptAt time.Time
	lastErr   error
}

func (j *jwksCache) lookup(kid string, now time.Time) (pub ed25519.PublicKey, known, fresh bool) {
	j.mu.RLock()
	defer j.mu.RUnlock()
	pub, known = j.keys[kid]
	return pub, known, j.keys != nil && now.Sub(j.fetchedAt) < j.refresh
}

// publicKey returns the key named kid. The set is fetched the first time,
// again once it is older than refresh, and again when kid is unknown — but
// never twice within minRefetch. When a periodic refresh fails, the keys
// already known keep working.
func (j *jwksCache) publicKey(ctx context.Context, c *Client, kid string) (ed25519.PublicKey, error) {
	if pub, known, fresh := j.lookup(kid, c.now()); known && fresh {
		return pub, nil
	}
	j.fetchMu.Lock()
	defer j.fetchMu.Unlock()
	now := c.now()
	pub, known, fresh := j.lookup(kid, now) // another request may have fetched meanwhile
	if known && fresh {
		return pub, nil
	}
	if j.attemptAt.IsZero() || now.Sub(j.attemptAt) >= j.minRefetch {
		j.attemptAt = now
		// The fetch serves every waiting request, so the one that happens
		// to run it must not cancel it for the others.
		j.lastErr = j.fetch(context.WithoutCancel(ctx), c, now)
		pub, known, _ = j.lookup(kid, now)
	}
	if known {
		return pub, nil
	}
	if j.lastErr != nil {
		return nil, fmt.Errorf("%w: %v", ErrJWKSUnavailable, j.lastErr)
	}
	return nil, fmt.Errorf("%w: unknown kid %q", ErrInvalidToken, kid)
}

// fetch replaces the key set with Steward's current one. Keys that are not
// Ed25519 signing keys are ignored.
func (j *jwksCache) fetch(ctx context.Context, c *Client, now time.Time) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+jwksPath, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	raw, status, hdr, err := c.do(req)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return apiError(status, hdr, raw)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(raw, &set); err != nil {
		return fmt.Errorf("verify: decoding the JWKS: %w", err)
	}
	keys := make(map[string]ed25519.PublicKey, len(set.Keys))
	for _, k := range set.Keys {
		pub, ok := k.Key.(ed25519.PublicKey)
		if !ok || k.KeyID == "" || (k.Use != "" && k.Use != "sig") ||
			(k.Algorithm != "" && k.Algorithm != string(jose.EdDSA)) {
			continue
		}
		keys[k.KeyID] = pub
	}
	j.mu.Lock()
	j.keys, j.fetchedAt = keys, now
	j.mu.Unlock()
	return nil
}
