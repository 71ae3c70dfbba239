package service

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/id"
	"github.com/stewardhq/steward/store"
)

// Issuer is the iss claim of Steward's access tokens.
const Issuer = "steward"

// keyRing caches the signing keys, which live in the database so that every
// replica signs and verifies with the same set and a restart keeps tokens valid.
type keyRing struct {
	s        *core
	mu       sync.RWMutex
	keys     []*ringKey
	reloaded time.Time
	// sealed is set once ensure has brought every stored key to the form
	// the configured secret asks for (see seal), which it does once, at
	// Start, so that a wrong or missing secret stops the start.
	sealed bool
	// unopened remembers keys already reported as impossible to decrypt,
	// so a reload logs each once.
	unopened map[string]bool
}

// ringKey is a signing key as the ring holds it: the private half in the
// clear and the public half. Private is nil when this process cannot open
// the key (see Service.open): sealed with a secret it lacks, or not written
// by Steward; such a key neither signs, verifies nor is published.
type ringKey struct {
	ID        string
	Public    ed25519.PublicKey
	Private   ed25519.PrivateKey
	CreatedAt time.Time
	RetiredAt *time.Time
	openErr   error // why Private is nil
}

// publishDelay is how long a new signing key is only published before it
// signs: every replica reloads its key set at least once a minute, so by
// then every replica's JWKS shows the key its tokens will name.
const publishDelay = 2 * time.Minute

// ensure creates the first signing key, or a successor once the newest is
// older than SigningKeyMaxAge, and retires keys that a successor replaced.
// A retired key no longer signs but stays published until the tokens it
// signed have expired.
func (k *keyRing) ensure(ctx context.Context) error {
	ctx = steward.WithActor(ctx, steward.SystemActor)
	now := k.s.now()
	k.mu.RLock()
	sealed := k.sealed
	k.mu.RUnlock()
	err := k.s.update(ctx, func(tx store.Tx) error {
		// The sealer lock (no longer taken by writers) serialises
		// replicas starting together: one creates the first key.
		if _, _, err := tx.LockAuditHead(ctx); err != nil {
			return err
		}
		keys, err := tx.ListSigningKeys(ctx)
		if err != nil {
			return err
		}
		if !sealed {
			if err := k.s.seal(ctx, tx, keys); err != nil {
				return err
			}
			if err := k.s.sealWebhookSecrets(ctx, tx); err != nil {
				return err
			}
		}
		if len(keys) > 0 {
			newest := keys[len(keys)-1]
			signsFrom := newest.CreatedAt.Add(publishDelay)
			for _, old := range keys[:len(keys)-1] {
				if old.RetiredAt == nil && !now.Before(signsFrom) {
					old.RetiredAt = &signsFrom
					if err := tx.UpdateSigningKey(ctx, old); err != nil {
						return err
					}
					if err := k.s.audit(ctx, tx, event{Action: "signing_key.retire", TargetType: "signing_key",
						TargetID: old.ID, Metadata: map[string]any{"successor": newest.ID}}); err != nil {
						return err
					}
				}
			}
			if now.Sub(newest.CreatedAt) < k.s.cfg.SigningKeyMaxAge {
				return nil
			}
		}
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return err
		}
		nk := &steward.SigningKey{ID: id.New("jwk", now), CreatedAt: now}
		if nk.PrivateKey, err = k.s.wrap(nk.ID, priv); err != nil {
			return err
		}
		if err := tx.InsertSigningKey(ctx, nk); err != nil {
			return err
		}
		return k.s.audit(ctx, tx, event{Action: "signing_key.create", TargetType: "signing_key", TargetID: nk.ID})
	})
	if err != nil {
		return err
	}
	if err := k.reload(ctx); err != nil {
		return err
	}
	if !sealed {
		// A start with a key this process cannot decrypt fails here
		// rather than at the first login.
		k.mu.Lock()
		defer k.mu.Unlock()
		for _, key := range k.keys {
			if key.openErr != nil {
				return fmt.Errorf("signing key %s: %w", key.ID, key.openErr)
			}
		}
		k.sealed = true
	}
	return nil
}

// reload reads the key set. A key already held keeps its decrypted private
// half (so a replica still on the old secret during a rotation signs on); a
// new one is opened, and one that cannot be is left out of use and
// reported once in the log.
func (k *keyRing) reload(ctx context.Context) error {
	stored, err := k.s.store.ListSigningKeys(ctx)
	if err != nil {
		return err
	}
	k.mu.RLock()
	held := make(map[string]*ringKey, len(k.keys))
	for _, key := range k.keys {
		held[key.ID] = key
	}
	k.mu.RUnlock()
	keys := make([]*ringKey, 0, len(stored))
	for _, sk := range stored {
		key := &ringKey{ID: sk.ID, CreatedAt: sk.CreatedAt, RetiredAt: sk.RetiredAt}
		pub, err := publicKeyOf(sk)
		switch h := held[sk.ID]; {
		case err != nil: // a malformed row is left out, not fatal to the rest
			key.openErr = err
		case h != nil && h.Private != nil && h.Public.Equal(pub):
			key.Public = pub
			key.Private = h.Private
		default:
			key.Public = pub
			key.Private, key.openErr = k.s.open(sk)
		}
		keys = append(keys, key)
	}
	k.mu.Lock()
	k.keys, k.reloaded = keys, k.s.now()
	var report []error
	if k.sealed { // before that, ensure reports them as a failed start
		if k.unopened == nil {
			k.unopened = map[string]bool{}
		}
		for _, key := range keys {
			if key.openErr != nil && !k.unopened[key.ID] {
				k.unopened[key.ID] = true
				report = append(report, fmt.Errorf("signing key %s: %w", key.ID, key.openErr))
			}
		}
	}
	k.mu.Unlock()
	if len(report) > 0 {
		k.s.log.ErrorContext(ctx, "signing keys left out: this process cannot open them, so it neither signs nor verifies with them",
			"err", errors.Join(report...))
	}
	return nil
}

// current is the key to sign with: the newest unretired key that has been
// published for publishDelay, or failing that (a first start) the newest.
func (k *keyRing) current() *ringKey {
	k.mu.RLock()
	defer k.mu.RUnlock()
	now := k.s.now()
	var fallback *ringKey
	for i := len(k.keys) - 1; i >= 0; i-- {
		key := k.keys[i]
		if key.RetiredAt != nil || key.Private == nil {
			continue
		}
		if now.Sub(key.CreatedAt) >= publishDelay {
			return key
		}
		if fallback == nil {
			fallback = key
		}
	}
	return fallback
}

// find returns the public key for kid. An unknown kid (another replica
// rotated) reloads from the database, at most once a second.
func (k *keyRing) find(ctx context.Context, kid string) (ed25519.PublicKey, bool) {
	look := func() (ed25519.PublicKey, bool, time.Time) {
		k.mu.RLock()
		defer k.mu.RUnlock()
		for _, key := range k.keys {
			if key.ID == kid && key.Private != nil {
				return key.Public, true, k.reloaded
			}
		}
		return nil, false, k.reloaded
	}
	pub, ok, at := look()
	if ok || k.s.now().Sub(at) < time.Second {
		return pub, ok
	}
	if err := k.reload(ctx); err != nil {
		k.s.log.ErrorContext(ctx, "reloading signing keys", "err", err)
		return nil, false
	}
	pub, ok, _ = look()
	return pub, ok
}

// accessClaims are the claims of an access JWT.
type accessClaims struct {
	jwt.Claims
	TenantID string    `json:"tid"`
	Role     string    `json:"role"`
	Ver      int64     `json:"ver"`
	SID      string    `json:"sid"`
	Act      *actClaim `json:"act,omitempty"`
	ReadOnly bool      `json:"read_only,omitempty"`
}

// actClaim is RFC 8693's actor claim, naming the impersonating operator.
type actClaim struct {
	Sub string `json:"sub"`
}

var errNoSigningKey = errors.New("service: no signing key; call Start first")

// signAccess mints an access token for a session.
func (s *Auth) signAccess(u *steward.User, sess *steward.Session) (string, time.Time, error) {
	key := s.keys.current()
	if key == nil {
		return "", time.Time{}, errNoSigningKey
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA,
		Key: jose.JSONWebKey{Key: key.Private, KeyID: key.ID}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", time.Time{}, err
	}
	now := s.now()
	exp := now.Add(s.cfg.AccessTokenTTL)
	if exp.After(sess.ExpiresAt) {
		exp = sess.ExpiresAt
	}
	c := accessClaims{
		Claims: jwt.Claims{Issuer: Issuer, Subject: u.ID, IssuedAt: jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(exp), ID: id.New("jti", now)},
		TenantID: u.TenantID, Role: string(u.Role), Ver: u.TokenVersion, SID: sess.ID,
		ReadOnly: sess.ReadOnly,
	}
	if sess.ImpersonatorID != "" {
		c.Act = &actClaim{Sub: sess.ImpersonatorID}
	}
	tok, err := jwt.Signed(signer).Claims(c).Serialize()
	return tok, exp, err
}

// verifiedTokens remembers access tokens whose signature already checked
// out. A signature is a pure function of the token and a public key that
// never changes, so this skips the Ed25519 verification on repeat requests;
// expiry and everything in the database are still checked every time.
type verifiedTokens struct {
	mu sync.RWMutex
	m  map[string]*accessClaims
}

// maxVerifiedTokens bounds the cache; past it the cache starts afresh.
const maxVerifiedTokens = 50_000

func (v *verifiedTokens) get(raw string) *accessClaims {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.m[raw]
}

func (v *verifiedTokens) put(raw string, c *accessClaims) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.m == nil || len(v.m) >= maxVerifiedTokens {
		v.m = make(map[string]*accessClaims)
	}
	v.m[raw] = c
}

// parseAccess checks an access token's signature, issuer and expiry.
func (s *Auth) parseAccess(ctx context.Context, raw string) (*accessClaims, error) {
	if c := s.verified.get(raw); c != nil {
		if err := c.ValidateWithLeeway(jwt.Expected{Issuer: Issuer, Time: s.now()}, 0); err != nil {
			return nil, errUnauthenticated
		}
		return c, nil
	}
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil || len(tok.Headers) != 1 {
		return nil, errUnauthenticated
	}
	pub, ok := s.keys.find(ctx, tok.Headers[0].KeyID)
	if !ok {
		return nil, errUnauthenticated
	}
	var c accessClaims
	if err := tok.Claims(pub, &c); err != nil {
		return nil, errUnauthenticated
	}
	if err := c.ValidateWithLeeway(jwt.Expected{Issuer: Issuer, Time: s.now()}, 0); err != nil {
		return nil, errUnauthenticated
	}
	s.verified.put(raw, &c)
	return &c, nil
}

// JWKS implements steward.AuthService: every unretired key, and retired keys
// whose tokens may still be alive.
func (s *Auth) JWKS(ctx context.Context) ([]byte, error) {
	if err := s.keys.reloadIfStale(ctx); err != nil {
		return nil, err
	}
	s.keys.mu.RLock()
	defer s.keys.mu.RUnlock()
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	now := s.now()
	for _, k := range s.keys.keys {
		if k.Private == nil || k.RetiredAt != nil && now.Sub(*k.RetiredAt) > s.cfg.AccessTokenTTL {
			continue
		}
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.Public,
			KeyID: k.ID, Algorithm: string(jose.EdDSA), Use: "sig"})
	}
	return json.Marshal(set)
}

// reloadIfStale refreshes the cache once a minute so a replica publishes
// keys another replica created.
func (k *keyRing) reloadIfStale(ctx context.Context) error {
	k.mu.RLock()
	stale := k.s.now().Sub(k.reloaded) > time.Minute
	k.mu.RUnlock()
	if !stale {
		return nil
	}
	return k.reload(ctx)
}
