package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stewardhq/steward/store/sqlite"
)

// getSignedIn signs in to a booted server with email and password and
// answers the body of a GET of path made with the session token.
func getSignedIn(t *testing.T, url, email, password, path string) []byte {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"email": email, "password": password})
	resp, err := http.Post(url+"/api/v1/auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var lr struct {
		SessionToken string `json:"session_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&lr)
	resp.Body.Close()
	req, _ := http.NewRequest(http.MethodGet, url+path, nil)
	req.Header.Set("Authorization", "Bearer "+lr.SessionToken)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, raw)
	}
	return raw
}

// syncBuffer is a log sink the test can read while the server writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var urlRe = regexp.MustCompile(`url=(http://[0-9.:]+)`)

// boot runs `steward serve` in-process on a free port and waits (bounded)
// until it answers /readyz.
func boot(t *testing.T, env map[string]string) (url string, logs *syncBuffer, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs = &syncBuffer{}
	done := make(chan error, 1)
	getenv := func(k string) string { return env[k] }
	go func() { done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0"}, getenv, nil, io.Discard, logs) }()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if m := urlRe.FindStringSubmatch(logs.String()); m != nil {
			url = m[1]
			if resp, err := http.Get(url + "/readyz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					return url, logs, func() error { cancel(); return <-done }
				}
			}
		}
		select {
		case err := <-done:
			t.Fatalf("serve exited early: %v\n%s", err, logs.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	t.Fatalf("server not ready in time:\n%s", logs.String())
	return "", nil, nil
}

func login(t *testing.T, url, email, password string) int {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"email": email, "password": password})
	resp, err := http.Post(url+"/api/v1/auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		User struct{ Role string }
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode == 200 && out.User.Role != "super_admin" {
		t.Fatalf("first operator role = %q", out.User.Role)
	}
	return resp.StatusCode
}

func TestServeCreatesAUsableFirstOperatorOnce(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "s.db")
	env := map[string]string{"STEWARD_DB": db}
	url, logs, stop := boot(t, env)
	m := regexp.MustCompile(`email=admin@localhost password=(\S+)`).FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("no generated password in the log:\n%s", logs.String())
	}
	if code := login(t, url, "admin@localhost", m[1]); code != 200 {
		t.Fatalf("login with the printed password: %d", code)
	}
	if err := stop(); err != nil {
		t.Fatalf("graceful shutdown: %v", err)
	}

	// A restart finds the operator and creates no second one.
	url, logs, stop = boot(t, env)
	defer stop()
	if strings.Contains(logs.String(), "password=") || !strings.Contains(logs.String(), "bootstrap skipped") {
		t.Fatalf("restart bootstrapped again:\n%s", logs.String())
	}
	if code := login(t, url, "admin@localhost", m[1]); code != 200 {
		t.Fatalf("login after restart: %d", code)
	}
}

func TestBootstrapFromEnvironment(t *testing.T) {
	env := map[string]string{
		"STEWARD_DB":                 "sqlite:" + filepath.Join(t.TempDir(), "s.db"),
		"STEWARD_BOOTSTRAP_EMAIL":    "Ops@Example.com",
		"STEWARD_BOOTSTRAP_PASSWORD": "a-chosen-password",
	}
	url, logs, stop := boot(t, env)
	defer stop()
	if strings.Contains(logs.String(), "a-chosen-password") {
		t.Fatal("a configured password must not be logged")
	}
	if code := login(t, url, "ops@example.com", "a-chosen-password"); code != 200 {
		t.Fatalf("login: %d", code)
	}
	for _, path := range []string{"/healthz", "/metrics", "/.well-known/jwks.json", "/api/v1/openapi.json"} {
		resp, err := http.Get(url + path)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET %s: %v %v", path, err, resp)
		}
		resp.Body.Close()
	}
}

func TestCommands(t *testing.T) {
	env := map[string]string{"STEWARD_DB": "sqlite:" + filepath.Join(t.TempDir(), "s.db")}
	getenv := func(k string) string { return env[k] }
	var out bytes.Buffer
	ctx := context.Background()
	if err := run(ctx, []string{"version"}, getenv, nil, &out, io.Discard); err != nil || !strings.HasPrefix(out.String(), "steward ") {
		t.Fatalf("version: %v %q", err, out.String())
	}
	out.Reset()
	if err := run(ctx, []string{"migrate"}, getenv, nil, &out, io.Discard); err != nil || !strings.Contains(out.String(), "migration version") {
		t.Fatalf("migrate: %v %q", err, out.String())
	}
	if err := run(ctx, []string{"bootstrap"}, getenv, nil, io.Discard, io.Discard); err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	out.Reset()
	if err := run(ctx, []string{"doctor"}, getenv, nil, &out, io.Discard); err != nil || !strings.Contains(out.String(), "audit chain: ok") {
		t.Fatalf("doctor: %v %q", err, out.String())
	}
	if err := run(ctx, []string{"serve", "--db", "mysql://x"}, getenv, nil, io.Discard, io.Discard); err == nil {
		t.Fatal("an unknown database scheme must be refused")
	}
	if err := run(ctx, []string{"serve", "--key-prefix", "a_b"}, getenv, nil, io.Discard, io.Discard); err == nil {
		t.Fatal("a key prefix with '_' must be refused")
	}
}

// TestPlansFile serves a catalogue from STEWARD_PLANS and refuses to start
// on a broken one, naming the problem.
func TestPlansFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "plans.json")
	if err := os.WriteFile(good, []byte(`{"plans": [{"id": "hobby", "name": "Hobby", "limits": {"max_users": 2}},
		{"id": "team", "name": "Team", "price_cents": 4900}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	url, _, stop := boot(t, map[string]string{"STEWARD_DB": "sqlite:" + filepath.Join(dir, "s.db"),
		"STEWARD_PLANS": good, "STEWARD_BOOTSTRAP_EMAIL": "ops@example.com", "STEWARD_BOOTSTRAP_PASSWORD": "plans-test-password"})
	var plans struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	_ = json.Unmarshal(getSignedIn(t, url, "ops@example.com", "plans-test-password", "/api/v1/admin/plans"), &plans)
	if len(plans.Data) != 2 || plans.Data[0].ID != "hobby" || plans.Data[1].ID != "team" {
		t.Fatalf("plans served: %+v", plans)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"plans": [{"id": "x", "name": "X", "period": "week"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	getenv := func(k string) string {
		return map[string]string{"STEWARD_DB": "sqlite:" + filepath.Join(dir, "s.db"), "STEWARD_PLANS": bad}[k]
	}
	err := run(context.Background(), []string{"serve", "--addr", "127.0.0.1:0"}, getenv, nil, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "period must be month or year") {
		t.Fatalf("a broken catalogue: %v", err)
	}
	getenv2 := func(k string) string {
		return map[string]string{"STEWARD_DB": "sqlite:" + filepath.Join(dir, "s.db"), "STEWARD_PLANS": filepath.Join(dir, "missing.json")}[k]
	}
	if err := run(context.Background(), []string{"serve"}, getenv2, nil, io.Discard, io.Discard); err == nil {
		t.Fatal("a missing catalogue file must be refused")
	}
}

// TestDoctorChecksTheLedger: doctor passes on a consistent ledger and, when
// a block's remainder no longer matches the entries, exits non-zero naming
// the tenant.
func TestDoctorChecksTheLedger(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "s.db")
	env := map[string]string{"STEWARD_DB": "sqlite:" + dbPath,
		"STEWARD_BOOTSTRAP_EMAIL": "ops@example.com", "STEWARD_BOOTSTRAP_PASSWORD": "doctor-test-password"}
	url, _, stop := boot(t, env)
	call := func(token, path string, body any) map[string]any {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(http.MethodPost, url+path, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		if resp.StatusCode >= 300 {
			t.Fatalf("%s: %d %v", path, resp.StatusCode, out)
		}
		return out
	}
	tok := call("", "/api/v1/auth/login", map[string]string{"email": "ops@example.com", "password": "doctor-test-password"})["session_token"].(string)
	tid := call(tok, "/api/v1/admin/tenants", map[string]any{"name": "Doctor"})["id"].(string)
	call(tok, "/api/v1/admin/credits/grant", map[string]any{"tenant_id": tid, "amount": 10, "description": "x"})
	call(tok, "/api/v1/admin/credits/deduct", map[string]any{"tenant_id": tid, "amount": 3, "description": "y"})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	getenv := func(k string) string { return env[k] }
	var out bytes.Buffer
	if err := run(context.Background(), []string{"doctor"}, getenv, nil, &out, io.Discard); err != nil ||
		!strings.Contains(out.String(), "credits ledger: ok") {
		t.Fatalf("doctor on a sound ledger: %v\n%s", err, out.String())
	}

	st, err := sqlite.Open(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.WriterDB().Exec("UPDATE credit_blocks SET remaining = remaining + 1 WHERE tenant_id = ?", tid); err != nil {
		t.Fatal(err)
	}
	st.Close()
	out.Reset()
	err = run(context.Background(), []string{"doctor"}, getenv, nil, &out, io.Discard)
	if err == nil || !strings.Contains(out.String(), "tenant "+tid+" DISAGREES") || !strings.Contains(out.String(), "sum of blocks 8") {
		t.Fatalf("doctor on a broken ledger: %v\n%s", err, out.String())
	}
}

// TestAdminRateLimitSetting: STEWARD_ADMIN_RATE_LIMIT and _BURST reach the
// admin surface (429 with Retry-After past the burst); 0 turns it off; a
// malformed value stops the start naming the variable.
func TestAdminRateLimitSetting(t *testing.T) {
	dir := t.TempDir()
	admin := func(url, tok string) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, url+"/api/v1/admin/plans", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	token := func(url string) string {
		body, _ := json.Marshal(map[string]string{"email": "ops@example.com", "password": "rate-test-password"})
		resp, err := http.Post(url+"/api/v1/auth/login", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var lr struct {
			SessionToken string `json:"session_token"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&lr)
		return lr.SessionToken
	}
	env := map[string]string{"STEWARD_DB": "sqlite:" + filepath.Join(dir, "s.db"), "STEWARD_BOOTSTRAP_EMAIL": "ops@example.com",
		"STEWARD_BOOTSTRAP_PASSWORD": "rate-test-password", "STEWARD_ADMIN_RATE_LIMIT": "1", "STEWARD_ADMIN_RATE_BURST": "2"}
	url, _, stop := boot(t, env)
	tok := token(url)
	for i := range 2 {
		if r := admin(url, tok); r.StatusCode != 200 {
			t.Fatalf("request %d: %d", i+1, r.StatusCode)
		}
	}
	if r := admin(url, tok); r.StatusCode != 429 || r.Header.Get("Retry-After") == "" {
		t.Fatalf("past the burst of 2 at 1 a minute: %d, Retry-After %q", r.StatusCode, r.Header.Get("Retry-After"))
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	env["STEWARD_ADMIN_RATE_LIMIT"] = "0"
	url, _, stop = boot(t, env)
	tok = token(url)
	for i := range 5 {
		if r := admin(url, tok); r.StatusCode != 200 {
			t.Fatalf("limit off, request %d: %d", i+1, r.StatusCode)
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	env["STEWARD_ADMIN_RATE_LIMIT"] = "lots"
	err := run(context.Background(), []string{"serve", "--addr", "127.0.0.1:0"}, func(k string) string { return env[k] }, nil, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "STEWARD_ADMIN_RATE_LIMIT") {
		t.Fatalf("a malformed limit: %v", err)
	}
}
