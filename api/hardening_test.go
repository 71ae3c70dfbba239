package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/api"
	"github.com/stewardhq/steward/internal/apptest"
	"github.com/stewardhq/steward/internal/testdb"
	"github.com/stewardhq/steward/service"
	"github.com/stewardhq/steward/store"
)

// documentedRoutes is every "METHOD path" of openapi.json, which
// TestOpenAPIMatchesRoutes proves is the route table plus GET /metrics.
func documentedRoutes(t *testing.T) [][2]string {
	t.Helper()
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(api.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	var out [][2]string
	for path, item := range doc.Paths {
		for m := range item {
			switch m {
			case "get", "post", "put", "patch", "delete":
				out = append(out, [2]string{strings.ToUpper(m), path})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i][1]+out[i][0] < out[j][1]+out[j][0] })
	if len(out) < 50 {
		t.Fatalf("only %d routes in openapi.json", len(out))
	}
	return out
}

var pathParam = regexp.MustCompile(`\{[^}]+\}`)

// credentialFor is a credential each surface accepts: a platform key for the
// platform surface, a fresh operator session (a logout must not end the
// others' session) for the rest.
func credentialFor(a *apptest.App, platformKey, path string) string {
	if strings.HasPrefix(path, "/api/v1/platform/") {
		return platformKey
	}
	_, tok := a.Operator(steward.RoleSuperAdmin)
	return tok
}

func platformKey(t *testing.T, a *apptest.App) string {
	t.Helper()
	k, err := a.Svc.Keys.CreateKey(apptest.As(a.Root), &steward.KeyCreate{Name: "platform", Type: steward.KeyPlatform,
		Scopes: []steward.Permission{"keys:verify", "usage:write"}})
	if err != nil {
		t.Fatal(err)
	}
	return k.Key
}

func wantSafetyHeaders(t *testing.T, what string, h http.Header) {
	t.Helper()
	if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("%s: X-Content-Type-Options %q, want nosniff", what, got)
	}
	if got := h.Values("X-Content-Type-Options"); len(got) != 1 {
		t.Errorf("%s: X-Content-Type-Options given %d times", what, len(got))
	}
}

// TestEveryRouteRefusesUnknownQuery walks the route table: every route
// answers an unknown query parameter with 400 naming it, before its handler
// runs (nothing is changed), and every answer carries nosniff.
func TestEveryRouteRefusesUnknownQuery(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		pk := platformKey(t, a)
		for _, rt := range documentedRoutes(t) {
			method, path := rt[0], rt[1]
			if path == "/metrics" {
				continue // promhttp's own handler, outside the API's routes
			}
			tok := credentialFor(a, pk, path)
			r := a.Do(method, pathParam.ReplaceAllString(path, "x")+"?reseller_id=r1", tok, "{}")
			what := method + " " + path
			if r.Status != http.StatusBadRequest || r.Get("code") != "BAD_REQUEST" {
				t.Errorf("%s with an unknown parameter: %d %s", what, r.Status, r.Raw)
				continue
			}
			if got, _ := r.Get("details.unknown").([]any); len(got) != 1 || got[0] != "reseller_id" {
				t.Errorf("%s: details.unknown %v", what, r.Get("details.unknown"))
			}
			if r.Get("details.fields.reseller_id") == nil {
				t.Errorf("%s: details.fields does not name reseller_id: %s", what, r.Raw)
			}
			wantSafetyHeaders(t, what, r.Header)
		}
	})
}

// TestUnknownQueryParametersNamed: the request from the issue, and the other
// ways a query string used to be half-read.
func TestUnknownQueryParametersNamed(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		r := a.Do(http.MethodGet, "/api/v1/admin/users?reseller_id=ten_1&search=bob&page=2", a.RootToken, nil)
		if r.Status != 400 || r.Get("code") != "BAD_REQUEST" {
			t.Fatalf("%d %s", r.Status, r.Raw)
		}
		if got := fmt.Sprint(r.Get("details.unknown")); got != "[page reseller_id search]" {
			t.Errorf("details.unknown = %s", got)
		}
		for name, near := range map[string]string{"search": "q", "page": "cursor", "reseller_id": "tenant_id"} {
			if got := r.Get("details.suggestions." + name); got != near {
				t.Errorf("suggestion for %s = %v, want %s", name, got, near)
			}
			if got, _ := r.Get("details.fields." + name).(string); !strings.Contains(got, "did you mean "+near) {
				t.Errorf("details.fields.%s = %q", name, got)
			}
		}
		if allowed := fmt.Sprint(r.Get("details.allowed")); !strings.Contains(allowed, "tenant_id") || !strings.Contains(allowed, "q") {
			t.Errorf("details.allowed = %s", allowed)
		}
		msg, _ := r.Get("message").(string)
		for _, s := range []string{"page", "reseller_id", "search", "GET /api/v1/admin/users"} {
			if !strings.Contains(msg, s) {
				t.Errorf("message %q does not name %s", msg, s)
			}
		}

		for _, c := range []struct{ query, field, want string }{
			{"status=active&status=banned", "status", "given more than once; give it once"},
			{"include_total=1", "include_total", "must be true or false"},
			{"include_total=", "include_total", "must be true or false"},
			{"limt=5", "limt", "unknown query parameter; did you mean limit?"},
		} {
			r := a.Do(http.MethodGet, "/api/v1/admin/users?"+c.query, a.RootToken, nil)
			if r.Status != 400 || r.Get("details.fields."+c.field) != c.want {
				t.Errorf("?%s: %d %s", c.query, r.Status, r.Raw)
			}
		}
		r = a.Do(http.MethodGet, "/api/v1/admin/users?q=%zz", a.RootToken, nil)
		if r.Status != 400 || r.Get("details.fields.query") == nil {
			t.Errorf("malformed query: %d %s", r.Status, r.Raw)
		}
		// A list that counts no total refuses include_total instead of ignoring it.
		r = a.Do(http.MethodGet, "/api/v1/admin/tenants/x/plan-changes?include_total=true", a.RootToken, nil)
		if r.Status != 400 || r.Get("details.fields.include_total") == nil {
			t.Errorf("plan-changes include_total: %d %s", r.Status, r.Raw)
		}
		// Declared parameters still work.
		if r := a.Do(http.MethodGet, "/api/v1/admin/users?status=active&limit=5&include_total=false", a.RootToken, nil); r.Status != 200 {
			t.Errorf("declared parameters: %d %s", r.Status, r.Raw)
		}
	})
}

// TestDeleteCombinations: for users and tenants, each purge/confirm
// combination does what the 400 says it does, and nothing else.
func TestDeleteCombinations(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		status := func(path string) string {
			r := a.Do(http.MethodGet, path, a.RootToken, nil)
			s, _ := r.Get("status").(string)
			if r.Status == 404 {
				return "gone"
			}
			return s
		}
		type target struct {
			name   string
			create func() string // returns the resource path
		}
		targets := []target{
			{"user", func() string { return "/api/v1/admin/users/" + a.User(steward.RoleUser).ID }},
			{"tenant", func() string {
				tn, err := a.Svc.Tenants.CreateTenant(apptest.System(), &steward.TenantCreate{Name: "Combo"})
				if err != nil {
					t.Fatal(err)
				}
				return "/api/v1/admin/tenants/" + tn.ID
			}},
		}
		for _, tg := range targets {
			for _, c := range []struct {
				query, code, after string
			}{
				{"?confirm=true", "BAD_REQUEST", "active"},
				{"?confirm=true&purge=false", "BAD_REQUEST", "active"},
				{"?purge=true", "CONFIRMATION_REQUIRED", "active"},
				{"?purge=true&confirm=false", "CONFIRMATION_REQUIRED", "active"},
				{"?purge=1&confirm=1", "BAD_REQUEST", "active"},
				{"?force=true", "BAD_REQUEST", "active"},
				{"", "", "deleted"},
				{"?purge=false&confirm=false", "", "deleted"},
				{"?purge=true&confirm=true", "", "gone"},
			} {
				path := tg.create()
				r := a.Do(http.MethodDelete, path+c.query, a.RootToken, nil)
				what := "DELETE " + tg.name + c.query
				if c.code == "" && r.Status != 200 || c.code != "" && (r.Status != 400 || r.Get("code") != c.code) {
					t.Errorf("%s: %d %s", what, r.Status, r.Raw)
				}
				if got := status(path); got != c.after {
					t.Errorf("%s: %s is %s afterwards, want %s", what, tg.name, got, c.after)
				}
				if c.query == "?confirm=true" {
					combos, _ := r.Get("details.combinations").(map[string]any)
					if len(combos) != 4 || !strings.Contains(fmt.Sprint(combos["neither"]), "soft-deletes") ||
						!strings.Contains(fmt.Sprint(combos["purge=true&confirm=true"]), "for good") {
						t.Errorf("%s: combinations %v", what, combos)
					}
				}
			}
		}
	})
}

// TestSafetyHeadersOnEveryAnswer walks the route table with a plain request
// (whatever it answers), then the mux's own 404 and 405 and /metrics: every
// answer carries nosniff and, but for the JWKS, Cache-Control: no-store. The
// answers that hold a secret or token are checked on success too.
func TestSafetyHeadersOnEveryAnswer(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		pk := platformKey(t, a)
		for _, rt := range documentedRoutes(t) {
			method, path := rt[0], rt[1]
			r := a.Do(method, pathParam.ReplaceAllString(path, "x"), credentialFor(a, pk, path), "{}")
			what := fmt.Sprintf("%s %s (%d)", method, path, r.Status)
			wantSafetyHeaders(t, what, r.Header)
			want := "no-store"
			if path == "/.well-known/jwks.json" {
				want = "public, max-age=60" // public keys, meant to be cached
			}
			if got := r.Header.Get("Cache-Control"); got != want {
				t.Errorf("%s: Cache-Control %q, want %q", what, got, want)
			}
		}
		for _, c := range []struct{ method, path string }{
			{http.MethodGet, "/api/v1/no-such-thing"}, {http.MethodPut, "/api/v1/auth/login"}, {http.MethodGet, "/metrics"},
		} {
			r := a.Do(c.method, c.path, a.RootToken, nil)
			wantSafetyHeaders(t, fmt.Sprintf("%s %s (%d)", c.method, c.path, r.Status), r.Header)
		}

		// The token-bearing answers themselves, on success.
		u := a.User(steward.RoleAdmin)
		login := a.Do(http.MethodPost, "/api/v1/auth/login", "", map[string]any{"email": u.Email, "password": apptest.Password})
		tok, _ := login.Get("session_token").(string)
		created := a.Do(http.MethodPost, "/api/v1/admin/api-keys", a.RootToken, map[string]any{"name": "k", "key_type": "admin", "scopes": []string{"users:read"}})
		keyID, _ := created.Get("id").(string)
		for what, r := range map[string]*apptest.Response{
			"login":   login,
			"refresh": a.Do(http.MethodPost, "/api/v1/auth/refresh", tok, nil),
			"create":  created,
			"rotate":  a.Do(http.MethodPost, "/api/v1/admin/api-keys/"+keyID+"/rotate", a.RootToken, nil),
		} {
			if r.Status/100 != 2 {
				t.Errorf("%s: %d %s", what, r.Status, r.Raw)
			}
			if got := r.Header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("%s: Cache-Control %q, want no-store", what, got)
			}
			wantSafetyHeaders(t, what, r.Header)
		}
	})
}

// TestAdminRateLimitPerCredential: past its burst a credential gets 429 with
// Retry-After and details.retry_after; another credential is not affected;
// the bucket refills with the (fake) clock; other surfaces are not limited.
func TestAdminRateLimitPerCredential(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		_, other := a.Operator(steward.RoleAdmin)
		me := func(tok string) int { return a.Do(http.MethodGet, "/api/v1/auth/me", tok, nil).Status }
		list := func(tok string) *apptest.Response {
			return a.Do(http.MethodGet, "/api/v1/admin/users?limit=1", tok, nil)
		}
		for i := range 3 {
			if r := list(a.RootToken); r.Status != 200 {
				t.Fatalf("request %d within the burst: %d %s", i+1, r.Status, r.Raw)
			}
		}
		r := list(a.RootToken)
		if r.Status != 429 || r.Get("code") != "RATE_LIMITED" {
			t.Fatalf("past the burst: %d %s", r.Status, r.Raw)
		}
		// 60 a minute: one token a second.
		if r.Header.Get("Retry-After") != "1" || r.Get("details.retry_after") != float64(1) || r.Get("retry_after") != float64(1) {
			t.Errorf("Retry-After %q, body %s", r.Header.Get("Retry-After"), r.Raw)
		}
		wantSafetyHeaders(t, "429", r.Header)
		if r := list(other); r.Status != 200 {
			t.Errorf("another credential: %d %s", r.Status, r.Raw)
		}
		if s := me(a.RootToken); s != 200 {
			t.Errorf("the auth surface is not limited by the admin limit: %d", s)
		}
		a.Clock.Advance(time.Second)
		if r := list(a.RootToken); r.Status != 200 {
			t.Errorf("after a second: %d %s", r.Status, r.Raw)
		}
		if r := list(a.RootToken); r.Status != 429 {
			t.Errorf("one token refilled, one spent: %d", r.Status)
		}
	}, apptest.Options{API: func(d *api.Deps) { d.AdminRatePerMinute, d.AdminRateBurst = 60, 3 }})
}

// stallingUsers holds ListUsers until the request's context ends, then asks
// the real store with that context (so the driver's own error comes back),
// or fails it with a deadline of Steward's own when the filter's tag says.
type stallingUsers struct {
	store.Store
	entered chan struct{}
}

func (s *stallingUsers) ListUsers(ctx context.Context, f steward.UserFilter) ([]*steward.User, error) {
	if f.Tag == "own-deadline" {
		return nil, fmt.Errorf("ledger batch: %w", context.DeadlineExceeded)
	}
	if f.Tag != "stall" {
		return s.Store.ListUsers(ctx, f)
	}
	s.entered <- struct{}{}
	<-ctx.Done()
	return s.Store.ListUsers(ctx, f)
}

// logSink keeps log records and signals each "request" record (outer's last
// word on a request, after its metrics).
type logSink struct {
	mu      sync.Mutex
	records []slog.Record
	request chan slog.Record
}

func (l *logSink) Enabled(context.Context, slog.Level) bool { return true }
func (l *logSink) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.records = append(l.records, r)
	l.mu.Unlock()
	if r.Message == "request" {
		l.request <- r
	}
	return nil
}
func (l *logSink) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logSink) WithGroup(string) slog.Handler      { return l }

// TestClientHangUpIsItsOwnOutcome: a client that hangs up mid-query (the
// store's driver reporting it its own way) is logged at debug and counted
// as status 499, never as a 500 nor at ERROR; Steward's own deadline
// passing while the client waits is a 503 with Retry-After.
func TestClientHangUpIsItsOwnOutcome(t *testing.T) {
	for _, b := range testdb.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			clientHangUp(t, b)
		})
	}
}

func clientHangUp(t *testing.T, b testdb.Backend) {
	stall := &stallingUsers{entered: make(chan struct{})}
	sink := &logSink{request: make(chan slog.Record, 16)}
	reg := prometheus.NewRegistry()
	func(a *apptest.App) {
		ctx, hangUp := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, a.Server.URL+"/api/v1/admin/users?tag=stall", nil)
		req.Header.Set("Authorization", "Bearer "+a.RootToken)
		errc := make(chan error, 1)
		go func() {
			resp, err := a.Server.Client().Do(req)
			if err == nil {
				resp.Body.Close()
			}
			errc <- err
		}()
		<-stall.entered
		hangUp()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Fatalf("client: %v", err)
		}
		rec := <-sink.request // the server has finished with it
		var status int64
		rec.Attrs(func(at slog.Attr) bool {
			if at.Key == "status" {
				status = at.Value.Int64()
			}
			return true
		})
		if status != api.StatusClientClosed || rec.Level != slog.LevelDebug {
			t.Errorf("request logged at %s with status %d, want DEBUG 499", rec.Level, status)
		}
		if n := (counter(t, reg, "GET", "GET /api/v1/admin/users", "499")); n != 1 {
			t.Errorf("requests counted as 499: %v, want 1", n)
		}
		if n := (counter(t, reg, "GET", "GET /api/v1/admin/users", "500")); n != 0 {
			t.Errorf("requests counted as 500: %v, want 0", n)
		}
		sink.mu.Lock()
		for _, r := range sink.records {
			if r.Level >= slog.LevelWarn {
				t.Errorf("logged at %s: %s", r.Level, r.Message)
			}
		}
		sink.records = nil
		sink.mu.Unlock()

		r := a.Do(http.MethodGet, "/api/v1/admin/users?tag=own-deadline", a.RootToken, nil)
		<-sink.request
		if r.Status != 503 || r.Get("code") != "UNAVAILABLE" || r.Header.Get("Retry-After") != "1" {
			t.Errorf("our own deadline: %d %s", r.Status, r.Raw)
		}
	}(apptest.New(t, b, apptest.Options{
		Service: func(c *service.Config) { stall.Store = c.Store; c.Store = stall },
		API:     func(d *api.Deps) { d.Logger, d.Metrics = slog.New(sink), reg },
	}))
}

// counter is steward_http_requests_total for labels (method, route, status).
func counter(t *testing.T, reg *prometheus.Registry, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "steward_http_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var vals []string
			for _, lp := range m.GetLabel() {
				vals = append(vals, lp.GetValue())
			}
			if slices.Equal(vals, labels) {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
