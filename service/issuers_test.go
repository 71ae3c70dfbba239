package service_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
	"github.com/stewardhq/steward/internal/testdb"
	"github.com/stewardhq/steward/service"
)

// fakeIdP is an identity provider served by the test: a JWKS endpoint that
// counts its hits, and the private keys to sign with.
type fakeIdP struct {
	srv  *httptest.Server
	hits atomic.Int64
	mu   sync.Mutex
	pub  []jose.JSONWebKey
	priv map[string]*ecdsa.PrivateKey
}

func newFakeIdP(t *testing.T) *fakeIdP {
	p := &fakeIdP{priv: map[string]*ecdsa.PrivateKey{}}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		p.hits.Add(1)
		p.mu.Lock()
		defer p.mu.Unlock()
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: p.pub})
	}))
	t.Cleanup(p.srv.Close)
	p.addKey(t, "k1")
	return p
}

// addKey publishes a new key (a rotation at the issuer).
func (p *fakeIdP) addKey(t *testing.T, kid string) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.priv[kid] = k
	p.pub = append(p.pub, jose.JSONWebKey{Key: &k.PublicKey, KeyID: kid, Algorithm: string(jose.ES256), Use: "sig"})
}

// unpublishedKey signs tokens with a kid the JWKS does not list.
func (p *fakeIdP) unpublishedKey(t *testing.T, kid string) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.priv[kid] = k
}

func (p *fakeIdP) sign(t *testing.T, kid string, claims map[string]any) string {
	t.Helper()
	p.mu.Lock()
	k := p.priv[kid]
	p.mu.Unlock()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: k, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// unsigned builds a token by hand with the given header and an HMAC
// signature under secret (nil: no signature at all, as "alg: none" has).
func unsigned(header, claims map[string]any, secret []byte) string {
	enc := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
	in := enc(header) + "." + enc(claims)
	if secret == nil {
		return in + "."
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(in))
	return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

const (
	corpIssuer = "https://idp.corp.example"
	provIssuer = "https://sso.partner.example"
	corpAud    = "steward-admin"
)

// TestTrustedIssuers: a JWT from a trusted issuer works on the admin surface
// at the capped role, and every forgery, misdirection or stale token is 401.
func TestTrustedIssuers(t *testing.T) {
	for _, b := range testdb.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			corp, prov := newFakeIdP(t), newFakeIdP(t)
			a := apptest.New(t, b, apptest.Options{Service: func(c *service.Config) {
				c.TrustedIssuers = []service.TrustedIssuer{
					{Issuer: corpIssuer, Audience: corpAud, JWKSURL: corp.srv.URL, EmailClaim: "email",
						RoleClaim: "role", MaxRole: steward.RoleAdmin},
					{Issuer: provIssuer, Audience: corpAud, JWKSURL: prov.srv.URL, EmailClaim: "upn",
						RoleClaim: "steward_role", MaxRole: steward.RoleOwner, Provision: true},
				}
			}})
			claims := func(mods ...func(map[string]any)) map[string]any {
				now := a.Clock.Now()
				c := map[string]any{"iss": corpIssuer, "aud": corpAud, "sub": "idp-user-1",
					"iat": now.Unix(), "nbf": now.Add(-time.Minute).Unix(), "exp": now.Add(5 * time.Minute).Unix()}
				for _, m := range mods {
					m(c)
				}
				return c
			}
			as := func(email, role string) func(map[string]any) {
				return func(c map[string]any) { c["email"], c["role"] = email, role }
			}
			set := func(k string, v any) func(map[string]any) { return func(c map[string]any) { c[k] = v } }

			owner := a.User(steward.RoleOwner)
			target, target2 := a.User(steward.RoleUser), a.User(steward.RoleUser)

			// Valid: a super_admin claim, an owner on file, max_role admin:
			// admin. Email matched as logins match it (case, spaces).
			tok := corp.sign(t, "k1", claims(as("  "+strings.ToUpper(owner.Email), "super_admin")))
			if r := a.Do("POST", "/api/v1/admin/users/"+target.ID+"/suspend", tok, map[string]any{"reason": "sso"}); r.Status != 200 {
				t.Fatalf("suspend at admin: %d %s", r.Status, r.Raw)
			}
			if r := a.Do("DELETE", "/api/v1/admin/users/"+target2.ID, tok, nil); r.Status != 403 {
				t.Fatalf("delete needs owner; capped at admin: %d %s", r.Status, r.Raw)
			}
			// The cap holds in the checks that re-read the role in the
			// transaction too: an admin may not suspend another admin.
			peer := a.User(steward.RoleAdmin)
			if r := a.Do("POST", "/api/v1/admin/users/"+peer.ID+"/suspend", tok, map[string]any{}); r.Status != 403 || r.Body["code"] != steward.CodeInsufficientRole {
				t.Fatalf("capped admin suspending an admin: %d %s", r.Status, r.Raw)
			}
			r := a.Do("GET", "/api/v1/admin/audit-log?action=user.suspend&target_id="+target.ID, a.RootToken, nil)
			entries, _ := r.Body["data"].([]any)
			if len(entries) != 1 {
				t.Fatalf("suspend audit: %s", r.Raw)
			}
			e := entries[0].(map[string]any)
			if e["actor_id"] != owner.ID || e["actor_role"] != "admin" || e["credential_id"] != "iss:"+corpIssuer {
				t.Fatalf("audit names the operator, the capped role and the issuer: %v", e)
			}
			// Only the admin surface takes it.
			if r := a.Do("GET", "/api/v1/auth/me", tok, nil); r.Status != 403 || r.Body["code"] != steward.CodeWrongSurface {
				t.Fatalf("auth surface: %d %s", r.Status, r.Raw)
			}
			if r := a.Do("POST", "/api/v1/platform/keys/verify", tok, map[string]any{"key": "x"}); r.Status != 403 || r.Body["code"] != steward.CodeWrongSurface {
				t.Fatalf("platform surface: %d %s", r.Status, r.Raw)
			}
			// The stored role caps too: a support operator claiming admin stays support.
			sup := a.User(steward.RoleSupport)
			supTok := corp.sign(t, "k1", claims(as(sup.Email, "admin")))
			if r := a.Do("GET", "/api/v1/admin/users/"+target2.ID, supTok, nil); r.Status != 200 {
				t.Fatalf("support reads: %d %s", r.Status, r.Raw)
			}
			if r := a.Do("POST", "/api/v1/admin/users/"+target2.ID+"/suspend", supTok, map[string]any{}); r.Status != 403 {
				t.Fatalf("stored support caps the claimed admin: %d %s", r.Status, r.Raw)
			}
			// Within the 60 s leeway an expired token still works.
			if r := a.Do("GET", "/api/v1/admin/users/"+target2.ID, corp.sign(t, "k1",
				claims(as(owner.Email, "admin"), set("exp", a.Clock.Now().Add(-30*time.Second).Unix()))), nil); r.Status != 200 {
				t.Fatalf("expired 30 s ago is within leeway: %d %s", r.Status, r.Raw)
			}

			pubDER, err := x509.MarshalPKIXPublicKey(&corp.priv["k1"].PublicKey)
			if err != nil {
				t.Fatal(err)
			}
			pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
			okClaims := claims(as(owner.Email, "admin"))
			suspended := a.User(steward.RoleAdmin)
			if _, err := a.Svc.Users.SuspendUser(apptest.System(), suspended.ID, "test"); err != nil {
				t.Fatal(err)
			}
			refused := map[string]string{
				"wrong issuer":   corp.sign(t, "k1", claims(as(owner.Email, "admin"), set("iss", "https://evil.example"))),
				"wrong audience": corp.sign(t, "k1", claims(as(owner.Email, "admin"), set("aud", "another-app"))),
				"expired": corp.sign(t, "k1", claims(as(owner.Email, "admin"),
					set("exp", a.Clock.Now().Add(-2*time.Minute).Unix()))),
				"not yet valid": corp.sign(t, "k1", claims(as(owner.Email, "admin"),
					set("nbf", a.Clock.Now().Add(2*time.Minute).Unix()))),
				"no expiry":                     corp.sign(t, "k1", claims(as(owner.Email, "admin"), func(c map[string]any) { delete(c, "exp") })),
				"alg none":                      unsigned(map[string]any{"alg": "none", "kid": "k1", "typ": "JWT"}, okClaims, nil),
				"HS256 with the public key":     unsigned(map[string]any{"alg": "HS256", "kid": "k1", "typ": "JWT"}, okClaims, pubPEM),
				"HS256 with the public key DER": unsigned(map[string]any{"alg": "HS256", "kid": "k1", "typ": "JWT"}, okClaims, pubDER),
				"no role claim":                 corp.sign(t, "k1", claims(set("email", owner.Email))),
				"suspended operator":            corp.sign(t, "k1", claims(as(suspended.Email, "admin"))),
				"unknown email, no provision":   corp.sign(t, "k1", claims(as("stranger@corp.example", "admin"))),
				"end user's email":              corp.sign(t, "k1", claims(as(target2.Email, "admin"))),
			}
			for name, tok := range refused {
				if r := a.Do("GET", "/api/v1/admin/users", tok, nil); r.Status != 401 || r.Body["code"] != steward.CodeUnauthenticated {
					t.Errorf("%s: %d %s", name, r.Status, r.Raw)
				}
			}
			if n := corp.hits.Load(); n != 1 {
				t.Fatalf("JWKS fetched %d times, want once", n)
			}

			// Unknown kid: refetched, at most once a minute.
			a.Clock.Advance(2 * time.Minute)
			corp.unpublishedKey(t, "k9")
			corp.unpublishedKey(t, "k8")
			for i, kid := range []string{"k9", "k8"} {
				if r := a.Do("GET", "/api/v1/admin/users", corp.sign(t, kid, claims(as(owner.Email, "admin"))), nil); r.Status != 401 {
					t.Fatalf("unknown kid %s: %d %s", kid, r.Status, r.Raw)
				}
				if n := corp.hits.Load(); n != 2 {
					t.Fatalf("after unknown kid %d: %d fetches, want 2 (one refetch a minute)", i+1, n)
				}
			}
			// A rotation: the new key is picked up once the minute has passed.
			corp.addKey(t, "k2")
			if r := a.Do("GET", "/api/v1/admin/users", corp.sign(t, "k2", claims(as(owner.Email, "admin"))), nil); r.Status != 401 || corp.hits.Load() != 2 {
				t.Fatalf("within the minute: %d, %d fetches", r.Status, corp.hits.Load())
			}
			a.Clock.Advance(61 * time.Second)
			if r := a.Do("GET", "/api/v1/admin/users", corp.sign(t, "k2", claims(as(owner.Email, "admin"))), nil); r.Status != 200 || corp.hits.Load() != 3 {
				t.Fatalf("after the minute: %d %s, %d fetches", r.Status, r.Raw, corp.hits.Load())
			}

			// Provisioning: an unknown email becomes an operator at the
			// token's role (capped by max_role), audited, once.
			pclaims := func(email, role string) map[string]any {
				return claims(set("iss", provIssuer), set("upn", email), set("steward_role", role))
			}
			ptok := prov.sign(t, "k1", pclaims("New.Operator@Partner.example", "super_admin"))
			for range 2 {
				if r := a.Do("GET", "/api/v1/admin/users", ptok, nil); r.Status != 200 {
					t.Fatalf("provisioned: %d %s", r.Status, r.Raw)
				}
			}
			u, err := a.Store.GetUserByEmail(t.Context(), "new.operator@partner.example")
			if err != nil || u.Role != steward.RoleOwner || u.PasswordHash != "" {
				t.Fatalf("provisioned operator: %+v %v", u, err)
			}
			r = a.Do("GET", "/api/v1/admin/audit-log?action=operator.provision", a.RootToken, nil)
			entries, _ = r.Body["data"].([]any)
			if len(entries) != 1 {
				t.Fatalf("one operator.provision entry: %s", r.Raw)
			}
			e = entries[0].(map[string]any)
			if e["actor_id"] != u.ID || e["target_id"] != u.ID || e["credential_id"] != "iss:"+provIssuer {
				t.Fatalf("provision audit: %v", e)
			}
			// With provision the token's role stands over the stored one,
			// and the stored one follows it; the change ends the
			// impersonations the operator is part of, as any role change does.
			imp := a.Do("POST", "/api/v1/admin/users/"+sup.ID+"/impersonate", a.RootToken, map[string]any{"reason": "support call"})
			if imp.Status != 200 && imp.Status != 201 {
				t.Fatalf("impersonating the support operator: %d %s", imp.Status, imp.Raw)
			}
			if r := a.Do("DELETE", "/api/v1/admin/users/"+target2.ID, prov.sign(t, "k1", pclaims(sup.Email, "owner")), nil); r.Status != 200 {
				t.Fatalf("provisioning issuer's owner claim over stored support: %d %s", r.Status, r.Raw)
			}
			if u, err := a.Store.GetUser(t.Context(), sup.ID); err != nil || u.Role != steward.RoleOwner {
				t.Fatalf("stored role after the sync: %+v %v", u, err)
			}
			r = a.Do("GET", "/api/v1/admin/audit-log?action=operator.role_sync&target_id="+sup.ID, a.RootToken, nil)
			if entries, _ = r.Body["data"].([]any); len(entries) != 1 ||
				entries[0].(map[string]any)["credential_id"] != "iss:"+provIssuer {
				t.Fatalf("one operator.role_sync entry: %s", r.Raw)
			}
			r = a.Do("GET", "/api/v1/admin/impersonations/"+imp.Get("impersonation_id").(string), a.RootToken, nil)
			if r.Get("active") != false || r.Get("ended_by") != "user.role_change" {
				t.Fatalf("impersonation after the role sync: %s", r.Raw)
			}
			// A role without admin access creates nobody.
			if r := a.Do("GET", "/api/v1/admin/users", prov.sign(t, "k1", pclaims("enduser@partner.example", "user")), nil); r.Status != 403 {
				t.Fatalf("role user: %d %s", r.Status, r.Raw)
			}
			if _, err := a.Store.GetUserByEmail(t.Context(), "enduser@partner.example"); err == nil {
				t.Fatal("a role without admin access must not be provisioned")
			}
			// A suspended operator is refused even by a provisioning issuer.
			if r := a.Do("GET", "/api/v1/admin/users", prov.sign(t, "k1", pclaims(suspended.Email, "owner")), nil); r.Status != 401 {
				t.Fatalf("suspended, provisioning issuer: %d %s", r.Status, r.Raw)
			}
		})
	}
}

// TestParseTrustedIssuers: defaults fill in; a bad entry is refused naming
// the entry and the field.
func TestParseTrustedIssuers(t *testing.T) {
	got, err := service.ParseTrustedIssuers([]byte(`[{"issuer": "https://idp.example", "audience": "a",
		"jwks_url": "https://idp.example/jwks"}]`))
	if err != nil || len(got) != 1 || got[0].EmailClaim != "email" || got[0].RoleClaim != "role" ||
		got[0].MaxRole != steward.RoleAdmin || got[0].Provision {
		t.Fatalf("defaults: %+v %v", got, err)
	}
	ok := `{"issuer": "https://a.example", "audience": "a", "jwks_url": "https://a.example/jwks"}`
	for body, want := range map[string]string{
		`[` + ok + `, {"issuer": "https://b.example", "audience": "a", "jwks_url": "https://b.example/j", "rol_claim": "x"}]`: `entry 2: unknown field "rol_claim"`,
		`[{"issuer": "https://b.example", "jwks_url": "https://b.example/j"}]`:                                                `entry 1 ("https://b.example"): audience`,
		`[{"issuer": "https://b.example", "audience": "a", "jwks_url": "http://b.example/j"}]`:                                `entry 1 ("https://b.example"): jwks_url`,
		`[{"issuer": "https://b.example", "audience": "a", "jwks_url": "https://b.example/j", "max_role": "user"}]`:           `max_role`,
		`[{"issuer": "steward", "audience": "a", "jwks_url": "https://b.example/j"}]`:                                         `Steward's own`,
		`[` + ok + `, ` + ok + `]`: `entry 2 ("https://a.example"): issuer: listed twice`,
		`{"issuer": "x"}`:          `JSON array`,
	} {
		if _, err := service.ParseTrustedIssuers([]byte(body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", body, err, want)
		}
	}
	if _, err := service.ParseTrustedIssuers([]byte(`[{"issuer": "i", "audience": "a", "jwks_url": "http://127.0.0.1:9/j"}]`)); err != nil {
		t.Fatalf("http to loopback: %v", err)
	}
}
