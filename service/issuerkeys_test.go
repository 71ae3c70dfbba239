package service

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/stewardhq/steward/internal/clock"
)

// TestJWKSCacheRefusesWhatItShouldNotTrust: symmetric keys and encryption
// keys are dropped, an oversized or failed answer yields no keys, and a
// set older than jwksMaxAge is refetched.
func TestJWKSCacheRefusesWhatItShouldNotTrust(t *testing.T) {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	body := func() []byte {
		set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
			{Key: pub, KeyID: "ed", Use: "sig"},
			{Key: []byte("0123456789abcdef0123456789abcdef"), KeyID: "oct", Algorithm: "HS256"},
			{Key: pub, KeyID: "enc", Use: "enc"},
		}}
		b, _ := json.Marshal(set)
		return b
	}
	var answer func(w http.ResponseWriter)
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hits.Add(1); answer(w) }))
	defer srv.Close()
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	ctx := context.Background()

	answer = func(w http.ResponseWriter) { _, _ = w.Write(body()) }
	c := newJWKSCache(srv.URL, srv.Client(), clk.Now)
	if k, ok := c.key(ctx, "ed"); !ok || k.Key.(ed25519.PublicKey) == nil {
		t.Fatal("the signing key is kept")
	}
	for _, kid := range []string{"oct", "enc"} {
		if _, ok := c.key(ctx, kid); ok {
			t.Fatalf("%s key trusted", kid)
		}
	}
	// Stale after an hour: the next lookup refetches, and a failure keeps
	// the old keys rather than locking every operator out.
	answer = func(w http.ResponseWriter) { w.WriteHeader(http.StatusInternalServerError) }
	clk.Advance(jwksMaxAge)
	if _, ok := c.key(ctx, "ed"); !ok || hits.Load() != 2 {
		t.Fatalf("stale set: refetched %d times; the old key must stay on a failed fetch", hits.Load())
	}

	for name, a := range map[string]func(w http.ResponseWriter){
		"oversized": func(w http.ResponseWriter) {
			// The real set, then padding past the bound.
			b := body()
			_, _ = w.Write(append(b[:len(b)-1], `, "pad": "`+strings.Repeat("x", jwksMaxBytes)+`"}`...))
		},
		"status 500": func(w http.ResponseWriter) { w.WriteHeader(http.StatusInternalServerError); _, _ = w.Write(body()) },
		"not JSON":   func(w http.ResponseWriter) { _, _ = w.Write([]byte("<html>")) },
	} {
		answer = a
		if _, ok := newJWKSCache(srv.URL, srv.Client(), clk.Now).key(ctx, "ed"); ok {
			t.Errorf("%s: a key was trusted", name)
		}
	}

	// A redirect to plain HTTP off the machine is not followed.
	redir := httptest.NewServer(http.RedirectHandler("http://jwks.invalid/keys", http.StatusFound))
	defer redir.Close()
	answer = func(w http.ResponseWriter) { _, _ = w.Write(body()) }
	if _, ok := newJWKSCache(redir.URL, jwksClient(), clk.Now).key(ctx, "ed"); ok {
		t.Error("a downgrading redirect was followed")
	}
	// To the loopback server it is.
	hop := httptest.NewServer(http.RedirectHandler(srv.URL, http.StatusFound))
	defer hop.Close()
	if _, ok := newJWKSCache(hop.URL, jwksClient(), clk.Now).key(ctx, "ed"); !ok {
		t.Error("a redirect to a loopback http server is allowed")
	}
}
