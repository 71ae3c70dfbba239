package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"time"

	"github.com/stewardhq/steward/api"
	"github.com/stewardhq/steward/internal/password"
	"github.com/stewardhq/steward/service"
	"github.com/stewardhq/steward/store"
)

// DefaultURLs are the admin GETs the benchmark measures when
// STEWARD_BENCH_URLS does not name others.
var DefaultURLs = []string{
	"/api/v1/admin/api-keys/stats",
	"/api/v1/admin/users?limit=50",
	"/api/v1/admin/tenants?limit=50",
	"/api/v1/admin/users?q=lovelace&limit=50",
}

// harness is the real Steward HTTP stack (service.New and api.NewServer,
// wired as `steward serve` wires them, admin rate limit off) on a seeded
// store, and a net/http hello handler, each behind its own loopback
// server. Both count the time their handler ran, so a run reports the
// server's time beside the round trip.
type harness struct {
	svc           *service.Service
	steward       *timedServer
	hello         *timedServer
	client        *http.Client
	email, passwd string
}

// timedServer is an httptest.Server whose handler's time is summed.
type timedServer struct {
	*httptest.Server
	ns, n atomic.Int64
}

func newTimedServer(h http.Handler) *timedServer {
	ts := &timedServer{}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t0 := time.Now()
		h.ServeHTTP(w, r)
		ts.ns.Add(int64(time.Since(t0)))
		ts.n.Add(1)
	}))
	return ts
}

// reset zeroes the server time and returns what it was: total and count.
func (ts *timedServer) reset() (time.Duration, int64) {
	return time.Duration(ts.ns.Swap(0)), ts.n.Swap(0)
}

// Hello is the baseline handler, as bench/hello serves it.
func Hello() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("hello"))
	})
}

// newHarness starts the service on st. p must be the parameters the
// operator's password was hashed with (any verify; they only set the
// service's own hashing).
func newHarness(ctx context.Context, st store.Store, p password.Params, email, pw string) (*harness, error) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc := service.New(service.Config{Store: st, Logger: log, Password: p})
	if err := svc.Start(ctx); err != nil {
		return nil, err
	}
	// serve runs the maintenance jobs once at start: among them the lapse
	// sweeper, which marks the sessions and keys that expired since the
	// last run (on a freshly seeded or upgraded database, all of them), so
	// the stats' time corrections stay small. Measure after it, as a
	// running server is.
	if err := svc.Maintain(ctx); err != nil {
		return nil, err
	}
	// The same dependencies as cmd/steward's serve: a service added there
	// must be added here too, or its routes have nothing to call.
	handler := api.NewServer(api.Deps{
		Users: svc.Users, Sessions: svc.Sessions, Audit: svc.Audit, Auth: svc.Auth, Keys: svc.Keys, Tenants: svc.Tenants,
		Credits: svc.Credits, Idem: svc.Idempotency, Impersonations: svc.Impersonations,
		Stats: svc.Overview, Series: svc.Series, Health: svc.Health, KeyUsage: svc.KeyUsage,
		Ready: st.Ping, Logger: log, AdminRatePerMinute: -1,
	})
	h := &harness{
		svc:     svc,
		steward: newTimedServer(handler),
		hello:   newTimedServer(Hello()),
		client:  &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}, Timeout: time.Minute},
		email:   email,
		passwd:  pw,
	}
	return h, nil
}

func (h *harness) Close() {
	h.steward.Close()
	h.hello.Close()
	h.client.CloseIdleConnections()
}

// login signs the operator in through the API and returns an access token
// (it lives 15 minutes: log in again for each measured URL).
func (h *harness) login(ctx context.Context) (string, error) {
	body, _ := json.Marshal(map[string]string{"email": h.email, "password": h.passwd})
	req, err := http.NewRequestWithContext(ctx, "POST", h.steward.URL+"/api/v1/auth/login", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := h.client.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || json.Unmarshal(b, &out) != nil || out.AccessToken == "" {
		return "", fmt.Errorf("login as %s: %s %s", h.email, res.Status, b)
	}
	return out.AccessToken, nil
}

// get requests url (a path and query) from srv with token, reads the
// whole answer and fails on anything but 200.
func (h *harness) get(ctx context.Context, srv *timedServer, url, token string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", srv.URL+url, nil)
	if err != nil {
		return 0, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := h.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	n, err := io.Copy(io.Discard, res.Body)
	if err != nil {
		return 0, err
	}
	if res.StatusCode != http.StatusOK {
		return int(n), fmt.Errorf("GET %s: %s", url, res.Status)
	}
	return int(n), nil
}

// benchName is a URL as a sub-benchmark name: no "/", which would nest.
func benchName(url string) string {
	url = strings.TrimPrefix(url, "/api/v1/admin/")
	return strings.NewReplacer("/", ".", " ", "_").Replace(url)
}
