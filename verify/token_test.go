package verify_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/clock"
	"github.com/stewardhq/steward/verify"
)

// issuer is a stand-in Steward that publishes a JWKS of keys we hold, so
// tests can mint any token, impersonation included.
type issuer struct {
	mu      sync.Mutex
	keys    map[string]ed25519.PrivateKey
	fail    bool
	fetches atomic.Int64
	srv     *httptest.Server
}

func newIssuer(t *testing.T, kids ...string) *issuer {
	is := &issuer{keys: map[string]ed25519.PrivateKey{}}
	for _, kid := range kids {
		is.add(kid)
	}
	is.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/jwks.json" {
			http.NotFound(w, r)
			return
		}
		is.fetches.Add(1)
		is.mu.Lock()
		defer is.mu.Unlock()
		if is.fail {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"code":"UNAVAILABLE","message":"down","details":{},"request_id":"req_1"}`))
			return
		}
		set := jose.JSONWebKeySet{}
		for kid, k := range is.keys {
			set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.Public(), KeyID: kid, Algorithm: "EdDSA", Use: "sig"})
		}
		_ = json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(is.srv.Close)
	return is
}

func (is *issuer) add(kid string) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	is.mu.Lock()
	is.keys[kid] = priv
	is.mu.Unlock()
}

func (is *issuer) remove(kid string) {
	is.mu.Lock()
	delete(is.keys, kid)
	is.mu.Unlock()
}

func (is *issuer) setFail(f bool) {
	is.mu.Lock()
	is.fail = f
	is.mu.Unlock()
}

// token mints a token under kid: a live user session at now, with extra
// claims laid over it (nil deletes one).
func (is *issuer) token(t *testing.T, kid string, now time.Time, extra map[string]any) string {
	t.Helper()
	is.mu.Lock()
	priv := is.keys[kid]
	is.mu.Unlock()
	c := map[string]any{"iss": "steward", "sub": "usr_1", "tid": "ten_1", "role": "user", "ver": 3, "sid": "ses_1",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(15 * time.Minute).Unix()}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return sign(t, priv, kid, c)
}

func TestReadOnlyImpersonationCannotWrite(t *testing.T) {
	is := newIssuer(t, "k1")
	clk := clock.NewFake(time.Now())
	mw := verify.NewClient(is.srv.URL, "", verify.WithClock(clk.Now)).Middleware()
	ro := is.token(t, "k1", clk.Now(), map[string]any{"act": map[string]any{"sub": "usr_op"}, "read_only": true})
	rw := is.token(t, "k1", clk.Now(), map[string]any{"act": map[string]any{"sub": "usr_op"}})

	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodOptions} {
		r := call(t, mw, m, ro)
		expect(t, r, http.StatusOK, "", "")
		if p := r.Principal; p.Kind != verify.KindSession || p.UserID != "usr_1" || p.TenantID != "ten_1" ||
			p.SessionID != "ses_1" || p.ImpersonatorID != "usr_op" || !p.ReadOnly {
			t.Errorf("%s: principal %+v", m, p)
		}
	}
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, "PROPFIND"} {
		r := call(t, mw, m, ro)
		expect(t, r, http.StatusForbidden, verify.CodeImpersonationWriteDenied, "")
		if r.details("impersonator_id") != "usr_op" {
			t.Errorf("details %v", r.Body["details"])
		}
	}
	// An impersonation that allows writes, and no impersonation at all.
	for _, tok := range []string{rw, is.token(t, "k1", clk.Now(), nil)} {
		if r := call(t, mw, http.MethodDelete, tok); r.Status != http.StatusOK {
			t.Errorf("write refused: %d %v", r.Status, r.Body)
		}
	}
	c, err := verify.NewClient(is.srv.URL, "", verify.WithClock(clk.Now)).VerifyAccessToken(context.Background(), rw)
	if err != nil || c.Actor != "usr_op" || c.ReadOnly || c.Version != 3 || c.Role != steward.RoleUser {
		t.Errorf("claims %+v, %v", c, err)
	}
}

func TestTokenClaimsAreChecked(t *testing.T) {
	is := newIssuer(t, "k1")
	clk := clock.NewFake(time.Now())
	c := verify.NewClient(is.srv.URL, "", verify.WithClock(clk.Now), verify.WithLeeway(0))
	now := clk.Now()
	hs, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte("0123456789abcdef0123456789abcdef")},
		(&jose.SignerOptions{}).WithHeader("kid", "k1"))
	hsTok, _ := jwt.Signed(hs).Claims(map[string]any{"iss": "steward", "sub": "usr_1", "exp": now.Add(time.Hour).Unix()}).Serialize()
	cases := map[string]struct {
		tok  string
		want error
	}{
		"other issuer":  {is.token(t, "k1", now, map[string]any{"iss": "someone"}), verify.ErrInvalidToken},
		"no issuer":     {is.token(t, "k1", now, map[string]any{"iss": nil}), verify.ErrInvalidToken},
		"no subject":    {is.token(t, "k1", now, map[string]any{"sub": nil}), verify.ErrInvalidToken},
		"no expiry":     {is.token(t, "k1", now, map[string]any{"exp": nil}), verify.ErrInvalidToken},
		"not yet valid": {is.token(t, "k1", now, map[string]any{"nbf": now.Add(time.Minute).Unix()}), verify.ErrInvalidToken},
		"expired":       {is.token(t, "k1", now, map[string]any{"exp": now.Unix()}), verify.ErrTokenExpired},
		"HS256":         {hsTok, verify.ErrInvalidToken},
		"garbage":       {"a.b.c", verify.ErrInvalidToken},
		"good":          {is.token(t, "k1", now, nil), nil},
	}
	for name, tc := range cases {
		_, err := c.VerifyAccessToken(context.Background(), tc.tok)
		if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("%s: err %v, want %v", name, err, tc.want)
		}
	}
	// nbf and exp within the leeway pass.
	lenient := verify.NewClient(is.srv.URL, "", verify.WithClock(clk.Now), verify.WithLeeway(2*time.Minute))
	for _, tok := range []string{cases["not yet valid"].tok, cases["expired"].tok} {
		if _, err := lenient.VerifyAccessToken(context.Background(), tok); err != nil {
			t.Errorf("within leeway: %v", err)
		}
	}
}

func TestJWKSRefreshAndOutages(t *testing.T) {
	is := newIssuer(t, "k1")
	clk := clock.NewFake(time.Now())
	c := verify.NewClient(is.srv.URL, "", verify.WithClock(clk.Now),
		verify.WithJWKSRefresh(10*time.Minute), verify.WithJWKSMinRefetch(30*time.Second))
	mw := c.Middleware()
	ctx := context.Background()
	verifyAt := func(kid string) error {
		_, err := c.VerifyAccessToken(ctx, is.token(t, kid, clk.Now(), nil))
		return err
	}

	// Steward down at first: no verdict, 503, and no retry storm.
	is.setFail(true)
	if err := verifyAt("k1"); !errors.Is(err, verify.ErrJWKSUnavailable) {
		t.Fatalf("JWKS down: %v", err)
	}
	expect(t, call(t, mw, http.MethodGet, is.token(t, "k1", clk.Now(), nil)), http.StatusServiceUnavailable, steward.CodeUnavailable, "")
	if n := is.fetches.Load(); n != 1 {
		t.Errorf("%d fetches while down, want 1", n)
	}
	is.setFail(false)
	clk.Advance(30 * time.Second)
	if err := verifyAt("k1"); err != nil {
		t.Fatal(err)
	}

	// Known keys are served from the cache until the refresh is due.
	clk.Advance(10*time.Minute - time.Second)
	if err := verifyAt("k1"); err != nil || is.fetches.Load() != 2 {
		t.Fatalf("err %v, %d fetches", err, is.fetches.Load())
	}
	// A key Steward stopped publishing is refused after the next refresh.
	old := is.token(t, "k1", clk.Now(), nil)
	is.add("k2")
	is.remove("k1")
	clk.Advance(time.Second)
	if _, err := c.VerifyAccessToken(ctx, old); !errors.Is(err, verify.ErrInvalidToken) {
		t.Errorf("withdrawn key: %v", err)
	}
	if err := verifyAt("k2"); err != nil || is.fetches.Load() != 3 {
		t.Errorf("new key: %v, %d fetches", err, is.fetches.Load())
	}
	// A refresh that fails keeps the known keys working.
	is.setFail(true)
	clk.Advance(10 * time.Minute)
	if err := verifyAt("k2"); err != nil {
		t.Errorf("known key during an outage: %v", err)
	}
	if n := is.fetches.Load(); n != 4 {
		t.Errorf("%d fetches, want 4", n)
	}
}

func TestConcurrentVerification(t *testing.T) {
	is := newIssuer(t, "k1")
	c := verify.NewClient(is.srv.URL, "", verify.WithCacheTTL(time.Second))
	tok := is.token(t, "k1", time.Now(), nil)
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			if _, err := c.VerifyAccessToken(context.Background(), tok); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := is.fetches.Load(); n != 1 {
		t.Errorf("%d JWKS fetches for 32 concurrent first verifications, want 1", n)
	}
}

// fakeVerify is a stand-in platform surface answering from a table.
func fakeVerify(t *testing.T, answers map[string]steward.VerifyResult, calls *atomic.Int64) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		var in steward.VerifyRequest
		_ = json.NewDecoder(r.Body).Decode(&in)
		res, ok := answers[in.Key]
		if !ok {
			res = steward.VerifyResult{Code: steward.VerifyNotFound}
		}
		_ = json.NewEncoder(w).Encode(res)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestKeyCacheBoundsAndUnknownCodes(t *testing.T) {
	var calls atomic.Int64
	srv := fakeVerify(t, map[string]steward.VerifyResult{
		"stw_u_new": {Code: "SOMETHING_NEW"},
	}, &calls)
	clk := clock.NewFake(time.Now())
	c := verify.NewClient(srv.URL, "stw_p_x", verify.WithCacheTTL(time.Hour), verify.WithClock(clk.Now), verify.WithMaxCacheEntries(2))
	ctx := context.Background()

	// An unknown code is a refusal (401) and is not cached.
	mw := c.Middleware()
	for range 2 {
		expect(t, call(t, mw, http.MethodGet, "stw_u_new"), http.StatusUnauthorized, steward.CodeUnauthenticated, "SOMETHING_NEW")
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("%d calls, want 2", n)
	}

	// Three keys through a two-entry cache: at least one is asked again.
	calls.Store(0)
	for range 2 {
		for _, k := range []string{"stw_u_a", "stw_u_b", "stw_u_c"} {
			if _, err := c.VerifyKey(ctx, k, "", ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n := calls.Load(); n < 4 || n > 6 {
		t.Errorf("%d calls, want 4..6", n)
	}
	// A key asked twice in a row is served from the cache.
	calls.Store(0)
	for range 3 {
		_, _ = c.VerifyKey(ctx, "stw_u_d", "", "")
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("%d calls, want 1", n)
	}
}
