package verify_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
	"github.com/stewardhq/steward/internal/clock"
	"github.com/stewardhq/steward/service"
	"github.com/stewardhq/steward/verify"
)

// stack is one Steward with an admin operator, the platform key the
// product uses, and an end user.
type stack struct {
	a        *apptest.App
	op       *steward.User
	platform string
	user     *steward.User
}

func newStack(t *testing.T, a *apptest.App) *stack {
	t.Helper()
	op, _ := a.Operator(steward.RoleAdmin)
	pk, err := a.Svc.Keys.CreateKey(apptest.As(op), &steward.KeyCreate{Name: "product backend", Type: steward.KeyPlatform,
		Scopes: []steward.Permission{steward.PermKeysVerify}})
	if err != nil {
		t.Fatal(err)
	}
	return &stack{a: a, op: op, platform: pk.Key, user: a.User(steward.RoleUser)}
}

// userKey mints a key for the end user.
func (s *stack) userKey(t *testing.T, mod func(*steward.KeyCreate)) *steward.CreatedKey {
	t.Helper()
	in := &steward.KeyCreate{Name: "my key", Type: steward.KeyUser, UserID: s.user.ID}
	if mod != nil {
		mod(in)
	}
	k, err := s.a.Svc.Keys.CreateKey(apptest.As(s.op), in)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func (s *stack) revoke(t *testing.T, id string) {
	t.Helper()
	if _, err := s.a.Svc.Keys.RevokeKey(apptest.As(s.op), id, "leaked"); err != nil {
		t.Fatal(err)
	}
}

func (s *stack) client(opts ...verify.Option) *verify.Client {
	return verify.NewClient(s.a.Server.URL+"/", s.platform, opts...)
}

// answer is one request through a middleware to a handler that echoes the
// principal.
type answer struct {
	Status    int
	Header    http.Header
	Body      map[string]any
	Principal *verify.Principal
}

func (r *answer) details(k string) any {
	d, _ := r.Body["details"].(map[string]any)
	return d[k]
}

func call(t *testing.T, mw func(http.Handler) http.Handler, method, token string, mods ...func(*http.Request)) *answer {
	t.Helper()
	var got *verify.Principal
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = verify.PrincipalFrom(r.Context())
		if got == nil {
			t.Error("handler reached without a principal")
		}
		w.WriteHeader(http.StatusOK)
	}))
	req := httptest.NewRequest(method, "/things", nil) // RemoteAddr 192.0.2.1
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for _, m := range mods {
		m(req)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	ans := &answer{Status: rec.Code, Header: rec.Header(), Principal: got}
	if rec.Code != http.StatusOK {
		if err := json.Unmarshal(rec.Body.Bytes(), &ans.Body); err != nil {
			t.Fatalf("%d answer is not JSON: %q", rec.Code, rec.Body.String())
		}
		checkErrorShape(t, ans)
	}
	return ans
}

// checkErrorShape asserts Steward's flat error body.
func checkErrorShape(t *testing.T, r *answer) {
	t.Helper()
	for k := range r.Body {
		switch k {
		case "code", "message", "details", "request_id":
		case "retry_after":
			if r.Status != http.StatusTooManyRequests {
				t.Errorf("retry_after on a %d", r.Status)
			}
		default:
			t.Errorf("unexpected field %q in error body", k)
		}
	}
	if c, _ := r.Body["code"].(string); c == "" {
		t.Errorf("no code: %v", r.Body)
	}
	if m, _ := r.Body["message"].(string); m == "" {
		t.Errorf("no message: %v", r.Body)
	}
	if _, ok := r.Body["details"].(map[string]any); !ok {
		t.Errorf("details is not an object: %v", r.Body)
	}
	if rid, ok := r.Body["request_id"].(string); !ok || rid != "" {
		t.Errorf("request_id = %v, want \"\"", r.Body["request_id"])
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
}

func expect(t *testing.T, r *answer, status int, code, keyStatus string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d (%v)", r.Status, status, r.Body)
	}
	if code != "" && r.Body["code"] != code {
		t.Errorf("code %v, want %s", r.Body["code"], code)
	}
	if keyStatus != "" && r.details("key_status") != keyStatus {
		t.Errorf("details.key_status %v, want %s", r.details("key_status"), keyStatus)
	}
}

func TestValidKeyPutsPrincipalInContext(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		s := newStack(t, a)
		k := s.userKey(t, nil)
		c := s.client()

		res, err := c.VerifyKey(context.Background(), k.Key, "192.0.2.1", "read")
		if err != nil {
			t.Fatal(err)
		}
		if !res.Valid || res.Code != steward.VerifyValid || res.KeyID != k.ID || res.UserID != s.user.ID {
			t.Fatalf("VerifyKey = %+v", res)
		}

		r := call(t, c.Middleware(), http.MethodPost, k.Key)
		expect(t, r, http.StatusOK, "", "")
		p := r.Principal
		if p.Kind != verify.KindKey || p.UserID != s.user.ID || p.KeyID != k.ID || p.KeyType != steward.KeyUser ||
			!slices.Equal(p.Scopes, []steward.Permission{"read", "write"}) || p.SessionID != "" || p.ReadOnly {
			t.Errorf("principal = %+v", p)
		}

		// Not a credential at all, an unknown key, a session token.
		expect(t, call(t, c.Middleware(), http.MethodGet, ""), http.StatusUnauthorized, steward.CodeUnauthenticated, "")
		expect(t, call(t, c.Middleware(), http.MethodGet, "stw_u_"+strings.Repeat("x", 43)),
			http.StatusUnauthorized, steward.CodeUnauthenticated, steward.VerifyNotFound)
		expect(t, call(t, c.Middleware(), http.MethodGet, "stw_s_whatever"), http.StatusUnauthorized, steward.CodeUnauthenticated, "")
		expect(t, call(t, c.Middleware(), http.MethodGet, "hello"), http.StatusUnauthorized, steward.CodeUnauthenticated, "")
		// A deployment with another prefix: "stw_u_…" is then not a key.
		expect(t, call(t, c.Middleware(verify.KeyPrefix("msk")), http.MethodGet, k.Key),
			http.StatusUnauthorized, steward.CodeUnauthenticated, "")
	})
}

func TestRevokedKeyIsRefused(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		s := newStack(t, a)
		k := s.userKey(t, nil)
		mw := s.client().Middleware()
		expect(t, call(t, mw, http.MethodGet, k.Key), http.StatusOK, "", "")
		s.revoke(t, k.ID)
		r := call(t, mw, http.MethodGet, k.Key)
		expect(t, r, http.StatusUnauthorized, steward.CodeUnauthenticated, steward.VerifyRevoked)
		if r.Header.Get("WWW-Authenticate") == "" {
			t.Error("401 without WWW-Authenticate")
		}
	})
}

func TestKeyCacheStalenessIsTheTTL(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		s := newStack(t, a)
		const ttl = 30 * time.Second
		clk := clock.NewFake(apptest.Start)
		var calls atomic.Int64
		hc := &http.Client{Transport: countingTransport(&calls, "/api/v1/platform/keys/verify")}
		cached := s.client(verify.WithCacheTTL(ttl), verify.WithClock(clk.Now), verify.WithHTTPClient(hc))
		uncached := s.client(verify.WithClock(clk.Now))
		mwCached, mwUncached := cached.Middleware(), uncached.Middleware()

		k := s.userKey(t, nil)
		expect(t, call(t, mwCached, http.MethodGet, k.Key), http.StatusOK, "", "")
		expect(t, call(t, mwUncached, http.MethodGet, k.Key), http.StatusOK, "", "")
		s.revoke(t, k.ID)

		// Without a TTL the revocation is seen at once.
		expect(t, call(t, mwUncached, http.MethodGet, k.Key), http.StatusUnauthorized, "", steward.VerifyRevoked)
		// With one, the cached VALID holds until the TTL has passed…
		clk.Advance(ttl - time.Millisecond)
		expect(t, call(t, mwCached, http.MethodGet, k.Key), http.StatusOK, "", "")
		if n := calls.Load(); n != 1 {
			t.Errorf("%d verify calls, want 1 (the rest from the cache)", n)
		}
		// …and not a moment longer.
		clk.Advance(time.Millisecond)
		expect(t, call(t, mwCached, http.MethodGet, k.Key), http.StatusUnauthorized, "", steward.VerifyRevoked)
		// The refusal is cached in turn.
		expect(t, call(t, mwCached, http.MethodGet, k.Key), http.StatusUnauthorized, "", steward.VerifyRevoked)
		if n := calls.Load(); n != 2 {
			t.Errorf("%d verify calls, want 2", n)
		}

		// The cache is keyed by (key, ip, scope): another address or scope asks again.
		k2 := s.userKey(t, nil)
		ctx := context.Background()
		for _, q := range [][2]string{{"192.0.2.1", ""}, {"192.0.2.1", ""}, {"192.0.2.2", ""}, {"192.0.2.1", "read"}} {
			if res, err := cached.VerifyKey(ctx, k2.Key, q[0], q[1]); err != nil || !res.Valid {
				t.Fatalf("VerifyKey(%v) = %+v, %v", q, res, err)
			}
		}
		if n := calls.Load(); n != 5 {
			t.Errorf("%d verify calls, want 5", n)
		}
		// A caller mutating a result does not change the cached one.
		res, _ := cached.VerifyKey(ctx, k2.Key, "192.0.2.1", "")
		res.Scopes[0], res.UserID = "*", "usr_other"
		if res, _ := cached.VerifyKey(ctx, k2.Key, "192.0.2.1", ""); res.Scopes[0] != "read" || res.UserID != s.user.ID {
			t.Errorf("cached result was mutated: %+v", res)
		}
	})
}

func TestRateLimitedIs429AndNeverCached(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		s := newStack(t, a)
		k := s.userKey(t, func(in *steward.KeyCreate) { in.RateLimitRPM = 1 })
		mw := s.client(verify.WithClock(a.Clock.Now)).Middleware()
		expect(t, call(t, mw, http.MethodGet, k.Key), http.StatusOK, "", "")
		r := call(t, mw, http.MethodGet, k.Key)
		expect(t, r, http.StatusTooManyRequests, steward.CodeRateLimited, steward.VerifyRateLimited)
		if got := r.Header.Get("Retry-After"); got != "60" {
			t.Errorf("Retry-After %q, want 60", got)
		}
		if got := r.Body["retry_after"]; got != 60.0 {
			t.Errorf("retry_after %v, want 60", got)
		}

		// With a cache: a VALID from one address is cached, a RATE_LIMITED
		// from another is not, so once Steward's window has passed the second
		// address gets through at once.
		k2 := s.userKey(t, func(in *steward.KeyCreate) { in.RateLimitRPM = 1 })
		clk := clock.NewFake(apptest.Start)
		cached := s.client(verify.WithCacheTTL(time.Hour), verify.WithClock(clk.Now)).Middleware()
		fromB := func(r *http.Request) { r.RemoteAddr = "198.51.100.7:4000" }
		expect(t, call(t, cached, http.MethodGet, k2.Key), http.StatusOK, "", "")
		expect(t, call(t, cached, http.MethodGet, k2.Key, fromB), http.StatusTooManyRequests, "", steward.VerifyRateLimited)
		a.Clock.Advance(time.Minute)
		expect(t, call(t, cached, http.MethodGet, k2.Key, fromB), http.StatusOK, "", "")
		expect(t, call(t, cached, http.MethodGet, k2.Key), http.StatusOK, "", "") // still the cached answer
	})
}

func TestAddressAndScopeRefusalsAre403(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		s := newStack(t, a)
		c := s.client()
		k := s.userKey(t, func(in *steward.KeyCreate) {
			in.AllowedIPs = []string{"10.0.0.0/8"}
			in.Scopes = []steward.Permission{"read"}
		})
		realIP := func(ip string) func(*http.Request) { return func(r *http.Request) { r.Header.Set("X-Real-IP", ip) } }

		expect(t, call(t, c.Middleware(), http.MethodGet, k.Key), http.StatusForbidden, steward.CodeForbidden, steward.VerifyIPNotAllowed)
		// The header counts only when trusted.
		expect(t, call(t, c.Middleware(), http.MethodGet, k.Key, realIP("10.1.2.3")),
			http.StatusForbidden, steward.CodeForbidden, steward.VerifyIPNotAllowed)
		trusted := c.Middleware(verify.TrustedIPHeader("X-Real-IP"))
		expect(t, call(t, trusted, http.MethodGet, k.Key, realIP("10.1.2.3")), http.StatusOK, "", "")
		expect(t, call(t, trusted, http.MethodGet, k.Key), http.StatusForbidden, "", steward.VerifyIPNotAllowed)
		xff := c.Middleware(verify.TrustedIPHeader("X-Forwarded-For"))
		expect(t, call(t, xff, http.MethodGet, k.Key, func(r *http.Request) { r.Header.Set("X-Forwarded-For", "10.9.9.9, 10.1.2.3") }),
			http.StatusOK, "", "")
		expect(t, call(t, xff, http.MethodGet, k.Key, func(r *http.Request) { r.Header.Set("X-Forwarded-For", "10.9.9.9, 192.0.2.9") }),
			http.StatusForbidden, "", steward.VerifyIPNotAllowed)

		readers := c.Middleware(verify.TrustedIPHeader("X-Real-IP"), verify.RequireScope("read"))
		writers := c.Middleware(verify.TrustedIPHeader("X-Real-IP"), verify.RequireScope("write"))
		expect(t, call(t, readers, http.MethodGet, k.Key, realIP("10.1.2.3")), http.StatusOK, "", "")
		r := call(t, writers, http.MethodPost, k.Key, realIP("10.1.2.3"))
		expect(t, r, http.StatusForbidden, steward.CodeForbidden, steward.VerifyInsufficientScope)
		if r.details("scope") != "write" {
			t.Errorf("details.scope %v", r.details("scope"))
		}
	})
}

func TestStewardRefusingThePlatformKeyIsAnError(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		s := newStack(t, a)
		k := s.userKey(t, nil)
		c := verify.NewClient(a.Server.URL, "stw_p_"+strings.Repeat("0", 43))
		_, err := c.VerifyKey(context.Background(), k.Key, "", "")
		var ae *verify.APIError
		if !errors.As(err, &ae) || ae.StatusCode != http.StatusUnauthorized || ae.Code != steward.CodeUnauthenticated ||
			ae.Message == "" || !strings.HasPrefix(ae.RequestID, "req_") {
			t.Fatalf("err = %#v", err)
		}
		if steward.ErrorCode(err) != steward.CodeUnauthenticated {
			t.Errorf("ErrorCode = %s", steward.ErrorCode(err))
		}
		// A user key is not a platform key either: WRONG_SURFACE.
		_, err = verify.NewClient(a.Server.URL, k.Key).VerifyKey(context.Background(), k.Key, "", "")
		if steward.ErrorCode(err) != steward.CodeWrongSurface {
			t.Errorf("user key as platform key: %v", err)
		}

		// The middleware cannot reach a verdict: 503, and OnError hears why.
		var seen error
		r := call(t, c.Middleware(verify.OnError(func(_ *http.Request, err error) { seen = err })), http.MethodGet, k.Key)
		expect(t, r, http.StatusServiceUnavailable, steward.CodeUnavailable, "")
		if !errors.As(seen, &ae) {
			t.Errorf("OnError got %v", seen)
		}
	})
}

func login(t *testing.T, a *apptest.App, u *steward.User) *steward.LoginResult {
	t.Helper()
	res, err := a.Svc.Auth.Login(context.Background(), steward.LoginInput{Email: u.Email, Password: apptest.Password})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestAccessTokens(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		s := newStack(t, a)
		clk := clock.NewFake(apptest.Start)
		strict := s.client(verify.WithClock(clk.Now), verify.WithLeeway(0))
		lenient := s.client(verify.WithClock(clk.Now)) // DefaultLeeway
		li := login(t, a, s.user)
		ctx := context.Background()

		c, err := strict.VerifyAccessToken(ctx, li.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		if c.Subject != s.user.ID || c.Role != steward.RoleUser || c.SessionID == "" || c.Version != li.User.TokenVersion ||
			c.Actor != "" || c.ReadOnly || !c.ExpiresAt.Equal(li.ExpiresAt.Truncate(time.Second)) {
			t.Errorf("claims = %+v (login %+v)", c, li)
		}
		r := call(t, strict.Middleware(), http.MethodPost, li.AccessToken)
		expect(t, r, http.StatusOK, "", "")
		if p := r.Principal; p.Kind != verify.KindSession || p.UserID != s.user.ID || p.SessionID != c.SessionID ||
			p.Role != steward.RoleUser || p.KeyID != "" || p.ImpersonatorID != "" {
			t.Errorf("principal = %+v", p)
		}

		// Expiry, on both clocks: refused exactly at exp when strict, after
		// the leeway otherwise.
		a.Clock.Advance(15 * time.Minute)
		clk.Advance(15 * time.Minute)
		if _, err := strict.VerifyAccessToken(ctx, li.AccessToken); !errors.Is(err, verify.ErrTokenExpired) {
			t.Errorf("expired token: %v", err)
		}
		r = call(t, strict.Middleware(), http.MethodGet, li.AccessToken)
		expect(t, r, http.StatusUnauthorized, steward.CodeUnauthenticated, "")
		if r.details("token_status") != "EXPIRED" {
			t.Errorf("token_status %v", r.details("token_status"))
		}
		if _, err := lenient.VerifyAccessToken(ctx, li.AccessToken); err != nil {
			t.Errorf("within the leeway: %v", err)
		}
		clk.Advance(verify.DefaultLeeway)
		if _, err := lenient.VerifyAccessToken(ctx, li.AccessToken); !errors.Is(err, verify.ErrTokenExpired) {
			t.Errorf("past the leeway: %v", err)
		}

		// Forgeries: a key of our own under Steward's kid, a tampered payload,
		// a token signed with nothing.
		fresh := login(t, a, s.user).AccessToken
		kid := headerKID(t, fresh)
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		forged := sign(t, priv, kid, map[string]any{"iss": "steward", "sub": s.user.ID, "role": "super_admin",
			"exp": clk.Now().Add(time.Hour).Unix()})
		parts := strings.Split(fresh, ".")
		var claims map[string]any
		raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
		_ = json.Unmarshal(raw, &claims)
		claims["role"] = "super_admin"
		raw, _ = json.Marshal(claims)
		tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(raw) + "." + parts[2]
		unsigned := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","kid":"`+kid+`"}`)) + "." + parts[1] + "."
		if _, err := strict.VerifyAccessToken(ctx, fresh); err != nil {
			t.Fatalf("fresh token: %v", err)
		}
		for name, tok := range map[string]string{"forged": forged, "tampered": tampered, "unsigned": unsigned} {
			if _, err := strict.VerifyAccessToken(ctx, tok); !errors.Is(err, verify.ErrInvalidToken) {
				t.Errorf("%s token: %v", name, err)
			}
			r := call(t, strict.Middleware(), http.MethodGet, tok)
			expect(t, r, http.StatusUnauthorized, steward.CodeUnauthenticated, "")
			if r.details("token_status") != "INVALID" {
				t.Errorf("%s: token_status %v", name, r.details("token_status"))
			}
		}
	})
}

func TestJWKSRefetchOnUnknownKid(t *testing.T) {
	rotateHourly := apptest.Options{Service: func(c *service.Config) { c.SigningKeyMaxAge = time.Hour }}
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		s := newStack(t, a)
		var fetches atomic.Int64
		c := s.client(verify.WithClock(a.Clock.Now), verify.WithJWKSRefresh(24*time.Hour),
			verify.WithHTTPClient(&http.Client{Transport: countingTransport(&fetches, "/.well-known/jwks.json")}))
		ctx := context.Background()
		first := login(t, a, s.user).AccessToken
		for range 3 {
			if _, err := c.VerifyAccessToken(ctx, first); err != nil {
				t.Fatal(err)
			}
		}
		if n := fetches.Load(); n != 1 {
			t.Fatalf("%d JWKS fetches, want 1", n)
		}

		// Steward rotates its signing key; once the successor has been
		// published for its delay, the next token names a new kid.
		a.Clock.Advance(2 * time.Hour)
		if err := a.Svc.Start(ctx); err != nil {
			t.Fatal(err)
		}
		a.Clock.Advance(3 * time.Minute)
		if err := a.Svc.Start(ctx); err != nil {
			t.Fatal(err)
		}
		second := login(t, a, s.user).AccessToken
		if headerKID(t, second) == headerKID(t, first) {
			t.Fatal("the signing key did not rotate")
		}
		if _, err := c.VerifyAccessToken(ctx, second); err != nil {
			t.Fatalf("token under the new key: %v", err)
		}
		if n := fetches.Load(); n != 2 {
			t.Fatalf("%d JWKS fetches, want 2", n)
		}

		// Unknown kids right after do not fetch again…
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		stranger := sign(t, priv, "jwk_unknown", map[string]any{"iss": "steward", "sub": s.user.ID,
			"exp": a.Clock.Now().Add(time.Minute).Unix()})
		for range 5 {
			if _, err := c.VerifyAccessToken(ctx, stranger); !errors.Is(err, verify.ErrInvalidToken) {
				t.Fatalf("unknown kid: %v", err)
			}
		}
		if n := fetches.Load(); n != 2 {
			t.Errorf("%d JWKS fetches after unknown kids, want 2", n)
		}
		// …until the minimum interval has passed.
		a.Clock.Advance(verify.DefaultJWKSMinRefetch)
		if _, err := c.VerifyAccessToken(ctx, stranger); !errors.Is(err, verify.ErrInvalidToken) {
			t.Fatalf("unknown kid: %v", err)
		}
		if n := fetches.Load(); n != 3 {
			t.Errorf("%d JWKS fetches, want 3", n)
		}
	}, rotateHourly)
}

// countingTransport counts requests to path.
func countingTransport(n *atomic.Int64, path string) http.RoundTripper {
	return roundTripper(func(r *http.Request) (*http.Response, error) {
		if r.URL.Path == path {
			n.Add(1)
		}
		return http.DefaultTransport.RoundTrip(r)
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func headerKID(t *testing.T, tok string) string {
	t.Helper()
	parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		t.Fatal(err)
	}
	return parsed.Headers[0].KeyID
}

// sign makes an EdDSA JWT with claims under kid.
func sign(t *testing.T, priv ed25519.PrivateKey, kid string, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: jose.JSONWebKey{Key: priv, KeyID: kid}},
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
