package service

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/id"
	"github.com/stewardhq/steward/store"
)

// TrustedIssuer is one external identity provider whose JWTs the admin
// surface accepts (STEWARD_TRUSTED_ISSUERS; docs/operators.md).
type TrustedIssuer struct {
	Issuer     string       `json:"issuer"`
	Audience   string       `json:"audience"`
	JWKSURL    string       `json:"jwks_url"`
	EmailClaim string       `json:"email_claim"` // default "email"
	RoleClaim  string       `json:"role_claim"`  // default "role"
	MaxRole    steward.Role `json:"max_role"`    // default admin
	// Provision creates an operator for an email Steward does not know, and
	// lets the token's role stand without the stored role capping it.
	Provision bool `json:"provision"`
}

// IssuerCredentialPrefix starts the credential id that audit entries record
// for a request made with an external issuer's token: "iss:" + the issuer.
const IssuerCredentialPrefix = "iss:"

// issuerLeeway is the clock skew allowed on exp, nbf and iat.
const issuerLeeway = 60 * time.Second

// issuerAlgorithms are the only signature algorithms accepted from an
// external issuer: asymmetric ones. "none" and HS* are never in the list, so
// a token signed with a public key as an HMAC secret cannot even be parsed.
var issuerAlgorithms = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512, jose.EdDSA,
}

// ParseTrustedIssuers reads the trusted-issuer file: a JSON array of
// TrustedIssuer, unknown fields refused, defaults filled in. An error names
// the entry (from 1) and the field.
func ParseTrustedIssuers(data []byte) ([]TrustedIssuer, error) {
	var raw []json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("want a JSON array of issuers: %w", err)
	}
	if dec.More() {
		return nil, errors.New("trailing data after the JSON array")
	}
	out := make([]TrustedIssuer, 0, len(raw))
	seen := map[string]bool{}
	for i, r := range raw {
		var ti TrustedIssuer
		d := json.NewDecoder(bytes.NewReader(r))
		d.DisallowUnknownFields()
		if err := d.Decode(&ti); err != nil {
			return nil, fmt.Errorf("entry %d: %s", i+1, strings.TrimPrefix(err.Error(), "json: "))
		}
		if err := ti.validate(); err != nil {
			return nil, fmt.Errorf("entry %d (%q): %w", i+1, ti.Issuer, err)
		}
		if seen[ti.Issuer] {
			return nil, fmt.Errorf("entry %d (%q): issuer: listed twice", i+1, ti.Issuer)
		}
		seen[ti.Issuer] = true
		out = append(out, ti)
	}
	return out, nil
}

// validate fills the defaults and checks each field.
func (ti *TrustedIssuer) validate() error {
	if ti.EmailClaim == "" {
		ti.EmailClaim = "email"
	}
	if ti.RoleClaim == "" {
		ti.RoleClaim = "role"
	}
	if ti.MaxRole == "" {
		ti.MaxRole = steward.RoleAdmin
	}
	switch {
	case ti.Issuer == "" || len(ti.Issuer) > 256 || steward.CheckText(ti.Issuer, false) != "":
		return errors.New("issuer: required, at most 256 characters")
	case ti.Issuer == Issuer:
		return fmt.Errorf("issuer: %q is Steward's own", Issuer)
	case ti.Audience == "" || steward.CheckText(ti.Audience, false) != "":
		return errors.New("audience: required")
	case !ti.MaxRole.IsOperator():
		return fmt.Errorf("max_role: %q is not an operator role (support, admin, owner, super_admin)", ti.MaxRole)
	}
	if u, err := url.Parse(ti.JWKSURL); err != nil || !secureURL(u) {
		return errors.New("jwks_url: want an https URL (http only to a loopback address)")
	}
	return nil
}

// secureURL: https, or plain http to a loopback address.
func secureURL(u *url.URL) bool {
	return u.Host != "" && (u.Scheme == "https" || u.Scheme == "http" && loopbackHost(u.Hostname()))
}

// loopbackHost: plain HTTP is allowed only where nobody can sit in between.
func loopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// Issuers authenticates operators by the JWTs of trusted external
// identity providers.
type Issuers struct {
	*core
	users    *Users // how an operator is shown
	byIssuer map[string]*trustedIssuer
}

type trustedIssuer struct {
	TrustedIssuer
	keys *jwksCache
}

func newIssuers(c *core, users *Users) *Issuers {
	s := &Issuers{core: c, users: users, byIssuer: map[string]*trustedIssuer{}}
	client := jwksClient()
	for _, ti := range c.cfg.TrustedIssuers {
		s.byIssuer[ti.Issuer] = &trustedIssuer{TrustedIssuer: ti, keys: newJWKSCache(ti.JWKSURL, client, c.now)}
	}
	return s
}

// jwksClient fetches key sets: bounded in time, and a redirect may not
// downgrade the fetch to plain HTTP.
func jwksClient() *http.Client {
	return &http.Client{Timeout: jwksTimeout, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) >= 5 || !secureURL(req.URL) {
			return errors.New("jwks: redirect refused")
		}
		return nil
	}}
}

// authenticate takes a JWT whose (unverified) iss names a trusted issuer;
// ok is false for any other token, which Auth then reads as its own.
func (s *Issuers) authenticate(ctx context.Context, raw string) (p *steward.Principal, ok bool, err error) {
	if len(s.byIssuer) == 0 {
		return nil, false, nil
	}
	tok, err := jwt.ParseSigned(raw, issuerAlgorithms)
	if err != nil {
		return nil, false, nil
	}
	var peek jwt.Claims
	if tok.UnsafeClaimsWithoutVerification(&peek) != nil {
		return nil, false, nil
	}
	ti := s.byIssuer[peek.Issuer]
	if ti == nil {
		return nil, false, nil
	}
	p, err = s.verify(ctx, ti, tok)
	return p, true, err
}

// verify checks the token against ti and resolves the operator.
func (s *Issuers) verify(ctx context.Context, ti *trustedIssuer, tok *jwt.JSONWebToken) (*steward.Principal, error) {
	if len(tok.Headers) != 1 {
		return nil, errUnauthenticated
	}
	h := tok.Headers[0]
	key, ok := ti.keys.key(ctx, h.KeyID)
	if !ok || (key.Algorithm != "" && key.Algorithm != h.Algorithm) {
		return nil, errUnauthenticated
	}
	var std jwt.Claims
	var extra map[string]any
	if err := tok.Claims(key.Key, &std, &extra); err != nil {
		return nil, errUnauthenticated
	}
	now := s.now()
	// A token without an expiry would be good forever: refused.
	if std.Expiry == nil || std.ValidateWithLeeway(jwt.Expected{Issuer: ti.Issuer,
		AnyAudience: jwt.Audience{ti.Audience}, Time: now}, issuerLeeway) != nil {
		return nil, errUnauthenticated
	}
	email, _ := extra[ti.EmailClaim].(string)
	email = steward.NormalizeEmail(email)
	claimed, _ := extra[ti.RoleClaim].(string)
	role := steward.Role(claimed)
	if email == "" || steward.ValidateEmail(email) != "" || !role.Valid() {
		return nil, errUnauthenticated
	}
	role = leastRole(role, ti.MaxRole)
	if !role.IsOperator() {
		return nil, steward.Errorf(steward.CodeForbidden, "the token's role %q gives no admin access", claimed)
	}
	actor := steward.Actor{Type: steward.ActorOperator, Role: role, CredentialID: IssuerCredentialPrefix + ti.Issuer}
	u, err := s.cachedUserByEmail(ctx, email)
	switch {
	case errors.Is(err, store.ErrNotFound) && ti.Provision:
		if u, err = s.provision(ctx, actor, email); err != nil {
			return nil, err
		}
	case errors.Is(err, store.ErrNotFound):
		return nil, errUnauthenticated
	case err != nil:
		return nil, err
	}
	// Suspended, banned or deleted: refused whatever the token says. An
	// end user's account is never made an operator by a matching email.
	if !u.IsActive(now) || !u.Role.IsOperator() {
		return nil, errUnauthenticated
	}
	cp := *u // the cached row is shared
	u = &cp
	actor.ID = u.ID
	switch {
	case !ti.Provision:
		actor.Role = leastRole(actor.Role, u.Role)
	case u.Role != actor.Role:
		// A provisioning issuer owns the role: the stored one follows it, so
		// the checks that re-read it in a transaction see the same role.
		if u, err = s.syncRole(ctx, actor); err != nil {
			return nil, err
		}
	}
	return &steward.Principal{Actor: actor, User: s.users.present(u)}, nil
}

// provision creates the operator a provisioning issuer vouches for, audited
// as operator.provision by that operator through that issuer. Two first
// requests at once: the loser reads the winner's operator.
func (s *Issuers) provision(ctx context.Context, actor steward.Actor, email string) (*steward.User, error) {
	now := s.now()
	u := &steward.User{ID: id.New("usr", now), Email: email, Role: actor.Role, Status: steward.StatusActive,
		Tags: []string{}, Metadata: map[string]any{}, EmailVerified: true, CreatedAt: now, UpdatedAt: now}
	actor.ID = u.ID
	ctx = steward.WithActor(ctx, actor)
	if err := switchOn(ctx, s.store, SwitchUserCreation); err != nil {
		return nil, err
	}
	err := s.update(ctx, func(tx store.Tx) error {
		if err := tx.CreateUser(ctx, u); err != nil {
			return err
		}
		return s.audit(ctx, tx, event{Action: "operator.provision", TargetType: "user", TargetID: u.ID,
			Changes:  userDiff(&steward.User{}, u),
			Metadata: map[string]any{"issuer": strings.TrimPrefix(actor.CredentialID, IssuerCredentialPrefix)}})
	})
	var dup *store.DuplicateError
	if errors.As(err, &dup) {
		return s.store.GetUserByEmail(ctx, email)
	}
	return u, err
}

// syncRole sets the operator's stored role to the one a provisioning
// issuer's token carries, audited as operator.role_sync. A demotion that
// would leave no active owner is not stored (the request still runs at the
// token's lower role: the in-transaction checks take the lower of the two).
func (s *Issuers) syncRole(ctx context.Context, actor steward.Actor) (*steward.User, error) {
	ctx = steward.WithActor(ctx, actor)
	var out *steward.User
	err := s.update(ctx, func(tx store.Tx) error {
		if err := tx.LockOperators(ctx); err != nil {
			return err
		}
		u, err := tx.GetUser(ctx, actor.ID)
		if err != nil {
			return err
		}
		out = u
		if u.Role == actor.Role || !u.IsActive(s.now()) {
			return nil
		}
		if actor.Role.Rank() < u.Role.Rank() {
			var se *steward.Error
			if err := s.guardLastOwner(ctx, tx, u); errors.As(err, &se) && se.Code == steward.CodeLastActiveOwner {
				return nil
			} else if err != nil {
				return err
			}
		}
		before := cloneUser(u)
		u.Role, u.UpdatedAt = actor.Role, s.now()
		if err := tx.UpdateUser(ctx, u); err != nil {
			return err
		}
		if err := s.endImpersonationsOf(ctx, tx, u, "role changed"); err != nil {
			return err
		}
		return s.audit(ctx, tx, event{Action: "operator.role_sync", TargetType: "user", TargetID: u.ID,
			Changes:  userDiff(before, u),
			Metadata: map[string]any{"issuer": strings.TrimPrefix(actor.CredentialID, IssuerCredentialPrefix)}})
	})
	if err != nil {
		return nil, err
	}
	if !out.IsActive(s.now()) || !out.Role.IsOperator() {
		return nil, errUnauthenticated
	}
	return out, nil
}

// leastRole is the lower-ranked of two roles.
func leastRole(a, b steward.Role) steward.Role {
	if b.Rank() < a.Rank() {
		return b
	}
	return a
}
