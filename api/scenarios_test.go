package api_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
)

// This file holds the API scenario table (in the manner of PocketBase's
// ApiScenario: method, path, credential, body, expected status and body
// fragments) and the small harness the other api_test files share. Every
// scenario runs on every backend apptest.Each offers. Scenarios share one app
// per backend and make their own users, except those marked Fresh, which move
// the clock, count failed logins or read the whole audit log and so get an
// app of their own.

const (
	get, post, put, patch, del = http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete

	usersPath   = "/api/v1/admin/users"
	unknownUser = "usr_00000000000000000000000000"
	newPassword = "a-brand-new-passphrase"
)

type M = map[string]any

// ---------------------------------------------------------------------------
// Harness

// uniq makes every helper-created email and username unique in a process.
var uniq atomic.Int64

// env holds what a scenario's setup made, by name: "{name}" in a path,
// token, body or expected string is replaced by env[name]. Conventions:
// {x} is user x's id, {x_email} and {x_username} its login names, {x_tok} a
// session token and {x_jwt} an access token. {root} is the bootstrap
// super_admin's session token and {root_id} its id.
type env map[string]string

// fix is one scenario's view of its app. It never uses the App's own T, so
// scenarios can share an app from parallel subtests.
type fix struct {
	t *testing.T
	a *apptest.App
	e env
}

func newFix(t *testing.T, a *apptest.App) *fix {
	return &fix{t: t, a: a, e: env{"root": a.RootToken, "root_id": a.Root.ID, "unknown": unknownUser}}
}

var placeholderRe = regexp.MustCompile(`\{([a-z][a-z0-9_]*)\}`)

func (f *fix) expand(s string) string {
	f.t.Helper()
	return placeholderRe.ReplaceAllStringFunc(s, func(m string) string {
		v, ok := f.e[m[1:len(m)-1]]
		if !ok {
			f.t.Fatalf("placeholder %s used but not set by the setup", m)
		}
		return v
	})
}

// encodeBody turns a scenario body into bytes: nil is no body, a string or
// []byte is sent as is, anything else as JSON.
func encodeBody(body any) ([]byte, bool) {
	switch b := body.(type) {
	case nil:
		return nil, false
	case string:
		return []byte(b), true
	case []byte:
		return b, true
	default:
		j, err := json.Marshal(b)
		if err != nil {
			panic(err)
		}
		return j, true
	}
}

// send is one HTTP request; it returns errors instead of failing the test, so
// goroutines may call it.
func send(a *apptest.App, method, path, token string, body []byte, hasBody bool, hdr map[string]string) (*apptest.Response, error) {
	var rd io.Reader
	if hasBody {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, a.Server.URL+path, rd)
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if hasBody {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := a.Server.Client().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	r := &apptest.Response{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	_ = json.Unmarshal(raw, &r.Body)
	return r, nil
}

// do sends a request with placeholders expanded and checks what every answer
// must have (a request id; the flat error shape on errors).
func (f *fix) do(method, path, token string, body any, hdr ...map[string]string) *apptest.Response {
	f.t.Helper()
	b, has := encodeBody(body)
	if has {
		b = []byte(f.expand(string(b)))
	}
	h := map[string]string{}
	for _, m := range hdr {
		for k, v := range m {
			h[k] = f.expand(v)
		}
	}
	r, err := send(f.a, method, f.expand(path), f.expand(token), b, has, h)
	if err != nil {
		f.t.Fatalf("%s %s: %v", method, path, err)
	}
	checkCommon(f.t, r, h["X-Request-ID"])
	return r
}

// must is do, failing the test unless the status is want.
func (f *fix) must(want int, method, path, token string, body any) *apptest.Response {
	f.t.Helper()
	r := f.do(method, path, token, body)
	if r.Status != want {
		f.t.Fatalf("%s %s: status %d, want %d; body: %s", method, f.expand(path), r.Status, want, r.Raw)
	}
	return r
}

// expectErr checks an error answer's status and code.
func (f *fix) expectErr(r *apptest.Response, status int, code string) {
	f.t.Helper()
	if r.Status != status || r.Get("code") != code {
		f.t.Errorf("got %d %v, want %d %s; body: %s", r.Status, r.Get("code"), status, code, r.Raw)
	}
}

func (f *fix) ok(err error) {
	f.t.Helper()
	if err != nil {
		f.t.Fatal(err)
	}
}

// createUser makes a user through the service as the system.
func createUser(t testing.TB, a *apptest.App, role steward.Role, mods ...func(*steward.UserCreate)) *steward.User {
	t.Helper()
	n := uniq.Add(1)
	in := &steward.UserCreate{Email: fmt.Sprintf("s%d-%s@example.com", n, role),
		Username: fmt.Sprintf("s%d", n), Name: fmt.Sprintf("Scenario User %d", n),
		Password: apptest.Password, Role: role}
	for _, m := range mods {
		m(in)
	}
	if in.TenantID != "" {
		a.EnsureTenant(t, in.TenantID)
	}
	u, err := a.Svc.Users.CreateUser(apptest.System(), in)
	if err != nil {
		t.Fatalf("creating %s user: %v", role, err)
	}
	return u
}

// svcLogin logs a user in through the service and returns the session token.
func svcLogin(t testing.TB, a *apptest.App, email string) string {
	t.Helper()
	res, err := a.Svc.Auth.Login(context.Background(), steward.LoginInput{Email: email, Password: apptest.Password, IP: "192.0.2.10"})
	if err != nil {
		t.Fatalf("login %s: %v", email, err)
	}
	return res.SessionToken
}

// user makes a user named name in the env.
func (f *fix) user(name string, role steward.Role, mods ...func(*steward.UserCreate)) *steward.User {
	f.t.Helper()
	u := createUser(f.t, f.a, role, mods...)
	f.e[name], f.e[name+"_email"], f.e[name+"_username"] = u.ID, u.Email, u.Username
	return u
}

// op makes a user with a session token {name_tok}.
func (f *fix) op(name string, role steward.Role, mods ...func(*steward.UserCreate)) *steward.User {
	f.t.Helper()
	u := f.user(name, role, mods...)
	f.e[name+"_tok"] = svcLogin(f.t, f.a, u.Email)
	return u
}

// loginHTTP logs user name in over HTTP: {name_tok} and {name_jwt}.
func (f *fix) loginHTTP(name string) {
	f.t.Helper()
	r := f.must(200, post, "/api/v1/auth/login", "", M{"email": "{" + name + "_email}", "password": apptest.Password})
	f.e[name+"_tok"], f.e[name+"_jwt"] = str(r, "session_token"), str(r, "access_token")
}

// sessionID is the id of the session behind a token.
func (f *fix) sessionID(token string) string {
	f.t.Helper()
	p, err := f.a.Svc.Auth.Authenticate(context.Background(), f.expand(token))
	f.ok(err)
	return p.Session.ID
}

func withTags(tags ...string) func(*steward.UserCreate) {
	return func(in *steward.UserCreate) { in.Tags = tags }
}

func withTenant(tid string) func(*steward.UserCreate) {
	return func(in *steward.UserCreate) { in.TenantID = tid }
}

// --- reading answers

// lookup finds a dotted path ("details.fields.email", "data.0.id") in a
// decoded body. A map key may itself hold dots ("params.tags").
func lookup(v any, path string) (any, bool) {
	if path == "" {
		return v, true
	}
	switch c := v.(type) {
	case map[string]any:
		for i := len(path); i > 0; i-- {
			if i < len(path) && path[i] != '.' {
				continue
			}
			if x, ok := c[path[:i]]; ok {
				rest := ""
				if i < len(path) {
					rest = path[i+1:]
				}
				if r, ok := lookup(x, rest); ok {
					return r, true
				}
			}
		}
	case []any:
		head, rest, _ := strings.Cut(path, ".")
		if n, err := strconv.Atoi(head); err == nil && n >= 0 && n < len(c) {
			return lookup(c[n], rest)
		}
	}
	return nil, false
}

func str(r *apptest.Response, path string) string {
	v, _ := lookup(r.Body, path)
	s, _ := v.(string)
	return s
}

func num(r *apptest.Response, path string) float64 {
	v, _ := lookup(r.Body, path)
	n, _ := v.(float64)
	return n
}

func items(r *apptest.Response) []map[string]any {
	var out []map[string]any
	list, _ := r.Body["data"].([]any)
	for _, x := range list {
		m, _ := x.(map[string]any)
		out = append(out, m)
	}
	return out
}

func idsOf(r *apptest.Response) []string {
	var out []string
	for _, m := range items(r) {
		s, _ := m["id"].(string)
		out = append(out, s)
	}
	return out
}

// walk follows next_cursor through every page of a list.
func (f *fix) walk(path, token string) []map[string]any {
	f.t.Helper()
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	var all []map[string]any
	cursor := ""
	for page := 0; ; page++ {
		p := path
		if cursor != "" {
			p += sep + "cursor=" + cursor
		}
		r := f.must(200, get, p, token, nil)
		all = append(all, items(r)...)
		if r.Get("has_more") != true {
			return all
		}
		cursor = str(r, "next_cursor")
		if cursor == "" || page > 1000 {
			f.t.Fatalf("has_more without a usable next_cursor: %s", r.Raw)
		}
	}
}

// audit lists the audit entries of one target and action (newest first).
func (f *fix) audit(target, action string) []map[string]any {
	f.t.Helper()
	return f.walk("/api/v1/admin/audit-log?limit=200&target_id="+target+"&action="+action, "{root}")
}

// --- expectations

// check is an expectation on one field: v is its value, found whether the
// path exists at all.
type check func(v any, found bool) error

func present() check {
	return func(v any, found bool) error {
		if !found || v == nil {
			return fmt.Errorf("want a value, got %v", v)
		}
		return nil
	}
}

func absent() check {
	return func(v any, found bool) error {
		if found {
			return fmt.Errorf("want no such field, got %v", v)
		}
		return nil
	}
}

func prefix(p string) check {
	return func(v any, found bool) error {
		if s, ok := v.(string); !ok || !strings.HasPrefix(s, p) {
			return fmt.Errorf("want a string starting %q, got %v", p, v)
		}
		return nil
	}
}

func contains(sub string) check {
	return func(v any, found bool) error {
		if s, ok := v.(string); !ok || !strings.Contains(s, sub) {
			return fmt.Errorf("want a string containing %q, got %v", sub, v)
		}
		return nil
	}
}

func length(n int) check {
	return func(v any, found bool) error {
		switch c := v.(type) {
		case []any:
			if len(c) == n {
				return nil
			}
		case map[string]any:
			if len(c) == n {
				return nil
			}
		}
		return fmt.Errorf("want length %d, got %v", n, v)
	}
}

func (f *fix) checkField(r *apptest.Response, path string, want any) {
	f.t.Helper()
	got, found := lookup(r.Body, path)
	if c, ok := want.(check); ok {
		if err := c(got, found); err != nil {
			f.t.Errorf("%s: %v; body: %s", path, err, r.Raw)
		}
		return
	}
	if want == nil {
		if !found || got != nil {
			f.t.Errorf("%s = %v (present %v), want null; body: %s", path, got, found, r.Raw)
		}
		return
	}
	b, _ := json.Marshal(want)
	var w any
	_ = json.Unmarshal([]byte(f.expand(string(b))), &w)
	if !found || !reflect.DeepEqual(got, w) {
		f.t.Errorf("%s = %v (present %v), want %v; body: %s", path, got, found, w, r.Raw)
	}
}

// codeStatus is the status each error code must come with (SPEC §3).
var codeStatus = map[string]int{
	"BAD_REQUEST": 400, "CONFIRMATION_REQUIRED": 400, "INSUFFICIENT_CREDITS": 402, "SPENDING_CAP_REACHED": 402, "UNAUTHENTICATED": 401, "INVALID_CREDENTIALS": 401,
	"FORBIDDEN": 403, "WRONG_SURFACE": 403, "CANNOT_ESCALATE": 403, "INSUFFICIENT_ROLE": 403, "IMPERSONATION_WRITE_DENIED": 403,
	"NOT_FOUND": 404, "METHOD_NOT_ALLOWED": 405, "ALREADY_EXISTS": 409, "ALREADY_BANNED": 409,
	"INVALID_STATE": 409, "IDEMPOTENCY_KEY_REUSED": 409, "PAYLOAD_TOO_LARGE": 413,
	"VALIDATION_FAILED": 422, "CANNOT_TARGET_SELF": 422, "LAST_ACTIVE_OWNER": 422, "TENANT_USER_LIMIT": 422,
	"RATE_LIMITED": 429, "UNAVAILABLE": 503, "INTERNAL": 500,
}

var wellFormedRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// checkCommon asserts what every answer carries: an X-Request-ID (the
// caller's own when well-formed) and, on errors, exactly the flat shape
// {code, message, details, request_id} (+ retry_after on 429).
func checkCommon(t testing.TB, r *apptest.Response, sentID string) {
	t.Helper()
	rid := r.Header.Get("X-Request-ID")
	if rid == "" {
		t.Errorf("answer %d has no X-Request-ID header", r.Status)
	}
	if sentID != "" && wellFormedRequestID.MatchString(sentID) && rid != sentID {
		t.Errorf("X-Request-ID = %q, want the caller's %q", rid, sentID)
	}
	if r.Status < 400 {
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("error answer %d has Content-Type %q; body %s", r.Status, ct, r.Raw)
	}
	if r.Body == nil {
		t.Errorf("error answer %d is not a JSON object: %s", r.Status, r.Raw)
		return
	}
	for k := range r.Body {
		switch k {
		case "code", "message", "details", "request_id":
		case "retry_after":
			if r.Status != http.StatusTooManyRequests {
				t.Errorf("retry_after on a %d answer: %s", r.Status, r.Raw)
			}
		default:
			t.Errorf("error body has unexpected top-level key %q: %s", k, r.Raw)
		}
	}
	code, _ := r.Body["code"].(string)
	if st, ok := codeStatus[code]; !ok {
		t.Errorf("error code %q is not a known code: %s", code, r.Raw)
	} else if st != r.Status {
		t.Errorf("code %s came with status %d, want %d", code, r.Status, st)
	}
	if m, _ := r.Body["message"].(string); m == "" {
		t.Errorf("error without a message: %s", r.Raw)
	}
	details, ok := r.Body["details"].(map[string]any)
	if !ok {
		t.Errorf("details is not an object: %s", r.Raw)
	}
	if got, _ := r.Body["request_id"].(string); got == "" || got != rid {
		t.Errorf("request_id %q does not match X-Request-ID %q", got, rid)
	}
	if code == steward.CodeValidation {
		if fields, _ := details["fields"].(map[string]any); len(fields) == 0 {
			t.Errorf("VALIDATION_FAILED without details.fields: %s", r.Raw)
		}
	}
	if r.Status == http.StatusTooManyRequests {
		ra, _ := r.Body["retry_after"].(float64)
		if ra < 1 || r.Header.Get("Retry-After") != strconv.Itoa(int(ra)) {
			t.Errorf("429 with retry_after %v and Retry-After header %q", r.Body["retry_after"], r.Header.Get("Retry-After"))
		}
	}
}

// ---------------------------------------------------------------------------
// Scenario table

type scenario struct {
	Name string
	// Fresh runs the scenario on an app of its own.
	Fresh  bool
	Setup  func(f *fix)
	Method string
	Path   string
	Token  string
	Body   any
	Header map[string]string
	Status int
	// Want maps dotted paths to an expected value (compared as JSON, strings
	// with placeholders expanded), nil for JSON null, or a check.
	Want  map[string]any
	After func(f *fix, r *apptest.Response)
}

func (sc scenario) run(t *testing.T, a *apptest.App) {
	f := newFix(t, a)
	if sc.Setup != nil {
		sc.Setup(f)
	}
	var hdr []map[string]string
	if sc.Header != nil {
		hdr = append(hdr, sc.Header)
	}
	r := f.do(sc.Method, sc.Path, sc.Token, sc.Body, hdr...)
	if r.Status != sc.Status {
		t.Fatalf("%s %s: status %d, want %d; body: %s", sc.Method, f.expand(sc.Path), r.Status, sc.Status, r.Raw)
	}
	for path, want := range sc.Want {
		f.checkField(r, path, want)
	}
	if sc.After != nil {
		sc.After(f, r)
	}
}

func TestAPIScenarios(t *testing.T) { runScenarios(t, allScenarios()) }

// runScenarios runs every scenario on every backend: in parallel on one
// shared app, or on a fresh one when the scenario moves the clock or counts
// something global.
func runScenarios(t *testing.T, scs []scenario) {
	seen := map[string]bool{}
	for _, sc := range scs {
		if seen[sc.Name] {
			t.Fatalf("two scenarios are named %q", sc.Name)
		}
		seen[sc.Name] = true
	}
	apptest.Each(t, func(t *testing.T, shared *apptest.App) {
		for _, sc := range scs {
			t.Run(sc.Name, func(t *testing.T) {
				t.Parallel()
				a := shared
				if sc.Fresh {
					a = apptest.New(t, shared.Backend)
				}
				sc.run(t, a)
			})
		}
	})
}

func allScenarios() []scenario {
	var all []scenario
	for _, group := range [][]scenario{
		surfaceScenarios(), createScenarios(), readScenarios(), listScenarios(), patchScenarios(),
		deleteScenarios(), suspendScenarios(), banScenarios(), sessionRevocationScenarios(),
		roleScenarios(), bulkScenarios(), sessionScenarios(), auditScenarios(), authScenarios(),
		edgeScenarios(),
	} {
		all = append(all, group...)
	}
	return all
}

func fieldErr(status int, code string, fields ...string) map[string]any {
	w := map[string]any{"code": code}
	for _, fl := range fields {
		w["details.fields."+fl] = present()
	}
	return w
}

func validation(fields ...string) map[string]any {
	return fieldErr(422, steward.CodeValidation, fields...)
}
func badRequest(fields ...string) map[string]any {
	return fieldErr(400, steward.CodeBadRequest, fields...)
}
func code(c string) map[string]any { return map[string]any{"code": c} }

// --- surface: health, documents, unknown paths and methods, request ids, credentials

func surfaceScenarios() []scenario {
	return []scenario{
		{Name: "healthz answers ok", Method: get, Path: "/healthz", Status: 200, Want: M{"status": "ok"}},
		{Name: "readyz answers ready", Method: get, Path: "/readyz", Status: 200, Want: M{"status": "ready"}},
		{Name: "openapi document is served", Method: get, Path: "/api/v1/openapi.json", Status: 200,
			Want: M{"openapi": "3.1.0", "info.title": "Steward", "paths": present()}},
		{Name: "metrics are served", Method: get, Path: "/metrics", Status: 200,
			Setup: func(f *fix) { f.must(200, get, "/healthz", "", nil) },
			After: func(f *fix, r *apptest.Response) {
				if !bytes.Contains(r.Raw, []byte("steward_http_requests_total")) {
					f.t.Errorf("metrics lack steward_http_requests_total:\n%.500s", r.Raw)
				}
			}},
		{Name: "jwks publishes the Ed25519 key that signs access tokens", Method: get, Path: "/.well-known/jwks.json", Status: 200,
			Setup: func(f *fix) { f.user("target", steward.RoleUser); f.loginHTTP("target") },
			Want:  M{"keys.0.kty": "OKP", "keys.0.crv": "Ed25519", "keys.0.alg": "EdDSA", "keys.0.kid": present(), "keys.0.x": present(), "keys.0.d": absent()},
			After: func(f *fix, r *apptest.Response) {
				jwt := f.e["target_jwt"]
				parts := strings.Split(jwt, ".")
				if len(parts) != 3 {
					f.t.Fatalf("access token %q is not a JWS", jwt)
				}
				var hdr, claims map[string]any
				hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
				cb, _ := base64.RawURLEncoding.DecodeString(parts[1])
				sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
				_ = json.Unmarshal(hb, &hdr)
				_ = json.Unmarshal(cb, &claims)
				if hdr["alg"] != "EdDSA" {
					f.t.Errorf("JWT alg = %v, want EdDSA", hdr["alg"])
				}
				var key map[string]any
				keys, _ := r.Body["keys"].([]any)
				for _, k := range keys {
					if m, _ := k.(map[string]any); m["kid"] == hdr["kid"] {
						key = m
					}
				}
				if key == nil {
					f.t.Fatalf("JWT kid %v is not in the JWKS %s", hdr["kid"], r.Raw)
				}
				x, _ := key["x"].(string)
				pub, _ := base64.RawURLEncoding.DecodeString(x)
				if len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, []byte(parts[0]+"."+parts[1]), sig) {
					f.t.Errorf("the JWKS key does not verify the access token's signature")
				}
				if claims["sub"] != f.e["target"] || claims["ver"] != 0.0 || claims["role"] != "user" {
					f.t.Errorf("claims sub/ver/role = %v/%v/%v", claims["sub"], claims["ver"], claims["role"])
				}
				if sid, _ := claims["sid"].(string); !strings.HasPrefix(sid, "ses_") {
					f.t.Errorf("claim sid = %v", claims["sid"])
				}
				exp, _ := claims["exp"].(float64)
				iat, _ := claims["iat"].(float64)
				if exp-iat != 900 {
					f.t.Errorf("access token lives %v s, want 900", exp-iat)
				}
			}},
		{Name: "unknown path is a JSON 404", Method: get, Path: "/api/v1/no-such-thing", Status: 404, Want: code("NOT_FOUND")},
		{Name: "unknown admin path is a JSON 404", Method: get, Path: "/api/v1/admin/no-such-thing", Token: "{root}", Status: 404, Want: code("NOT_FOUND")},
		{Name: "unknown user sub-resource is a JSON 404", Method: get, Path: "/api/v1/admin/users/{root_id}/no-such-thing", Token: "{root}", Status: 404, Want: code("NOT_FOUND")},
		{Name: "wrong method on the users collection is a JSON 405", Method: del, Path: usersPath, Token: "{root}", Status: 405,
			Want: code("METHOD_NOT_ALLOWED"),
			After: func(f *fix, r *apptest.Response) {
				if allow := r.Header.Get("Allow"); !strings.Contains(allow, "GET") || !strings.Contains(allow, "POST") {
					f.t.Errorf("Allow = %q", allow)
				}
			}},
		{Name: "wrong method on login is a JSON 405", Method: get, Path: "/api/v1/auth/login", Status: 405, Want: code("METHOD_NOT_ALLOWED")},
		{Name: "wrong method on healthz is a JSON 405", Method: post, Path: "/healthz", Body: "{}", Status: 405, Want: code("METHOD_NOT_ALLOWED")},
		{Name: "wrong method on a session is a JSON 405", Method: get, Path: "/api/v1/admin/sessions/ses_x", Token: "{root}", Status: 405, Want: code("METHOD_NOT_ALLOWED")},
		{Name: "caller's request id is echoed on success", Method: get, Path: "/healthz", Status: 200,
			Header: map[string]string{"X-Request-ID": "client.req-42:abc"},
			After: func(f *fix, r *apptest.Response) {
				if got := r.Header.Get("X-Request-ID"); got != "client.req-42:abc" {
					f.t.Errorf("X-Request-ID = %q", got)
				}
			}},
		{Name: "caller's request id is echoed in an error body", Method: get, Path: usersPath, Status: 401,
			Header: map[string]string{"X-Request-ID": "client-err-7"},
			Want:   M{"code": "UNAUTHENTICATED", "request_id": "client-err-7"}},
		{Name: "malformed request id is replaced", Method: get, Path: "/api/v1/nope", Status: 404,
			Header: map[string]string{"X-Request-ID": "bad id!"},
			Want:   M{"request_id": prefix("req_")},
			After: func(f *fix, r *apptest.Response) {
				if got := r.Header.Get("X-Request-ID"); !strings.HasPrefix(got, "req_") {
					f.t.Errorf("X-Request-ID = %q, want a generated req_ id", got)
				}
			}},
		{Name: "overlong request id is replaced", Method: get, Path: "/healthz", Status: 200,
			Header: map[string]string{"X-Request-ID": strings.Repeat("a", 129)},
			After: func(f *fix, r *apptest.Response) {
				if got := r.Header.Get("X-Request-ID"); !strings.HasPrefix(got, "req_") {
					f.t.Errorf("X-Request-ID = %q, want a generated req_ id", got)
				}
			}},
		{Name: "cross-origin write is refused with a JSON 403", Method: post, Path: usersPath, Token: "{root}",
			Header: map[string]string{"Sec-Fetch-Site": "cross-site"},
			Body:   M{"email": "cross.origin@example.com"}, Status: 403, Want: code("FORBIDDEN"),
			After: func(f *fix, r *apptest.Response) {
				if l := f.must(200, get, usersPath+"?q=cross.origin", "{root}", nil); len(items(l)) != 0 {
					f.t.Errorf("the refused request created a user: %s", l.Raw)
				}
			}},

		// credentials on the admin and auth surfaces
		{Name: "admin surface without a credential is 401", Method: get, Path: usersPath, Status: 401, Want: code("UNAUTHENTICATED")},
		{Name: "admin surface with an unknown session token is 401", Method: get, Path: usersPath,
			Token: "stw_s_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", Status: 401, Want: code("UNAUTHENTICATED")},
		{Name: "admin surface with a forged JWT is 401", Method: get, Path: usersPath,
			Token: "eyJhbGciOiJFZERTQSIsImtpZCI6Imp3a194In0.eyJzdWIiOiJ1c3JfeCJ9.c2lnbmF0dXJl", Status: 401, Want: code("UNAUTHENTICATED")},
		{Name: "admin surface with a garbage token is 401", Method: get, Path: usersPath, Token: "garbage", Status: 401, Want: code("UNAUTHENTICATED")},
		{Name: "admin surface with Basic auth is 401", Method: get, Path: usersPath,
			Header: map[string]string{"Authorization": "Basic cm9vdDpwYXNzd29yZA=="}, Status: 401, Want: code("UNAUTHENTICATED")},
		{Name: "admin surface with a plain user's session token is 403", Method: get, Path: usersPath, Token: "{plain_tok}",
			Setup: func(f *fix) { f.op("plain", steward.RoleUser) }, Status: 403, Want: M{"code": "FORBIDDEN", "details.role": "user"}},
		{Name: "admin surface with a plain user's access token is 403", Method: post, Path: usersPath, Token: "{plain_jwt}",
			Setup: func(f *fix) { f.user("plain", steward.RoleUser); f.loginHTTP("plain") },
			Body:  M{"email": "by.plain.user@example.com"}, Status: 403, Want: code("FORBIDDEN")},
		{Name: "admin surface takes an operator's access token", Method: get, Path: usersPath + "/{root_id}", Token: "{sup_jwt}",
			Setup: func(f *fix) { f.user("sup", steward.RoleSupport); f.loginHTTP("sup") }, Status: 200, Want: M{"id": "{root_id}"}},
		{Name: "auth me without a credential is 401", Method: get, Path: "/api/v1/auth/me", Status: 401, Want: code("UNAUTHENTICATED")},
		{Name: "auth me with an unknown token is 401", Method: get, Path: "/api/v1/auth/me", Token: "stw_s_nope", Status: 401, Want: code("UNAUTHENTICATED")},
	}
}

// --- POST /admin/users

func createScenarios() []scenario {
	bigBody := `{"name":"` + strings.Repeat("x", 1<<20) + `"}`
	manyTags := make([]string, 51)
	for i := range manyTags {
		manyTags[i] = "t" + strconv.Itoa(i)
	}
	return []scenario{
		{Name: "create user lower-cases the email and returns the user", Method: post, Path: usersPath, Token: "{root}",
			Setup: func(f *fix) { f.a.EnsureTenant(f.t, "ten_acme") },
			Body: M{"email": "  New.Person@Example.COM ", "username": "New.Person", "name": " New Person ", "password": "long-enough-pw",
				"tenant_id": "ten_acme", "tags": []string{"vip", "beta"}, "metadata": M{"plan": "pro", "seats": 3}, "email_verified": true},
			Status: 201,
			Want: M{"id": prefix("usr_"), "email": "new.person@example.com", "username": "new.person", "name": "New Person",
				"role": "user", "status": "active", "tenant_id": "ten_acme", "tenant_role": "member", "tags": []string{"vip", "beta"},
				"metadata": M{"plan": "pro", "seats": 3}, "email_verified": true, "token_version": 0, "ban": nil,
				"deleted_at": nil, "last_login_at": nil, "suspension_reason": "", "created_at": present(), "updated_at": present()},
			After: func(f *fix, r *apptest.Response) {
				if bytes.Contains(bytes.ToLower(r.Raw), []byte("password")) {
					f.t.Errorf("the created user shows a password field: %s", r.Raw)
				}
				f.e["new"] = str(r, "id")
				g := f.must(200, get, usersPath+"/{new}", "{root}", nil)
				f.checkField(g, "email", "new.person@example.com")
				f.must(200, post, "/api/v1/auth/login", "", M{"email": "NEW.PERSON@example.com", "password": "long-enough-pw"})
				entries := f.audit(f.e["new"], "user.create")
				if len(entries) != 1 {
					f.t.Fatalf("user.create entries: %v", entries)
				}
				b, _ := json.Marshal(entries[0])
				if bytes.Contains(b, []byte("long-enough-pw")) || !bytes.Contains(b, []byte(`"[redacted]"`)) {
					f.t.Errorf("the user.create entry does not redact the password: %s", b)
				}
				if entries[0]["actor_id"] != f.e["root_id"] || entries[0]["request_id"] != r.Header.Get("X-Request-ID") {
					f.t.Errorf("user.create entry actor/request id: %v / %v", entries[0]["actor_id"], entries[0]["request_id"])
				}
			}},
		{Name: "create operator with a role", Method: post, Path: usersPath, Token: "{root}",
			Body: M{"email": "new.support@example.com", "role": "support"}, Status: 201, Want: M{"role": "support", "status": "active"}},
		{Name: "create with an empty tenant_id means no tenant", Method: post, Path: usersPath, Token: "{root}",
			Body: M{"email": "no.tenant@example.com", "tenant_id": ""}, Status: 201, Want: M{"tenant_id": "", "tenant_role": ""}},
		{Name: "create by an admin makes a plain user", Method: post, Path: usersPath, Token: "{adm_tok}",
			Setup: func(f *fix) { f.op("adm", steward.RoleAdmin) },
			Body:  M{"email": "made.by.admin@example.com", "password": "long-enough-pw"}, Status: 201, Want: M{"role": "user"}},
		{Name: "create by an owner may grant owner", Method: post, Path: usersPath, Token: "{own_tok}",
			Setup: func(f *fix) { f.op("own", steward.RoleOwner) },
			Body:  M{"email": "second.owner@example.com", "role": "owner"}, Status: 201, Want: M{"role": "owner"}},

		{Name: "create without email", Method: post, Path: usersPath, Token: "{root}",
			Body: M{"password": "long-enough-pw"}, Status: 422, Want: validation("email")},
		{Name: "create with an invalid email", Method: post, Path: usersPath, Token: "{root}",
			Body: M{"email": "not-an-email"}, Status: 422, Want: validation("email")},
		{Name: "create with an invalid username", Method: post, Path: usersPath, Token: "{root}",
			Body: M{"email": "bad.username@example.com", "username": "no spaces"}, Status: 422, Want: validation("username")},
		{Name: "create with a one-character username", Method: post, Path: usersPath, Token: "{root}",
			Body: M{"email": "short.username@example.com", "username": "a"}, Status: 422, Want: validation("username")},
		{Name: "create with a short password", Method: post, Path: usersPath, Token: "{root}",
			Body: M{"email": "short.pw@example.com", "password": "short"}, Status: 422, Want: validation("password")},
		{Name: "create with an unknown role", Method: post, Path: usersPath, Token: "{root}",
			Body: M{"email": "bad.role@example.com", "role": "god"}, Status: 422, Want: validation("role")},
		{Name: "create with an unknown tenant_role", Method: post, Path: usersPath, Token: "{root}",
			Body: M{"email": "bad.trole@example.com", "tenant_id": "ten_1", "tenant_role": "boss"}, Status: 422, Want: validation("tenant_role")},
		{Name: "create with a tenant_role but no tenant", Method: post, Path: usersPath, Token: "{root}",
			Body: M{"email": "orphan.trole@example.com", "tenant_role": "admin"}, Status: 422, Want: validation("tenant_role")},
		{Name: "create with an invalid tag", Method: post, Path: usersPath, Token: "{root}",
			Body: M{"email": "bad.tag@example.com", "tags": []string{"has space"}}, Status: 422, Want: validation("tags")},
		{Name: "create with too many tags", Method: post, Path: usersPath, Token: "{root}",
			Body: M{"email": "many.tags@example.com", "tags": manyTags}, Status: 422, Want: validation("tags")},
		{Name: "create with metadata over 16 KiB", Method: post, Path: usersPath, Token: "{root}",
			Body: M{"email": "big.meta@example.com", "metadata": M{"blob": strings.Repeat("m", 17<<10)}}, Status: 422, Want: validation("metadata")},
		{Name: "create lists every invalid field at once", Method: post, Path: usersPath, Token: "{root}",
			Body: M{"email": "nope", "username": "!", "password": "short", "role": "god"}, Status: 422,
			Want: validation("email", "username", "password", "role")},
		{Name: "create with an unknown field", Method: post, Path: usersPath, Token: "{root}",
			Body: M{"email": "unknown.field@example.com", "nickname": "x"}, Status: 400,
			Want: M{"code": "BAD_REQUEST", "details.fields.nickname": "unknown field"}},
		{Name: "create with a wrongly typed field", Method: post, Path: usersPath, Token: "{root}",
			Body: `{"email":"typed@example.com","tags":"vip"}`, Status: 400, Want: badRequest("tags")},
		{Name: "create with malformed JSON", Method: post, Path: usersPath, Token: "{root}",
			Body: `{"email": "broken@example.com",`, Status: 400, Want: code("BAD_REQUEST")},
		{Name: "create with a syntax error", Method: post, Path: usersPath, Token: "{root}",
			Body: `{"email" "broken@example.com"}`, Status: 400, Want: code("BAD_REQUEST")},
		{Name: "create with an array body", Method: post, Path: usersPath, Token: "{root}",
			Body: `[{"email":"array@example.com"}]`, Status: 400, Want: code("BAD_REQUEST")},
		{Name: "create with a string body", Method: post, Path: usersPath, Token: "{root}",
			Body: `"hello"`, Status: 400, Want: code("BAD_REQUEST")},
		{Name: "create with a null body", Method: post, Path: usersPath, Token: "{root}",
			Body: `null`, Status: 400, Want: code("BAD_REQUEST")},
		{Name: "create with an empty body", Method: post, Path: usersPath, Token: "{root}",
			Body: ``, Status: 400, Want: code("BAD_REQUEST")},
		{Name: "create with data after the object", Method: post, Path: usersPath, Token: "{root}",
			Body: `{"email":"trailing@example.com"} {"x":1}`, Status: 400, Want: code("BAD_REQUEST"),
			After: func(f *fix, r *apptest.Response) {
				if l := f.must(200, get, usersPath+"?q=trailing@example.com", "{root}", nil); len(items(l)) != 0 {
					f.t.Errorf("a refused body still created the user")
				}
			}},
		{Name: "create with a body over 1 MiB", Method: post, Path: usersPath, Token: "{root}",
			Body: bigBody, Status: 413, Want: code("PAYLOAD_TOO_LARGE")},
		{Name: "patch with a body over 1 MiB", Method: patch, Path: usersPath + "/{root_id}", Token: "{root}",
			Body: bigBody, Status: 413, Want: code("PAYLOAD_TOO_LARGE")},
		{Name: "create with a taken email in another case", Method: post, Path: usersPath, Token: "{root}",
			Setup: func(f *fix) { u := f.user("dup", steward.RoleUser); f.e["dup_upper"] = strings.ToUpper(u.Email) },
			Body:  M{"email": "{dup_upper}"}, Status: 409, Want: fieldErr(409, "ALREADY_EXISTS", "email")},
		{Name: "create with a taken username", Method: post, Path: usersPath, Token: "{root}",
			Setup: func(f *fix) { f.user("dup", steward.RoleUser) },
			Body:  M{"email": "other.person@example.com", "username": "{dup_username}"}, Status: 409, Want: fieldErr(409, "ALREADY_EXISTS", "username")},
		{Name: "create: an owner cannot grant super_admin", Method: post, Path: usersPath, Token: "{own_tok}",
			Setup: func(f *fix) { f.op("own", steward.RoleOwner) },
			Body:  M{"email": "would.be.super@example.com", "role": "super_admin"}, Status: 403, Want: code("CANNOT_ESCALATE")},
		// An admin holds no users:role at all, so granting any role, owner
		// included, is refused for the missing permission.
		{Name: "create: an admin cannot grant owner", Method: post, Path: usersPath, Token: "{adm_tok}",
			Setup: func(f *fix) { f.op("adm", steward.RoleAdmin) },
			Body:  M{"email": "would.be.owner@example.com", "role": "owner"}, Status: 403, Want: code("FORBIDDEN")},
		{Name: "create: an admin cannot grant support", Method: post, Path: usersPath, Token: "{adm_tok}",
			Setup: func(f *fix) { f.op("adm", steward.RoleAdmin) },
			Body:  M{"email": "would.be.support@example.com", "role": "support"}, Status: 403,
			Want: M{"code": "FORBIDDEN", "details.required_permission": "users:role"}},
		{Name: "create: support may not write", Method: post, Path: usersPath, Token: "{sup_tok}",
			Setup: func(f *fix) { f.op("sup", steward.RoleSupport) },
			Body:  M{"email": "by.support@example.com"}, Status: 403,
			Want: M{"code": "FORBIDDEN", "details.required_permission": "users:write"}},
	}
}

// --- GET /admin/users/{id}, /admin/admins

func readScenarios() []scenario {
	return []scenario{
		{Name: "get user", Method: get, Path: usersPath + "/{target}", Token: "{root}",
			Setup: func(f *fix) { f.user("target", steward.RoleUser, withTags("gold")) }, Status: 200,
			Want: M{"id": "{target}", "email": "{target_email}", "username": "{target_username}", "status": "active", "tags": []string{"gold"}}},
		{Name: "get user as support", Method: get, Path: usersPath + "/{target}", Token: "{sup_tok}",
			Setup: func(f *fix) { f.user("target", steward.RoleUser); f.op("sup", steward.RoleSupport) }, Status: 200,
			Want: M{"id": "{target}"}},
		{Name: "get unknown user", Method: get, Path: usersPath + "/{unknown}", Token: "{root}", Status: 404, Want: code("NOT_FOUND")},
		{Name: "admins lists operators only", Fresh: true, Method: get, Path: "/api/v1/admin/admins?limit=200", Token: "{root}",
			Setup: func(f *fix) {
				f.user("plain", steward.RoleUser)
				f.user("sup", steward.RoleSupport)
				f.user("adm", steward.RoleAdmin)
				f.user("own", steward.RoleOwner)
			},
			Status: 200, Want: M{"data": length(4), "has_more": false, "next_cursor": nil},
			After: func(f *fix, r *apptest.Response) {
				got := idsOf(r)
				for _, want := range []string{"root_id", "sup", "adm", "own"} {
					if !slices.Contains(got, f.e[want]) {
						f.t.Errorf("admins lack %s", want)
					}
				}
				for _, u := range items(r) {
					if u["role"] == "user" {
						f.t.Errorf("admins include plain user %v", u["id"])
					}
				}
			}},
		{Name: "admins with a bad limit", Method: get, Path: "/api/v1/admin/admins?limit=0", Token: "{root}", Status: 400, Want: badRequest("limit")},
	}
}

// --- GET /admin/users: filters and keyset pagination

func listScenarios() []scenario {
	one := func(id string) map[string]any { return M{"data": length(1), "data.0.id": id} }
	return []scenario{
		{Name: "list: page shape", Method: get, Path: usersPath + "?limit=1", Token: "{root}",
			Setup: func(f *fix) { f.user("a", steward.RoleUser); f.user("b", steward.RoleUser) }, Status: 200,
			Want: M{"data": length(1), "has_more": true, "next_cursor": present(), "total": absent()}},
		{Name: "list: q matches an email substring", Method: get, Path: usersPath + "?q=zanzib", Token: "{root}",
			Setup: func(f *fix) {
				f.user("target", steward.RoleUser, func(in *steward.UserCreate) { in.Email = "ana.zanzibar@example.com" })
			}, Status: 200, Want: one("{target}")},
		{Name: "list: q matches a username", Method: get, Path: usersPath + "?q=quokka-77", Token: "{root}",
			Setup: func(f *fix) {
				f.user("target", steward.RoleUser, func(in *steward.UserCreate) { in.Username = "quokka-77" })
			}, Status: 200, Want: one("{target}")},
		{Name: "list: q matches a name", Method: get, Path: usersPath + "?q=Wrenfield", Token: "{root}",
			Setup: func(f *fix) {
				f.user("target", steward.RoleUser, func(in *steward.UserCreate) { in.Name = "Ophelia Wrenfield" })
			}, Status: 200, Want: one("{target}")},
		{Name: "list: q ignores case", Method: get, Path: usersPath + "?q=PLUMTREE", Token: "{root}",
			Setup: func(f *fix) {
				f.user("target", steward.RoleUser, func(in *steward.UserCreate) { in.Name = "Ignatius Plumtree" })
			}, Status: 200, Want: one("{target}")},
		{Name: "list: two-character q", Method: get, Path: usersPath + "?q=qz", Token: "{root}",
			Setup: func(f *fix) {
				f.user("target", steward.RoleUser, func(in *steward.UserCreate) { in.Username = "qz" })
			}, Status: 200, Want: one("{target}")},
		{Name: "list: q matches an exact id", Method: get, Path: usersPath + "?q={target}", Token: "{root}",
			Setup: func(f *fix) { f.user("target", steward.RoleUser) }, Status: 200, Want: one("{target}")},
		{Name: "list: q over 200 characters", Method: get, Path: usersPath + "?q=" + strings.Repeat("q", 201), Token: "{root}",
			Status: 422, Want: validation("q")},
		{Name: "list: status filter", Method: get, Path: usersPath + "?tag=filter-status&status=suspended", Token: "{root}",
			Setup: func(f *fix) {
				f.user("active", steward.RoleUser, withTags("filter-status"))
				u := f.user("target", steward.RoleUser, withTags("filter-status"))
				_, err := f.a.Svc.Users.SuspendUser(apptest.System(), u.ID, "setup")
				f.ok(err)
			}, Status: 200, Want: M{"data": length(1), "data.0.id": "{target}", "data.0.status": "suspended"}},
		{Name: "list: role filter", Method: get, Path: usersPath + "?tag=filter-role&role=support", Token: "{root}",
			Setup: func(f *fix) {
				f.user("plain", steward.RoleUser, withTags("filter-role"))
				f.user("target", steward.RoleSupport, withTags("filter-role"))
			}, Status: 200, Want: M{"data": length(1), "data.0.id": "{target}", "data.0.role": "support"}},
		{Name: "list: tenant filter", Method: get, Path: usersPath + "?tenant_id=ten_filter1", Token: "{root}",
			Setup: func(f *fix) {
				f.user("a", steward.RoleUser, withTenant("ten_filter1"))
				f.user("b", steward.RoleUser, withTenant("ten_filter1"))
				f.user("other", steward.RoleUser, withTenant("ten_filter2"))
			}, Status: 200, Want: M{"data": length(2), "data.0.tenant_id": "ten_filter1", "data.1.tenant_id": "ten_filter1"},
			After: func(f *fix, r *apptest.Response) {
				if ids := idsOf(r); !slices.Contains(ids, f.e["a"]) || !slices.Contains(ids, f.e["b"]) {
					f.t.Errorf("tenant filter returned %v", ids)
				}
			}},
		{Name: "list: tag filter", Method: get, Path: usersPath + "?tag=only-tagged", Token: "{root}",
			Setup: func(f *fix) {
				f.user("target", steward.RoleUser, withTags("x", "only-tagged"))
				f.user("other", steward.RoleUser, withTags("only-tagged-not"))
			}, Status: 200, Want: one("{target}")},
		{Name: "list: filters combine with q", Method: get, Path: usersPath + "?q=combo-filter&tag=combo&role=user", Token: "{root}",
			Setup: func(f *fix) {
				f.user("target", steward.RoleUser, withTags("combo"), func(in *steward.UserCreate) { in.Name = "combo-filter one" })
				f.user("other", steward.RoleUser, func(in *steward.UserCreate) { in.Name = "combo-filter two" })
			}, Status: 200, Want: one("{target}")},
		{Name: "list: unknown status", Method: get, Path: usersPath + "?status=sleeping", Token: "{root}", Status: 422, Want: validation("status")},
		{Name: "list: unknown role", Method: get, Path: usersPath + "?role=god", Token: "{root}", Status: 422, Want: validation("role")},
		{Name: "list: limit 0", Method: get, Path: usersPath + "?limit=0", Token: "{root}", Status: 400, Want: badRequest("limit")},
		{Name: "list: limit 201", Method: get, Path: usersPath + "?limit=201", Token: "{root}", Status: 400, Want: badRequest("limit")},
		{Name: "list: limit not a number", Method: get, Path: usersPath + "?limit=ten", Token: "{root}", Status: 400, Want: badRequest("limit")},
		{Name: "list: limit 200 is accepted", Method: get, Path: usersPath + "?limit=200", Token: "{root}", Status: 200, Want: M{"data": present()}},
		{Name: "list: malformed cursor", Method: get, Path: usersPath + "?cursor=%21%21%21", Token: "{root}", Status: 400, Want: badRequest("cursor")},
		{Name: "list: pages walk every user once, newest first", Fresh: true, Method: get, Path: usersPath + "?limit=2&include_total=true", Token: "{root}",
			Setup: func(f *fix) {
				for i := 1; i <= 7; i++ {
					f.a.Clock.Advance(time.Second)
					f.user("u"+strconv.Itoa(i), steward.RoleUser)
				}
			},
			Status: 200, Want: M{"data": length(2), "has_more": true, "next_cursor": present(), "total": 8, "data.0.id": "{u7}", "data.1.id": "{u6}"},
			After: func(f *fix, r *apptest.Response) {
				want := []string{f.e["u7"], f.e["u6"], f.e["u5"], f.e["u4"], f.e["u3"], f.e["u2"], f.e["u1"], f.e["root_id"]}
				var got []string
				cursor, pages := "", 0
				for {
					p := usersPath + "?limit=2"
					if cursor != "" {
						p += "&cursor=" + cursor
					}
					pg := f.must(200, get, p, "{root}", nil)
					pages++
					if _, ok := pg.Body["total"]; ok {
						f.t.Errorf("total without include_total: %s", pg.Raw)
					}
					got = append(got, idsOf(pg)...)
					var prev time.Time
					for i, u := range items(pg) {
						ts, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(u["created_at"]))
						if i > 0 && ts.After(prev) {
							f.t.Errorf("page %d is not newest first", pages)
						}
						prev = ts
					}
					if pg.Get("has_more") != true {
						if pg.Get("next_cursor") != nil {
							f.t.Errorf("last page has next_cursor %v", pg.Get("next_cursor"))
						}
						break
					}
					cursor = str(pg, "next_cursor")
					if pages > 10 {
						f.t.Fatal("pagination does not end")
					}
				}
				if !slices.Equal(got, want) {
					f.t.Errorf("walked %v\nwant     %v", got, want)
				}
				if pages != 4 {
					f.t.Errorf("%d pages, want 4", pages)
				}
				tot := f.must(200, get, usersPath+"?include_total=true&status=active&limit=1", "{root}", nil)
				f.checkField(tot, "total", 8)
			}},
	}
}

// --- PUT/PATCH /admin/users/{id}: JSON Merge Patch

func patchScenarios() []scenario {
	rich := func(f *fix) {
		f.user("target", steward.RoleUser, withTags("a", "b"), withTenant("ten_patch"), func(in *steward.UserCreate) {
			in.Metadata = M{"nested": M{"x": 1, "y": 2}, "gone": true, "keep": "yes"}
		})
	}
	return []scenario{
		{Name: "patch: absent keys keep their value", Method: patch, Path: usersPath + "/{target}", Token: "{root}", Setup: rich,
			Body: M{"name": "Renamed"}, Status: 200,
			Want: M{"name": "Renamed", "username": "{target_username}", "email": "{target_email}", "tags": []string{"a", "b"},
				"tenant_id": "ten_patch", "tenant_role": "member", "metadata": M{"nested": M{"x": 1, "y": 2}, "gone": true, "keep": "yes"}}},
		{Name: "patch: null clears username, name and tags", Method: patch, Path: usersPath + "/{target}", Token: "{root}", Setup: rich,
			Body: `{"username": null, "name": null, "tags": null}`, Status: 200,
			Want: M{"username": "", "name": "", "tags": []string{}, "email": "{target_email}", "tenant_id": "ten_patch"},
			After: func(f *fix, r *apptest.Response) {
				g := f.must(200, get, usersPath+"/{target}", "{root}", nil)
				f.checkField(g, "username", "")
				f.checkField(g, "tags", []string{})
			}},
		{Name: "patch: metadata merges deeply and null deletes a key", Method: patch, Path: usersPath + "/{target}", Token: "{root}", Setup: rich,
			Body: `{"metadata": {"nested": {"y": null, "z": 3}, "gone": null, "new": "v"}}`, Status: 200,
			Want: M{"metadata": M{"nested": M{"x": 1, "z": 3}, "keep": "yes", "new": "v"}},
			After: func(f *fix, r *apptest.Response) {
				g := f.must(200, get, usersPath+"/{target}", "{root}", nil)
				f.checkField(g, "metadata", M{"nested": M{"x": 1, "z": 3}, "keep": "yes", "new": "v"})
			}},
		{Name: "patch: metadata null clears it", Method: patch, Path: usersPath + "/{target}", Token: "{root}", Setup: rich,
			Body: `{"metadata": null}`, Status: 200, Want: M{"metadata": M{}}},
		{Name: "patch: empty tenant_id clears the tenant", Method: patch, Path: usersPath + "/{target}", Token: "{root}", Setup: rich,
			Body: M{"tenant_id": ""}, Status: 200, Want: M{"tenant_id": "", "tenant_role": ""}},
		{Name: "patch: email is lower-cased", Method: patch, Path: usersPath + "/{target}", Token: "{root}", Setup: rich,
			Body: M{"email": "Patched.Email@EXAMPLE.com"}, Status: 200, Want: M{"email": "patched.email@example.com"}},
		{Name: "put is a merge patch too", Method: put, Path: usersPath + "/{target}", Token: "{root}", Setup: rich,
			Body: `{"name": "Put Name", "tags": null}`, Status: 200,
			Want: M{"name": "Put Name", "tags": []string{}, "username": "{target_username}", "metadata.keep": "yes", "tenant_id": "ten_patch"}},
		{Name: "patch writes one audit entry with the changed fields", Method: patch, Path: usersPath + "/{target}", Token: "{root}", Setup: rich,
			Body: M{"name": "Audited"}, Status: 200,
			After: func(f *fix, r *apptest.Response) {
				e := f.audit(f.e["target"], "user.update")
				if len(e) != 1 {
					f.t.Fatalf("user.update entries: %v", e)
				}
				ch, _ := e[0]["changes"].(map[string]any)
				name, _ := ch["name"].(map[string]any)
				if name["after"] != "Audited" || len(ch) != 1 {
					f.t.Errorf("changes = %v, want only name", ch)
				}
			}},
		{Name: "patch: email cannot be cleared", Method: patch, Path: usersPath + "/{target}", Token: "{root}", Setup: rich,
			Body: `{"email": null}`, Status: 422, Want: validation("email")},
		{Name: "patch: invalid username", Method: patch, Path: usersPath + "/{target}", Token: "{root}", Setup: rich,
			Body: M{"username": "Not Valid"}, Status: 422, Want: validation("username")},
		{Name: "patch: invalid tags", Method: patch, Path: usersPath + "/{target}", Token: "{root}", Setup: rich,
			Body: M{"tags": []string{""}}, Status: 422, Want: validation("tags")},
		{Name: "patch: metadata must be an object", Method: patch, Path: usersPath + "/{target}", Token: "{root}", Setup: rich,
			Body: `{"metadata": [1, 2]}`, Status: 422, Want: validation("metadata")},
		{Name: "patch: invalid tenant_role", Method: patch, Path: usersPath + "/{target}", Token: "{root}", Setup: rich,
			Body: M{"tenant_role": "boss"}, Status: 422, Want: validation("tenant_role")},
		{Name: "patch: invalid role", Method: patch, Path: usersPath + "/{target}", Token: "{root}", Setup: rich,
			Body: M{"role": "god"}, Status: 422, Want: validation("role")},
		{Name: "patch: taken email", Method: patch, Path: usersPath + "/{target}", Token: "{root}",
			Setup: func(f *fix) { rich(f); f.user("other", steward.RoleUser) },
			Body:  M{"email": "{other_email}"}, Status: 409, Want: fieldErr(409, "ALREADY_EXISTS", "email")},
		{Name: "patch: unknown field", Method: patch, Path: usersPath + "/{target}", Token: "{root}", Setup: rich,
			Body: M{"status": "banned"}, Status: 400, Want: M{"code": "BAD_REQUEST", "details.fields.status": "unknown field"}},
		{Name: "patch: not an object", Method: patch, Path: usersPath + "/{target}", Token: "{root}", Setup: rich,
			Body: `["name"]`, Status: 400, Want: code("BAD_REQUEST")},
		{Name: "patch: unknown user", Method: patch, Path: usersPath + "/{unknown}", Token: "{root}",
			Body: M{"name": "x"}, Status: 404, Want: code("NOT_FOUND")},
		{Name: "put: unknown user", Method: put, Path: usersPath + "/{unknown}", Token: "{root}",
			Body: M{"name": "x"}, Status: 404, Want: code("NOT_FOUND")},
		{Name: "patch: a deleted user", Method: patch, Path: usersPath + "/{target}", Token: "{root}",
			Setup: func(f *fix) {
				rich(f)
				_, err := f.a.Svc.Users.DeleteUser(apptest.System(), f.e["target"], "")
				f.ok(err)
			}, Body: M{"name": "x"}, Status: 409, Want: code("INVALID_STATE")},
		{Name: "patch: an admin cannot re-role an owner", Method: patch, Path: usersPath + "/{own}", Token: "{adm_tok}",
			Setup: func(f *fix) { f.op("adm", steward.RoleAdmin); f.user("own", steward.RoleOwner) },
			Body:  M{"role": "user"}, Status: 403, Want: code("INSUFFICIENT_ROLE")},
		{Name: "patch: an admin cannot grant a role", Method: patch, Path: usersPath + "/{target}", Token: "{adm_tok}",
			Setup: func(f *fix) { f.op("adm", steward.RoleAdmin); f.user("target", steward.RoleUser) },
			Body:  M{"role": "support"}, Status: 403, Want: code("FORBIDDEN")},
		{Name: "patch: an owner cannot grant super_admin", Method: patch, Path: usersPath + "/{target}", Token: "{own_tok}",
			Setup: func(f *fix) { f.op("own", steward.RoleOwner); f.user("target", steward.RoleUser) },
			Body:  M{"role": "super_admin"}, Status: 403, Want: code("CANNOT_ESCALATE")},
		{Name: "patch: support may not write", Method: patch, Path: usersPath + "/{target}", Token: "{sup_tok}",
			Setup: func(f *fix) { f.op("sup", steward.RoleSupport); f.user("target", steward.RoleUser) },
			Body:  M{"name": "x"}, Status: 403, Want: code("FORBIDDEN")},
	}
}

// --- DELETE /admin/users/{id}, restore, purge

func deleteScenarios() []scenario {
	loggedIn := func(f *fix) { f.user("target", steward.RoleUser); f.loginHTTP("target") }
	return []scenario{
		{Name: "delete soft-deletes, revokes sessions and restore brings the user back", Method: del, Path: usersPath + "/{target}", Token: "{root}",
			Setup: loggedIn, Body: M{"reason": "asked to leave"}, Status: 200,
			Want: M{"id": "{target}", "status": "deleted", "deleted_at": present(), "token_version": 1},
			After: func(f *fix, r *apptest.Response) {
				f.expectErr(f.do(get, "/api/v1/auth/me", "{target_tok}", nil), 401, "UNAUTHENTICATED")
				f.expectErr(f.do(get, "/api/v1/auth/me", "{target_jwt}", nil), 401, "UNAUTHENTICATED")
				s := f.must(200, get, usersPath+"/{target}/sessions", "{root}", nil)
				if len(items(s)) != 1 {
					f.t.Errorf("sessions: %s", s.Raw)
				}
				for _, x := range items(s) {
					if x["revoked_at"] == nil {
						f.t.Errorf("session %v survived the delete", x["id"])
					}
				}
				g := f.must(200, get, usersPath+"/{target}", "{root}", nil)
				f.checkField(g, "status", "deleted")
				if e := f.audit(f.e["target"], "user.delete"); len(e) != 1 || e[0]["reason"] != "asked to leave" {
					f.t.Errorf("user.delete entries: %v", e)
				}
				f.expectErr(f.do(post, "/api/v1/auth/login", "", M{"email": "{target_email}", "password": apptest.Password}), 401, "INVALID_CREDENTIALS")
				rs := f.must(200, post, usersPath+"/{target}/restore", "{root}", nil)
				f.checkField(rs, "status", "active")
				f.checkField(rs, "deleted_at", nil)
				f.must(200, post, "/api/v1/auth/login", "", M{"email": "{target_email}", "password": apptest.Password})
				if e := f.audit(f.e["target"], "user.restore"); len(e) != 1 {
					f.t.Errorf("user.restore entries: %v", e)
				}
			}},
		{Name: "delete takes the reason from the query too", Method: del, Path: usersPath + "/{target}?reason=by-query", Token: "{root}",
			Setup: func(f *fix) { f.user("target", steward.RoleUser) }, Status: 200, Want: M{"status": "deleted"},
			After: func(f *fix, r *apptest.Response) {
				if e := f.audit(f.e["target"], "user.delete"); len(e) != 1 || e[0]["reason"] != "by-query" {
					f.t.Errorf("user.delete entries: %v", e)
				}
			}},
		{Name: "restore returns a suspended user to suspended", Method: del, Path: usersPath + "/{target}", Token: "{root}",
			Setup: func(f *fix) {
				f.user("target", steward.RoleUser)
				f.must(200, post, usersPath+"/{target}/suspend", "{root}", M{"reason": "first"})
			}, Status: 200, Want: M{"status": "deleted"},
			After: func(f *fix, r *apptest.Response) {
				rs := f.must(200, post, usersPath+"/{target}/restore", "{root}", nil)
				f.checkField(rs, "status", "suspended")
			}},
		{Name: "restore returns a banned user to banned", Method: del, Path: usersPath + "/{target}", Token: "{root}",
			Setup: func(f *fix) {
				f.user("target", steward.RoleUser)
				f.must(200, post, usersPath+"/{target}/ban", "{root}", M{"reason": "abuse"})
			}, Status: 200, Want: M{"status": "deleted"},
			After: func(f *fix, r *apptest.Response) {
				rs := f.must(200, post, usersPath+"/{target}/restore", "{root}", nil)
				f.checkField(rs, "status", "banned")
				f.checkField(rs, "ban.reason", "abuse")
			}},
		{Name: "delete twice", Method: del, Path: usersPath + "/{target}", Token: "{root}",
			Setup: func(f *fix) {
				f.user("target", steward.RoleUser)
				f.must(200, del, usersPath+"/{target}", "{root}", nil)
			},
			Status: 409, Want: M{"code": "INVALID_STATE", "details.status": "deleted"}},
		{Name: "restore a user who is not deleted", Method: post, Path: usersPath + "/{target}/restore", Token: "{root}",
			Setup: func(f *fix) { f.user("target", steward.RoleUser) }, Status: 409, Want: code("INVALID_STATE")},
		{Name: "restore an unknown user", Method: post, Path: usersPath + "/{unknown}/restore", Token: "{root}", Status: 404, Want: code("NOT_FOUND")},
		{Name: "delete an unknown user", Method: del, Path: usersPath + "/{unknown}", Token: "{root}", Status: 404, Want: code("NOT_FOUND")},
		{Name: "delete yourself", Method: del, Path: usersPath + "/{root_id}", Token: "{root}", Status: 422, Want: code("CANNOT_TARGET_SELF")},
		{Name: "delete needs users:delete", Method: del, Path: usersPath + "/{target}", Token: "{adm_tok}",
			Setup:  func(f *fix) { f.op("adm", steward.RoleAdmin); f.user("target", steward.RoleUser) },
			Status: 403, Want: M{"code": "FORBIDDEN", "details.required_permission": "users:delete"}},
		{Name: "delete: an owner cannot delete another owner", Method: del, Path: usersPath + "/{other}", Token: "{own_tok}",
			Setup:  func(f *fix) { f.op("own", steward.RoleOwner); f.user("other", steward.RoleOwner) },
			Status: 403, Want: code("INSUFFICIENT_ROLE")},
		{Name: "delete with an unknown body field", Method: del, Path: usersPath + "/{target}", Token: "{root}",
			Setup: func(f *fix) { f.user("target", steward.RoleUser) },
			Body:  M{"why": "x"}, Status: 400, Want: M{"code": "BAD_REQUEST", "details.fields.why": "unknown field"}},
		{Name: "purge without confirm", Method: del, Path: usersPath + "/{target}?purge=true", Token: "{root}",
			Setup: func(f *fix) { f.user("target", steward.RoleUser) }, Status: 400,
			Want: M{"code": "CONFIRMATION_REQUIRED", "details.fields.confirm": present()},
			After: func(f *fix, r *apptest.Response) {
				g := f.must(200, get, usersPath+"/{target}", "{root}", nil)
				f.checkField(g, "status", "active")
			}},
		{Name: "purge with confirm erases the user", Method: del, Path: usersPath + "/{target}?purge=true&confirm=true", Token: "{root}",
			Setup: func(f *fix) { f.user("target", steward.RoleUser); f.loginHTTP("target") }, Status: 200,
			Want: M{"id": "{target}", "purged": true},
			After: func(f *fix, r *apptest.Response) {
				f.expectErr(f.do(get, usersPath+"/{target}", "{root}", nil), 404, "NOT_FOUND")
				f.expectErr(f.do(get, "/api/v1/auth/me", "{target_tok}", nil), 401, "UNAUTHENTICATED")
				if e := f.audit(f.e["target"], "user.purge"); len(e) != 1 {
					f.t.Errorf("user.purge entries: %v", e)
				}
				f.expectErr(f.do(post, "/api/v1/auth/login", "", M{"email": "{target_email}", "password": apptest.Password}), 401, "INVALID_CREDENTIALS")
			}},
		{Name: "purge yourself", Method: del, Path: usersPath + "/{root_id}?purge=true&confirm=true", Token: "{root}",
			Status: 422, Want: code("CANNOT_TARGET_SELF")},
		{Name: "purge needs users:delete", Method: del, Path: usersPath + "/{target}?purge=true&confirm=true", Token: "{adm_tok}",
			Setup: func(f *fix) { f.op("adm", steward.RoleAdmin); f.user("target", steward.RoleUser) }, Status: 403, Want: code("FORBIDDEN")},
	}
}

// --- suspend / unsuspend

func suspendScenarios() []scenario {
	return []scenario{
		{Name: "suspend ends the session token and the access token at once", Method: post, Path: usersPath + "/{target}/suspend", Token: "{root}",
			Setup: func(f *fix) {
				f.user("target", steward.RoleUser)
				f.loginHTTP("target")
				f.must(200, get, "/api/v1/auth/me", "{target_tok}", nil)
				f.must(200, get, "/api/v1/auth/me", "{target_jwt}", nil)
			},
			Body: M{"reason": "chargeback"}, Status: 200,
			Want: M{"status": "suspended", "suspension_reason": "chargeback", "token_version": 1},
			After: func(f *fix, r *apptest.Response) {
				f.expectErr(f.do(get, "/api/v1/auth/me", "{target_tok}", nil), 401, "UNAUTHENTICATED")
				f.expectErr(f.do(get, "/api/v1/auth/me", "{target_jwt}", nil), 401, "UNAUTHENTICATED")
				f.expectErr(f.do(post, "/api/v1/auth/refresh", "", M{"session_token": "{target_tok}"}), 401, "UNAUTHENTICATED")
				e := f.audit(f.e["target"], "user.suspend")
				if len(e) != 1 || e[0]["reason"] != "chargeback" {
					f.t.Fatalf("user.suspend entries: %v", e)
				}
				if md, _ := e[0]["metadata"].(map[string]any); md["sessions_revoked"] != 1.0 {
					f.t.Errorf("metadata = %v", e[0]["metadata"])
				}
				un := f.must(200, post, usersPath+"/{target}/unsuspend", "{root}", nil)
				f.checkField(un, "status", "active")
				f.checkField(un, "suspension_reason", "")
				f.expectErr(f.do(get, "/api/v1/auth/me", "{target_tok}", nil), 401, "UNAUTHENTICATED")
				f.loginHTTP("target")
				f.must(200, get, "/api/v1/auth/me", "{target_jwt}", nil)
			}},
		{Name: "suspend without a body", Method: post, Path: usersPath + "/{target}/suspend", Token: "{root}",
			Setup: func(f *fix) { f.user("target", steward.RoleUser) }, Status: 200, Want: M{"status": "suspended", "suspension_reason": ""}},
		{Name: "suspend twice", Method: post, Path: usersPath + "/{target}/suspend", Token: "{root}",
			Setup: func(f *fix) {
				f.user("target", steward.RoleUser)
				f.must(200, post, usersPath+"/{target}/suspend", "{root}", nil)
			},
			Status: 409, Want: M{"code": "INVALID_STATE", "details.status": "suspended"}},
		{Name: "unsuspend an active user", Method: post, Path: usersPath + "/{target}/unsuspend", Token: "{root}",
			Setup: func(f *fix) { f.user("target", steward.RoleUser) }, Status: 409, Want: code("INVALID_STATE")},
		{Name: "suspend yourself", Method: post, Path: usersPath + "/{root_id}/suspend", Token: "{root}", Status: 422, Want: code("CANNOT_TARGET_SELF")},
		{Name: "suspend: reason over 1000 characters", Method: post, Path: usersPath + "/{target}/suspend", Token: "{root}",
			Setup: func(f *fix) { f.user("target", steward.RoleUser) },
			Body:  M{"reason": strings.Repeat("r", 1001)}, Status: 422, Want: validation("reason")},
		{Name: "suspend an unknown user", Method: post, Path: usersPath + "/{unknown}/suspend", Token: "{root}", Status: 404, Want: code("NOT_FOUND")},
		{Name: "unsuspend an unknown user", Method: post, Path: usersPath + "/{unknown}/unsuspend", Token: "{root}", Status: 404, Want: code("NOT_FOUND")},
		{Name: "suspend with an unknown body field", Method: post, Path: usersPath + "/{target}/suspend", Token: "{root}",
			Setup: func(f *fix) { f.user("target", steward.RoleUser) }, Body: M{"until": "never"}, Status: 400,
			Want: M{"code": "BAD_REQUEST", "details.fields.until": "unknown field"}},
		{Name: "suspend: an admin cannot suspend an owner", Method: post, Path: usersPath + "/{own}/suspend", Token: "{adm_tok}",
			Setup: func(f *fix) { f.op("adm", steward.RoleAdmin); f.user("own", steward.RoleOwner) }, Status: 403,
			Want: M{"code": "INSUFFICIENT_ROLE", "details.target_role": "owner"}},
		{Name: "suspend: an admin cannot suspend another admin", Method: post, Path: usersPath + "/{other}/suspend", Token: "{adm_tok}",
			Setup: func(f *fix) { f.op("adm", steward.RoleAdmin); f.user("other", steward.RoleAdmin) }, Status: 403, Want: code("INSUFFICIENT_ROLE")},
		{Name: "suspend: an admin suspends support", Method: post, Path: usersPath + "/{sup}/suspend", Token: "{adm_tok}",
			Setup: func(f *fix) { f.op("adm", steward.RoleAdmin); f.user("sup", steward.RoleSupport) }, Status: 200, Want: M{"status": "suspended"}},
		{Name: "suspend: a super_admin may act on an owner", Method: post, Path: usersPath + "/{own}/suspend", Token: "{root}",
			Setup: func(f *fix) { f.user("own", steward.RoleOwner) }, Status: 200, Want: M{"status": "suspended"}},
		{Name: "suspend: support may not", Method: post, Path: usersPath + "/{target}/suspend", Token: "{sup_tok}",
			Setup: func(f *fix) { f.op("sup", steward.RoleSupport); f.user("target", steward.RoleUser) }, Status: 403, Want: code("FORBIDDEN")},
		{Name: "unsuspend: an admin cannot unsuspend an owner", Method: post, Path: usersPath + "/{own}/unsuspend", Token: "{adm_tok}",
			Setup: func(f *fix) {
				f.op("adm", steward.RoleAdmin)
				f.user("own", steward.RoleOwner)
				f.must(200, post, usersPath+"/{own}/suspend", "{root}", nil)
			}, Status: 403, Want: code("INSUFFICIENT_ROLE")},
		{Name: "a suspended operator's token stops working on the admin surface", Method: get, Path: usersPath, Token: "{adm_tok}",
			Setup: func(f *fix) {
				f.op("adm", steward.RoleAdmin)
				f.must(200, get, usersPath+"?limit=1", "{adm_tok}", nil)
				f.must(200, post, usersPath+"/{adm}/suspend", "{root}", nil)
			}, Status: 401, Want: code("UNAUTHENTICATED")},
	}
}

// --- ban / unban, ban expiry

func banScenarios() []scenario {
	return []scenario{
		{Name: "ban records the ban and ends access", Method: post, Path: usersPath + "/{target}/ban", Token: "{root}",
			Setup: func(f *fix) { f.user("target", steward.RoleUser); f.loginHTTP("target") },
			Body:  M{"reason": "fraud"}, Status: 200,
			Want: M{"status": "banned", "ban.reason": "fraud", "ban.banned_by": "{root_id}", "ban.expires_at": nil, "ban.banned_at": present(), "token_version": 1},
			After: func(f *fix, r *apptest.Response) {
				f.expectErr(f.do(get, "/api/v1/auth/me", "{target_tok}", nil), 401, "UNAUTHENTICATED")
				f.expectErr(f.do(get, "/api/v1/auth/me", "{target_jwt}", nil), 401, "UNAUTHENTICATED")
				f.expectErr(f.do(post, "/api/v1/auth/login", "", M{"email": "{target_email}", "password": apptest.Password}), 401, "INVALID_CREDENTIALS")
				if e := f.audit(f.e["target"], "user.ban"); len(e) != 1 || e[0]["reason"] != "fraud" {
					f.t.Errorf("user.ban entries: %v", e)
				}
				un := f.must(200, post, usersPath+"/{target}/unban", "{root}", nil)
				f.checkField(un, "status", "active")
				f.checkField(un, "ban", nil)
				f.must(200, post, "/api/v1/auth/login", "", M{"email": "{target_email}", "password": apptest.Password})
				if e := f.audit(f.e["target"], "user.unban"); len(e) != 1 {
					f.t.Errorf("user.unban entries: %v", e)
				}
			}},
		{Name: "ban without a reason", Method: post, Path: usersPath + "/{target}/ban", Token: "{root}",
			Setup: func(f *fix) { f.user("target", steward.RoleUser) }, Body: M{}, Status: 422, Want: validation("reason")},
		{Name: "ban with a blank reason", Method: post, Path: usersPath + "/{target}/ban", Token: "{root}",
			Setup: func(f *fix) { f.user("target", steward.RoleUser) }, Body: M{"reason": "   "}, Status: 422, Want: validation("reason")},
		{Name: "ban without a body", Method: post, Path: usersPath + "/{target}/ban", Token: "{root}",
			Setup: func(f *fix) { f.user("target", steward.RoleUser) }, Status: 400, Want: code("BAD_REQUEST")},
		{Name: "ban twice", Method: post, Path: usersPath + "/{target}/ban", Token: "{root}",
			Setup: func(f *fix) {
				f.user("target", steward.RoleUser)
				f.must(200, post, usersPath+"/{target}/ban", "{root}", M{"reason": "one"})
			},
			Body: M{"reason": "two"}, Status: 409, Want: M{"code": "ALREADY_BANNED", "details.ban.reason": "one"}},
		{Name: "ban with an expiry in the past", Method: post, Path: usersPath + "/{target}/ban", Token: "{root}",
			Setup: func(f *fix) { f.user("target", steward.RoleUser) },
			Body:  M{"reason": "x", "expires_at": "2020-01-01T00:00:00Z"}, Status: 422, Want: validation("expires_at")},
		{Name: "ban with an expiry equal to now", Method: post, Path: usersPath + "/{target}/ban", Token: "{root}",
			Setup: func(f *fix) { f.user("target", steward.RoleUser) },
			Body:  M{"reason": "x", "expires_at": apptest.Start.Format(time.RFC3339)}, Status: 422, Want: validation("expires_at")},
		// A timestamp that is not RFC 3339 must name the field it was found in.
		{Name: "ban with a malformed expiry names expires_at", Method: post, Path: usersPath + "/{target}/ban", Token: "{root}",
			Setup: func(f *fix) { f.user("target", steward.RoleUser) },
			Body:  M{"reason": "x", "expires_at": "tomorrow"}, Status: 400, Want: badRequest("expires_at")},
		{Name: "ban with a future expiry", Method: post, Path: usersPath + "/{target}/ban", Token: "{root}",
			Setup: func(f *fix) { f.user("target", steward.RoleUser) },
			Body:  M{"reason": "cool off", "expires_at": "2026-03-02T12:00:00+01:00"}, Status: 200,
			Want: M{"status": "banned", "ban.expires_at": "2026-03-02T11:00:00Z"}},
		{Name: "a ban lapses at its expiry and the sweeper records it", Fresh: true, Method: post, Path: usersPath + "/{target}/ban", Token: "{root}",
			Setup: func(f *fix) { f.user("target", steward.RoleUser) },
			Body:  M{"reason": "cool off", "expires_at": "2026-03-01T13:00:00Z"}, Status: 200,
			Want: M{"status": "banned", "ban.expires_at": "2026-03-01T13:00:00Z"},
			After: func(f *fix, r *apptest.Response) {
				f.expectErr(f.do(post, "/api/v1/auth/login", "", M{"email": "{target_email}", "password": apptest.Password}), 401, "INVALID_CREDENTIALS")
				f.a.Clock.Advance(time.Hour)
				g := f.must(200, get, usersPath+"/{target}", "{root}", nil)
				f.checkField(g, "status", "active")
				f.checkField(g, "ban", nil)
				f.loginHTTP("target")
				f.must(200, get, "/api/v1/auth/me", "{target_jwt}", nil)
				n, err := f.a.Svc.Users.SweepExpiredBans(context.Background())
				f.ok(err)
				if n != 1 {
					f.t.Errorf("sweep lifted %d bans, want 1", n)
				}
				e := f.audit(f.e["target"], "user.ban_expired")
				if len(e) != 1 || e[0]["actor_type"] != "system" {
					f.t.Errorf("user.ban_expired entries: %v", e)
				}
				if n, _ := f.a.Svc.Users.SweepExpiredBans(context.Background()); n != 0 {
					f.t.Errorf("second sweep lifted %d", n)
				}
				g = f.must(200, get, usersPath+"/{target}", "{root}", nil)
				f.checkField(g, "status", "active")
				f.must(200, post, usersPath+"/{target}/ban", "{root}", M{"reason": "again"})
				v := f.must(200, get, "/api/v1/admin/audit-log/verify", "{root}", nil)
				f.checkField(v, "ok", true)
			}},
		// Between the expiry and the sweep, a status filter must agree with the
		// status the list shows.
		{Name: "list status filter agrees with a lapsed ban", Fresh: true, Method: get, Path: usersPath + "?status=banned", Token: "{root}",
			Setup: func(f *fix) {
				f.user("target", steward.RoleUser)
				f.must(200, post, usersPath+"/{target}/ban", "{root}", M{"reason": "x", "expires_at": "2026-03-01T13:00:00Z"})
				f.a.Clock.Advance(2 * time.Hour)
			}, Status: 200,
			After: func(f *fix, r *apptest.Response) {
				for _, u := range items(r) {
					if u["status"] != "banned" {
						f.t.Errorf("status=banned lists %v with status %v", u["id"], u["status"])
					}
				}
				act := f.must(200, get, usersPath+"?status=active&q={target}", "{root}", nil)
				if !slices.Contains(idsOf(act), f.e["target"]) {
					f.t.Errorf("status=active does not list the user whose ban lapsed (shown as active): %s", act.Raw)
				}
			}},
		{Name: "unban a user who is not banned", Method: post, Path: usersPath + "/{target}/unban", Token: "{root}",
			Setup: func(f *fix) { f.user("target", steward.RoleUser) }, Status: 409, Want: code("INVALID_STATE")},
		{Name: "ban yourself", Method: post, Path: usersPath + "/{root_id}/ban", Token: "{root}",
			Body: M{"reason": "oops"}, Status: 422, Want: code("CANNOT_TARGET_SELF")},
		{Name: "ban an unknown user", Method: post, Path: usersPath + "/{unknown}/ban", Token: "{root}",
			Body: M{"reason": "x"}, Status: 404, Want: code("NOT_FOUND")},
		{Name: "unban an unknown user", Method: post, Path: usersPath + "/{unknown}/unban", Token: "{root}", Status: 404, Want: code("NOT_FOUND")},
		{Name: "ban a deleted user", Method: post, Path: usersPath + "/{target}/ban", Token: "{root}",
			Setup: func(f *fix) {
				f.user("target", steward.RoleUser)
				f.must(200, del, usersPath+"/{target}", "{root}", nil)
			},
			Body: M{"reason": "x"}, Status: 409, Want: code("INVALID_STATE")},
		{Name: "ban: an admin cannot ban an owner", Method: post, Path: usersPath + "/{own}/ban", Token: "{adm_tok}",
			Setup: func(f *fix) { f.op("adm", steward.RoleAdmin); f.user("own", steward.RoleOwner) },
			Body:  M{"reason": "x"}, Status: 403, Want: code("INSUFFICIENT_ROLE")},
		{Name: "ban: support may not", Method: post, Path: usersPath + "/{target}/ban", Token: "{sup_tok}",
			Setup: func(f *fix) { f.op("sup", steward.RoleSupport); f.user("target", steward.RoleUser) },
			Body:  M{"reason": "x"}, Status: 403, Want: M{"code": "FORBIDDEN", "details.required_permission": "users:ban"}},
		{Name: "ban: an admin bans a user", Method: post, Path: usersPath + "/{target}/ban", Token: "{adm_tok}",
			Setup: func(f *fix) { f.op("adm", steward.RoleAdmin); f.user("target", steward.RoleUser) },
			Body:  M{"reason": "x"}, Status: 200, Want: M{"status": "banned", "ban.banned_by": "{adm}"}},
	}
}

// --- force-logout, change-password

func sessionRevocationScenarios() []scenario {
	return []scenario{
		{Name: "force-logout revokes every session and the access token", Method: post, Path: usersPath + "/{target}/force-logout", Token: "{root}",
			Setup: func(f *fix) {
				f.user("target", steward.RoleUser)
				f.e["other_tok"] = svcLogin(f.t, f.a, f.e["target_email"])
				f.loginHTTP("target")
			}, Status: 200,
			Want: M{"sessions_revoked": 2, "user.id": "{target}", "user.token_version": 1, "user.status": "active"},
			After: func(f *fix, r *apptest.Response) {
				f.expectErr(f.do(get, "/api/v1/auth/me", "{target_jwt}", nil), 401, "UNAUTHENTICATED")
				f.expectErr(f.do(get, "/api/v1/auth/me", "{target_tok}", nil), 401, "UNAUTHENTICATED")
				f.expectErr(f.do(get, "/api/v1/auth/me", "{other_tok}", nil), 401, "UNAUTHENTICATED")
				if e := f.audit(f.e["target"], "user.force_logout"); len(e) != 1 {
					f.t.Errorf("user.force_logout entries: %v", e)
				}
				f.loginHTTP("target")
				f.must(200, get, "/api/v1/auth/me", "{target_jwt}", nil)
				again := f.must(200, post, usersPath+"/{target}/force-logout", "{root}", nil)
				f.checkField(again, "sessions_revoked", 1)
				f.checkField(again, "user.token_version", 2)
			}},
		{Name: "force-logout a user without sessions", Method: post, Path: usersPath + "/{target}/force-logout", Token: "{root}",
			Setup: func(f *fix) { f.user("target", steward.RoleUser) }, Status: 200, Want: M{"sessions_revoked": 0}},
		{Name: "force-logout an unknown user", Method: post, Path: usersPath + "/{unknown}/force-logout", Token: "{root}", Status: 404, Want: code("NOT_FOUND")},
		{Name: "force-logout: an admin cannot log out an owner", Method: post, Path: usersPath + "/{own}/force-logout", Token: "{adm_tok}",
			Setup: func(f *fix) { f.op("adm", steward.RoleAdmin); f.op("own", steward.RoleOwner) }, Status: 403, Want: code("INSUFFICIENT_ROLE"),
			After: func(f *fix, r *apptest.Response) { f.must(200, get, usersPath+"?limit=1", "{own_tok}", nil) }},
		{Name: "force-logout: support may not", Method: post, Path: usersPath + "/{target}/force-logout", Token: "{sup_tok}",
			Setup: func(f *fix) { f.op("sup", steward.RoleSupport); f.user("target", steward.RoleUser) }, Status: 403,
			Want: M{"code": "FORBIDDEN", "details.required_permission": "sessions:revoke"}},
		{Name: "change-password swaps the password and ends old sessions", Method: post, Path: usersPath + "/{target}/change-password", Token: "{root}",
			Setup: func(f *fix) { f.user("target", steward.RoleUser); f.loginHTTP("target") },
			Body:  M{"new_password": newPassword}, Status: 200, Want: M{"id": "{target}", "token_version": 1},
			After: func(f *fix, r *apptest.Response) {
				if bytes.Contains(r.Raw, []byte(newPassword)) {
					f.t.Errorf("the answer echoes the password")
				}
				f.expectErr(f.do(get, "/api/v1/auth/me", "{target_tok}", nil), 401, "UNAUTHENTICATED")
				f.expectErr(f.do(get, "/api/v1/auth/me", "{target_jwt}", nil), 401, "UNAUTHENTICATED")
				f.expectErr(f.do(post, "/api/v1/auth/login", "", M{"email": "{target_email}", "password": apptest.Password}), 401, "INVALID_CREDENTIALS")
				l := f.must(200, post, "/api/v1/auth/login", "", M{"email": "{target_email}", "password": newPassword})
				f.must(200, get, "/api/v1/auth/me", str(l, "access_token"), nil)
				e := f.audit(f.e["target"], "user.password_change")
				if len(e) != 1 {
					f.t.Fatalf("user.password_change entries: %v", e)
				}
				if b, _ := json.Marshal(e[0]); bytes.Contains(b, []byte(newPassword)) || bytes.Contains(b, []byte("argon2")) {
					f.t.Errorf("the audit entry leaks the password or its hash: %s", b)
				}
			}},
		{Name: "change-password: too short", Method: post, Path: usersPath + "/{target}/change-password", Token: "{root}",
			Setup: func(f *fix) { f.user("target", steward.RoleUser) }, Body: M{"new_password": "short"}, Status: 422, Want: validation("new_password")},
		{Name: "change-password: missing", Method: post, Path: usersPath + "/{target}/change-password", Token: "{root}",
			Setup: func(f *fix) { f.user("target", steward.RoleUser) }, Body: M{}, Status: 422, Want: validation("new_password")},
		{Name: "change-password: old field name", Method: post, Path: usersPath + "/{target}/change-password", Token: "{root}",
			Setup: func(f *fix) { f.user("target", steward.RoleUser) }, Body: M{"password": newPassword}, Status: 400,
			Want: M{"code": "BAD_REQUEST", "details.fields.password": "unknown field"}},
		{Name: "change-password: unknown user", Method: post, Path: usersPath + "/{unknown}/change-password", Token: "{root}",
			Body: M{"new_password": newPassword}, Status: 404, Want: code("NOT_FOUND")},
		{Name: "change-password: an admin cannot reset an owner", Method: post, Path: usersPath + "/{own}/change-password", Token: "{adm_tok}",
			Setup: func(f *fix) { f.op("adm", steward.RoleAdmin); f.user("own", steward.RoleOwner) },
			Body:  M{"new_password": newPassword}, Status: 403, Want: code("INSUFFICIENT_ROLE")},
	}
}

// --- POST /admin/users/{id}/role and the role guards

func roleScenarios() []scenario {
	return []scenario{
		{Name: "role: promotion takes effect on the same session", Method: post, Path: usersPath + "/{target}/role", Token: "{root}",
			Setup: func(f *fix) {
				f.op("target", steward.RoleUser)
				f.expectErr(f.do(get, usersPath+"?limit=1", "{target_tok}", nil), 403, "FORBIDDEN")
			},
			Body: M{"role": "support"}, Status: 200, Want: M{"id": "{target}", "role": "support"},
			After: func(f *fix, r *apptest.Response) {
				f.must(200, get, usersPath+"?limit=1", "{target_tok}", nil)
				e := f.audit(f.e["target"], "user.role_change")
				if len(e) != 1 {
					f.t.Fatalf("user.role_change entries: %v", e)
				}
				ch, _ := e[0]["changes"].(map[string]any)
				if rc, _ := ch["role"].(map[string]any); rc["before"] != "user" || rc["after"] != "support" {
					f.t.Errorf("changes = %v", ch)
				}
			}},
		{Name: "role: a demotion takes effect on an unchanged access token", Method: post, Path: usersPath + "/{own}/role", Token: "{root}",
			Setup: func(f *fix) {
				f.user("own", steward.RoleOwner)
				f.loginHTTP("own")
				f.must(201, post, usersPath, "{own_jwt}", M{"email": "before.demotion@example.com"})
			},
			Body: M{"role": "support"}, Status: 200, Want: M{"role": "support"},
			After: func(f *fix, r *apptest.Response) {
				f.expectErr(f.do(post, usersPath, "{own_jwt}", M{"email": "after.demotion@example.com"}), 403, "FORBIDDEN")
				f.must(200, get, usersPath+"/{own}", "{own_jwt}", nil)
				f.must(200, get, "/api/v1/auth/me", "{own_jwt}", nil)
				r2 := f.must(200, post, usersPath+"/{own}/role", "{root}", M{"role": "user"})
				f.checkField(r2, "role", "user")
				f.expectErr(f.do(get, usersPath+"?limit=1", "{own_jwt}", nil), 403, "FORBIDDEN")
			}},
		{Name: "role: setting the same role changes nothing", Method: post, Path: usersPath + "/{target}/role", Token: "{root}",
			Setup: func(f *fix) { f.user("target", steward.RoleAdmin) }, Body: M{"role": "admin"}, Status: 200, Want: M{"role": "admin"},
			After: func(f *fix, r *apptest.Response) {
				if e := f.audit(f.e["target"], "user.role_change"); len(e) != 0 {
					f.t.Errorf("a no-op role change was audited: %v", e)
				}
			}},
		{Name: "role: unknown role", Method: post, Path: usersPath + "/{target}/role", Token: "{root}",
			Setup: func(f *fix) { f.user("target", steward.RoleUser) }, Body: M{"role": "god"}, Status: 422, Want: validation("role")},
		{Name: "role: missing role", Method: post, Path: usersPath + "/{target}/role", Token: "{root}",
			Setup: func(f *fix) { f.user("target", steward.RoleUser) }, Body: M{}, Status: 422, Want: validation("role")},
		{Name: "role: unknown user", Method: post, Path: usersPath + "/{unknown}/role", Token: "{root}",
			Body: M{"role": "admin"}, Status: 404, Want: code("NOT_FOUND")},
		{Name: "role: an owner cannot grant super_admin", Method: post, Path: usersPath + "/{target}/role", Token: "{own_tok}",
			Setup: func(f *fix) { f.op("own", steward.RoleOwner); f.user("target", steward.RoleUser) },
			Body:  M{"role": "super_admin"}, Status: 403, Want: M{"code": "CANNOT_ESCALATE", "details.role": "super_admin"}},
		{Name: "role: an owner grants admin", Method: post, Path: usersPath + "/{target}/role", Token: "{own_tok}",
			Setup: func(f *fix) { f.op("own", steward.RoleOwner); f.user("target", steward.RoleUser) },
			Body:  M{"role": "admin"}, Status: 200, Want: M{"role": "admin"}},
		{Name: "role: an owner cannot re-role another owner", Method: post, Path: usersPath + "/{other}/role", Token: "{own_tok}",
			Setup: func(f *fix) { f.op("own", steward.RoleOwner); f.user("other", steward.RoleOwner) },
			Body:  M{"role": "admin"}, Status: 403, Want: code("INSUFFICIENT_ROLE")},
		{Name: "role: an owner cannot demote a super_admin", Method: post, Path: usersPath + "/{root_id}/role", Token: "{own_tok}",
			Setup: func(f *fix) { f.op("own", steward.RoleOwner) },
			Body:  M{"role": "admin"}, Status: 403, Want: code("INSUFFICIENT_ROLE")},
		{Name: "role: an admin cannot change roles", Method: post, Path: usersPath + "/{target}/role", Token: "{adm_tok}",
			Setup: func(f *fix) { f.op("adm", steward.RoleAdmin); f.user("target", steward.RoleUser) },
			Body:  M{"role": "support"}, Status: 403, Want: M{"code": "FORBIDDEN", "details.required_permission": "users:role"}},
		{Name: "role: an owner cannot demote themselves", Method: post, Path: usersPath + "/{own}/role", Token: "{own_tok}",
			Setup: func(f *fix) { f.op("own", steward.RoleOwner) },
			Body:  M{"role": "admin"}, Status: 422, Want: code("CANNOT_TARGET_SELF")},
		{Name: "role: the only top operator cannot demote themselves", Method: post, Path: usersPath + "/{root_id}/role", Token: "{root}",
			Body: M{"role": "admin"}, Status: 422, Want: code("CANNOT_TARGET_SELF")},
		// Through HTTP a human actor always counts as a top operator too, so
		// LAST_ACTIVE_OWNER is reached by the system actor (as the sweeper or
		// the CLI act) once a second super_admin has demoted root.
		{Name: "role: the last active top operator is guarded", Fresh: true, Method: post, Path: usersPath + "/{root_id}/role", Token: "{sa2_tok}",
			Setup: func(f *fix) { f.op("sa2", steward.RoleSuperAdmin) },
			Body:  M{"role": "admin"}, Status: 200, Want: M{"role": "admin"},
			After: func(f *fix, r *apptest.Response) {
				f.expectErr(f.do(post, usersPath+"/{sa2}/role", "{root}", M{"role": "admin"}), 403, "FORBIDDEN")
				f.expectErr(f.do(post, usersPath+"/{sa2}/suspend", "{root}", nil), 403, "INSUFFICIENT_ROLE")
				f.expectErr(f.do(post, usersPath+"/{sa2}/role", "{sa2_tok}", M{"role": "admin"}), 422, "CANNOT_TARGET_SELF")
				f.expectErr(f.do(post, usersPath+"/{sa2}/suspend", "{sa2_tok}", nil), 422, "CANNOT_TARGET_SELF")
				f.expectErr(f.do(post, usersPath+"/{sa2}/ban", "{sa2_tok}", M{"reason": "x"}), 422, "CANNOT_TARGET_SELF")
				f.expectErr(f.do(del, usersPath+"/{sa2}", "{sa2_tok}", nil), 422, "CANNOT_TARGET_SELF")
				sys, id := apptest.System(), f.e["sa2"]
				codes := map[string]error{}
				_, codes["demote"] = f.a.Svc.Users.ChangeRole(sys, id, steward.RoleAdmin)
				_, codes["suspend"] = f.a.Svc.Users.SuspendUser(sys, id, "")
				_, codes["ban"] = f.a.Svc.Users.BanUser(sys, id, steward.BanInput{Reason: "x"})
				_, codes["delete"] = f.a.Svc.Users.DeleteUser(sys, id, "")
				codes["purge"] = f.a.Svc.Users.PurgeUser(sys, id, "")
				_, codes["bulk"] = func() (any, error) {
					res, err := f.a.Svc.Users.BulkUsers(sys, &steward.BulkRequest{UserIDs: []string{id}, Action: "suspend"})
					if err == nil && len(res.Results) == 1 && res.Results[0].Code != "" {
						err = steward.Errorf(res.Results[0].Code, "bulk")
					}
					return nil, err
				}()
				for op, err := range codes {
					if steward.ErrorCode(err) != steward.CodeLastActiveOwner {
						f.t.Errorf("%s of the last active top operator: %v, want LAST_ACTIVE_OWNER", op, err)
					}
				}
				g := f.must(200, get, usersPath+"/{sa2}", "{sa2_tok}", nil)
				f.checkField(g, "role", "super_admin")
				f.checkField(g, "status", "active")
				// With a second owner the system may demote sa2 again.
				f.user("own", steward.RoleOwner)
				if _, err := f.a.Svc.Users.ChangeRole(sys, id, steward.RoleAdmin); err != nil {
					f.t.Errorf("demoting one of two top operators: %v", err)
				}
			}},
		// A super_admin whose ban has lapsed is active (they log in and act),
		// so they count as an active top operator.
		{Name: "role: a top operator whose ban lapsed counts as active", Fresh: true, Method: post, Path: usersPath + "/{own}/role", Token: "{x_tok}",
			Setup: func(f *fix) {
				sys := apptest.System()
				f.user("x", steward.RoleSuperAdmin)
				f.user("own", steward.RoleOwner)
				_, err := f.a.Svc.Users.ChangeRole(sys, f.e["root_id"], steward.RoleAdmin)
				f.ok(err)
				exp := apptest.Start.Add(time.Hour)
				_, err = f.a.Svc.Users.BanUser(sys, f.e["x"], steward.BanInput{Reason: "cool off", ExpiresAt: &exp})
				f.ok(err)
				f.a.Clock.Advance(2 * time.Hour)
				f.loginHTTP("x")
				g := f.must(200, get, usersPath+"/{x}", "{x_tok}", nil)
				f.checkField(g, "status", "active")
			},
			Body: M{"role": "admin"}, Status: 200, Want: M{"role": "admin"}},
	}
}

// --- POST /admin/users/bulk

func bulkScenarios() []scenario {
	bulkPath := usersPath + "/bulk"
	tooMany := make([]string, steward.MaxBulk+1)
	for i := range tooMany {
		tooMany[i] = fmt.Sprintf("usr_%026d", i)
	}
	return []scenario{
		{Name: "bulk suspend reports each id", Method: post, Path: bulkPath, Token: "{root}",
			Setup: func(f *fix) {
				f.user("good1", steward.RoleUser)
				f.user("good2", steward.RoleUser)
				f.user("susp", steward.RoleUser)
				f.must(200, post, usersPath+"/{susp}/suspend", "{root}", nil)
			},
			Body:   M{"action": "suspend", "user_ids": []string{"{good1}", "{unknown}", "{susp}", "{root_id}", " ", "{good2}", "{good1}"}},
			Status: 200,
			Want: M{"succeeded": 2, "failed": 3, "results": length(5),
				"results.0.id": "{good1}", "results.0.ok": true, "results.0.code": absent(),
				"results.1.id": "{unknown}", "results.1.ok": false, "results.1.code": "NOT_FOUND", "results.1.message": present(),
				"results.2.id": "{susp}", "results.2.ok": false, "results.2.code": "INVALID_STATE",
				"results.3.id": "{root_id}", "results.3.ok": false, "results.3.code": "CANNOT_TARGET_SELF",
				"results.4.id": "{good2}", "results.4.ok": true},
			After: func(f *fix, r *apptest.Response) {
				for _, u := range []string{"good1", "good2"} {
					g := f.must(200, get, usersPath+"/{"+u+"}", "{root}", nil)
					f.checkField(g, "status", "suspended")
					e := f.audit(f.e[u], "user.suspend")
					if len(e) != 1 || e[0]["actor_id"] != f.e["root_id"] {
						f.t.Errorf("%s: user.suspend entries %v", u, e)
					}
				}
				if e := f.audit(f.e["susp"], "user.suspend"); len(e) != 1 {
					f.t.Errorf("the failed item was audited as a change: %v", e)
				}
				g := f.must(200, get, usersPath+"/{root_id}", "{root}", nil)
				f.checkField(g, "status", "active")
			}},
		{Name: "bulk unsuspend", Method: post, Path: bulkPath, Token: "{root}",
			Setup: func(f *fix) {
				f.user("susp", steward.RoleUser)
				f.user("act", steward.RoleUser)
				f.must(200, post, usersPath+"/{susp}/suspend", "{root}", nil)
			},
			Body:   M{"action": "unsuspend", "user_ids": []string{"{susp}", "{act}"}},
			Status: 200, Want: M{"succeeded": 1, "failed": 1, "results.0.ok": true, "results.1.code": "INVALID_STATE"},
			After: func(f *fix, r *apptest.Response) {
				f.checkField(f.must(200, get, usersPath+"/{susp}", "{root}", nil), "status", "active")
				if e := f.audit(f.e["susp"], "user.unsuspend"); len(e) != 1 {
					f.t.Errorf("user.unsuspend entries: %v", e)
				}
			}},
		{Name: "bulk delete by an owner applies the rank guard per id", Method: post, Path: bulkPath, Token: "{own_tok}",
			Setup: func(f *fix) {
				f.op("own", steward.RoleOwner)
				f.user("t1", steward.RoleUser)
				f.user("other", steward.RoleOwner)
			},
			Body:   M{"action": "delete", "user_ids": []string{"{t1}", "{other}", "{own}"}},
			Status: 200, Want: M{"succeeded": 1, "failed": 2, "results.0.ok": true, "results.1.code": "INSUFFICIENT_ROLE", "results.2.code": "CANNOT_TARGET_SELF"},
			After: func(f *fix, r *apptest.Response) {
				f.checkField(f.must(200, get, usersPath+"/{t1}", "{root}", nil), "status", "deleted")
				f.checkField(f.must(200, get, usersPath+"/{other}", "{root}", nil), "status", "active")
				if e := f.audit(f.e["t1"], "user.delete"); len(e) != 1 || e[0]["actor_id"] != f.e["own"] {
					f.t.Errorf("user.delete entries: %v", e)
				}
			}},
		{Name: "bulk delete needs users:delete", Method: post, Path: bulkPath, Token: "{adm_tok}",
			Setup: func(f *fix) { f.op("adm", steward.RoleAdmin); f.user("t1", steward.RoleUser) },
			Body:  M{"action": "delete", "user_ids": []string{"{t1}"}}, Status: 403, Want: code("FORBIDDEN"),
			After: func(f *fix, r *apptest.Response) {
				f.checkField(f.must(200, get, usersPath+"/{t1}", "{root}", nil), "status", "active")
			}},
		{Name: "bulk suspend needs users:write", Method: post, Path: bulkPath, Token: "{sup_tok}",
			Setup: func(f *fix) { f.op("sup", steward.RoleSupport); f.user("t1", steward.RoleUser) },
			Body:  M{"action": "suspend", "user_ids": []string{"{t1}"}}, Status: 403, Want: code("FORBIDDEN")},
		{Name: "bulk tag adds to the tags already there", Method: post, Path: bulkPath, Token: "{root}",
			Setup: func(f *fix) {
				f.user("t1", steward.RoleUser, withTags("a", "b"))
				f.user("t2", steward.RoleUser)
			},
			Body:   M{"action": "tag", "user_ids": []string{"{t1}", "{t2}", "{unknown}"}, "params": M{"tags": []string{"b", "c"}}},
			Status: 200, Want: M{"succeeded": 2, "failed": 1, "results.2.code": "NOT_FOUND"},
			After: func(f *fix, r *apptest.Response) {
				f.checkField(f.must(200, get, usersPath+"/{t1}", "{root}", nil), "tags", []string{"a", "b", "c"})
				f.checkField(f.must(200, get, usersPath+"/{t2}", "{root}", nil), "tags", []string{"b", "c"})
				if e := f.audit(f.e["t1"], "user.tag"); len(e) != 1 {
					f.t.Errorf("user.tag entries: %v", e)
				}
				l := f.must(200, get, usersPath+"?tag=c&q={t1}", "{root}", nil)
				if len(items(l)) != 1 {
					f.t.Errorf("tag filter after bulk tag: %s", l.Raw)
				}
			}},
		{Name: "bulk notify records each request and says it was not delivered", Method: post, Path: bulkPath, Token: "{root}",
			Setup: func(f *fix) {
				f.user("t1", steward.RoleUser)
				f.user("gone", steward.RoleUser)
				f.must(200, del, usersPath+"/{gone}", "{root}", nil)
			},
			Body:   M{"action": "notify", "user_ids": []string{"{t1}", "{gone}", "{unknown}"}, "params": M{"subject": "Hello", "message": "Maintenance tonight"}},
			Status: 200, Want: M{"succeeded": 1, "failed": 2, "results.0.ok": true, "results.0.message": contains("not delivered"),
				"results.1.code": "INVALID_STATE", "results.2.code": "NOT_FOUND"},
			After: func(f *fix, r *apptest.Response) {
				e := f.audit(f.e["t1"], "user.notify_requested")
				if len(e) != 1 {
					f.t.Fatalf("user.notify_requested entries: %v", e)
				}
				md, _ := e[0]["metadata"].(map[string]any)
				if md["delivered"] != false || md["subject"] != "Hello" || md["message"] != "Maintenance tonight" {
					f.t.Errorf("metadata = %v", md)
				}
			}},
		{Name: "bulk: unknown action", Method: post, Path: bulkPath, Token: "{root}",
			Body: M{"action": "explode", "user_ids": []string{"{root_id}"}}, Status: 422, Want: validation("action")},
		{Name: "bulk: missing action", Method: post, Path: bulkPath, Token: "{root}",
			Body: M{"user_ids": []string{"{root_id}"}}, Status: 422, Want: validation("action")},
		{Name: "bulk: tag without params", Method: post, Path: bulkPath, Token: "{root}",
			Body: M{"action": "tag", "user_ids": []string{"{root_id}"}}, Status: 422, Want: validation("params.tags")},
		{Name: "bulk: tag with an empty list", Method: post, Path: bulkPath, Token: "{root}",
			Body: M{"action": "tag", "user_ids": []string{"{root_id}"}, "params": M{"tags": []string{}}}, Status: 422, Want: validation("params.tags")},
		{Name: "bulk: tag with an invalid tag", Method: post, Path: bulkPath, Token: "{root}",
			Body: M{"action": "tag", "user_ids": []string{"{root_id}"}, "params": M{"tags": []string{"no spaces"}}}, Status: 422, Want: validation("params.tags")},
		{Name: "bulk: tag with an unknown param", Method: post, Path: bulkPath, Token: "{root}",
			Body: M{"action": "tag", "user_ids": []string{"{root_id}"}, "params": M{"tags": []string{"a"}, "color": "red"}}, Status: 422, Want: validation("params.tags")},
		{Name: "bulk: notify without a subject", Method: post, Path: bulkPath, Token: "{root}",
			Body: M{"action": "notify", "user_ids": []string{"{root_id}"}, "params": M{"message": "hi"}}, Status: 422, Want: validation("params.subject")},
		{Name: "bulk: notify without params", Method: post, Path: bulkPath, Token: "{root}",
			Body: M{"action": "notify", "user_ids": []string{"{root_id}"}}, Status: 422, Want: validation("params", "params.subject", "params.message")},
		{Name: "bulk: no ids", Method: post, Path: bulkPath, Token: "{root}",
			Body: M{"action": "suspend", "user_ids": []string{}}, Status: 422, Want: validation("user_ids")},
		{Name: "bulk: only blank ids", Method: post, Path: bulkPath, Token: "{root}",
			Body: M{"action": "suspend", "user_ids": []string{"", "  "}}, Status: 422, Want: validation("user_ids")},
		{Name: "bulk: more than 1000 ids", Method: post, Path: bulkPath, Token: "{root}",
			Body: M{"action": "suspend", "user_ids": tooMany}, Status: 422, Want: validation("user_ids")},
		{Name: "bulk: ids of the wrong type", Method: post, Path: bulkPath, Token: "{root}",
			Body: `{"action":"suspend","user_ids":"usr_1"}`, Status: 400, Want: badRequest("user_ids")},
		{Name: "bulk: unknown field", Method: post, Path: bulkPath, Token: "{root}",
			Body: M{"action": "suspend", "user_ids": []string{"{root_id}"}, "dry_run": true}, Status: 400,
			Want: M{"code": "BAD_REQUEST", "details.fields.dry_run": "unknown field"}},
	}
}

// --- sessions: per user, /admin/sessions, DELETE /admin/sessions/{id}

func sessionScenarios() []scenario {
	sessionsPath := "/api/v1/admin/sessions"
	twoSessions := func(f *fix) {
		f.user("target", steward.RoleUser)
		f.loginHTTP("target")
		f.e["second_tok"] = svcLogin(f.t, f.a, f.e["target_email"])
		f.e["sid1"], f.e["sid2"] = f.sessionID("{target_tok}"), f.sessionID("{second_tok}")
	}
	return []scenario{
		{Name: "user sessions lists the user's sessions", Method: get, Path: usersPath + "/{target}/sessions", Token: "{root}",
			Setup: func(f *fix) { twoSessions(f); f.op("other", steward.RoleUser) }, Status: 200,
			Want: M{"data": length(2), "has_more": false, "next_cursor": nil, "data.0.user_id": "{target}", "data.1.user_id": "{target}",
				"data.0.revoked_at": nil, "data.0.token_hash": absent(), "data.0.created_at": present(), "data.0.expires_at": present()},
			After: func(f *fix, r *apptest.Response) {
				ids := idsOf(r)
				if !slices.Contains(ids, f.e["sid1"]) || !slices.Contains(ids, f.e["sid2"]) {
					f.t.Errorf("sessions %v, want %s and %s", ids, f.e["sid1"], f.e["sid2"])
				}
				if bytes.Contains(r.Raw, []byte(f.e["target_tok"])) {
					f.t.Errorf("a session list shows the token")
				}
				pg := f.must(200, get, usersPath+"/{target}/sessions?limit=1", "{root}", nil)
				f.checkField(pg, "has_more", true)
			}},
		{Name: "user sessions of an unknown user", Method: get, Path: usersPath + "/{unknown}/sessions", Token: "{root}", Status: 404, Want: code("NOT_FOUND")},
		{Name: "user sessions with a bad limit", Method: get, Path: usersPath + "/{root_id}/sessions?limit=500", Token: "{root}", Status: 400, Want: badRequest("limit")},
		{Name: "admin sessions filters by user", Method: get, Path: sessionsPath + "?user_id={target}", Token: "{root}",
			Setup: func(f *fix) { twoSessions(f); f.op("other", steward.RoleUser) }, Status: 200,
			Want: M{"data": length(2), "data.0.user_id": "{target}", "data.1.user_id": "{target}"}},
		{Name: "admin sessions filters by status", Method: del, Path: sessionsPath + "/{sid1}", Token: "{root}",
			Setup: twoSessions, Status: 200, Want: M{"id": "{sid1}", "revoked_at": present(), "revoked_reason": present()},
			After: func(f *fix, r *apptest.Response) {
				rev := f.must(200, get, sessionsPath+"?user_id={target}&status=revoked", "{root}", nil)
				f.checkField(rev, "data", length(1))
				f.checkField(rev, "data.0.id", "{sid1}")
				act := f.must(200, get, sessionsPath+"?user_id={target}&status=active", "{root}", nil)
				f.checkField(act, "data", length(1))
				f.checkField(act, "data.0.id", "{sid2}")
				exp := f.must(200, get, sessionsPath+"?user_id={target}&status=expired", "{root}", nil)
				f.checkField(exp, "data", length(0))
			}},
		{Name: "admin sessions lists expired sessions", Fresh: true, Method: get, Path: sessionsPath + "?user_id={target}&status=expired", Token: "{root}",
			Setup: func(f *fix) {
				twoSessions(f)
				f.a.Clock.Advance(31 * 24 * time.Hour)
				f.expectErr(f.do(get, "/api/v1/auth/me", "{target_tok}", nil), 401, "UNAUTHENTICATED")
				f.e["root"] = svcLogin(f.t, f.a, "root@example.com")
				f.user("fresh", steward.RoleUser)
				f.e["fresh_tok"] = svcLogin(f.t, f.a, f.e["fresh_email"])
			}, Status: 200, Want: M{"data": length(2)},
			After: func(f *fix, r *apptest.Response) {
				act := f.must(200, get, sessionsPath+"?user_id={target}&status=active", "{root}", nil)
				f.checkField(act, "data", length(0))
				all := f.must(200, get, sessionsPath+"?status=expired&limit=200", "{root}", nil)
				for _, s := range items(all) {
					if s["user_id"] == f.e["fresh"] {
						f.t.Errorf("a live session is listed as expired")
					}
				}
				live := f.must(200, get, sessionsPath+"?status=active&user_id={fresh}", "{root}", nil)
				f.checkField(live, "data", length(1))
			}},
		{Name: "admin sessions: unknown status", Method: get, Path: sessionsPath + "?status=zombie", Token: "{root}", Status: 422, Want: validation("status")},
		{Name: "admin sessions: malformed cursor", Method: get, Path: sessionsPath + "?cursor=%25%25", Token: "{root}", Status: 400, Want: badRequest("cursor")},
		{Name: "admin sessions: pages", Method: get, Path: sessionsPath + "?user_id={target}&limit=1", Token: "{root}",
			Setup: twoSessions, Status: 200, Want: M{"data": length(1), "has_more": true},
			After: func(f *fix, r *apptest.Response) {
				n := f.must(200, get, sessionsPath+"?user_id={target}&limit=1&cursor="+str(r, "next_cursor"), "{root}", nil)
				f.checkField(n, "data", length(1))
				f.checkField(n, "has_more", false)
				f.checkField(n, "next_cursor", nil)
				if idsOf(n)[0] == idsOf(r)[0] {
					f.t.Errorf("the second page repeats the first")
				}
			}},
		{Name: "admin sessions: include_total counts every match", Method: get, Path: sessionsPath + "?user_id={target}&limit=1&include_total=true", Token: "{root}",
			Setup: func(f *fix) { twoSessions(f); f.op("other", steward.RoleUser) }, Status: 200,
			Want: M{"data": length(1), "has_more": true, "total": 2},
			After: func(f *fix, r *apptest.Response) {
				n := f.must(200, get, sessionsPath+"?user_id={target}&limit=1&include_total=true&cursor="+str(r, "next_cursor"), "{root}", nil)
				f.checkField(n, "total", 2)
				f.must(200, del, sessionsPath+"/{sid1}", "{root}", nil)
				act := f.must(200, get, sessionsPath+"?user_id={target}&status=active&include_total=true", "{root}", nil)
				f.checkField(act, "total", 1)
				f.checkField(f.must(200, get, sessionsPath+"?user_id={target}&limit=1", "{root}", nil), "total", absent())
			}},
		{Name: "user sessions: include_total counts the user's sessions", Method: get, Path: usersPath + "/{target}/sessions?limit=1&include_total=true", Token: "{root}",
			Setup: func(f *fix) { twoSessions(f); f.op("other", steward.RoleUser) }, Status: 200,
			Want: M{"data": length(1), "has_more": true, "total": 2},
			After: func(f *fix, r *apptest.Response) {
				f.checkField(f.must(200, get, usersPath+"/{target}/sessions?status=revoked&include_total=true", "{root}", nil), "total", 0)
				f.checkField(f.must(200, get, usersPath+"/{target}/sessions", "{root}", nil), "total", absent())
			}},
		{Name: "revoke a session ends its tokens, once", Method: del, Path: sessionsPath + "/{sid1}", Token: "{root}",
			Setup: twoSessions, Status: 200, Want: M{"id": "{sid1}", "user_id": "{target}", "revoked_at": present()},
			After: func(f *fix, r *apptest.Response) {
				f.expectErr(f.do(get, "/api/v1/auth/me", "{target_tok}", nil), 401, "UNAUTHENTICATED")
				f.expectErr(f.do(get, "/api/v1/auth/me", "{target_jwt}", nil), 401, "UNAUTHENTICATED")
				f.must(200, get, "/api/v1/auth/me", "{second_tok}", nil)
				f.expectErr(f.do(del, sessionsPath+"/{sid1}", "{root}", nil), 409, "INVALID_STATE")
				e := f.walk("/api/v1/admin/audit-log?action=session.revoke&target_id={sid1}", "{root}")
				if len(e) != 1 {
					f.t.Errorf("session.revoke entries: %v", e)
				}
			}},
		{Name: "revoke an unknown session", Method: del, Path: sessionsPath + "/ses_00000000000000000000000000", Token: "{root}", Status: 404, Want: code("NOT_FOUND")},
		{Name: "revoke: an admin cannot revoke an owner's session", Method: del, Path: sessionsPath + "/{sid}", Token: "{adm_tok}",
			Setup: func(f *fix) {
				f.op("adm", steward.RoleAdmin)
				f.op("own", steward.RoleOwner)
				f.e["sid"] = f.sessionID("{own_tok}")
			}, Status: 403, Want: code("INSUFFICIENT_ROLE")},
		{Name: "revoke: support may not", Method: del, Path: sessionsPath + "/{sid1}", Token: "{sup_tok}",
			Setup: func(f *fix) { twoSessions(f); f.op("sup", steward.RoleSupport) }, Status: 403, Want: code("FORBIDDEN")},
		{Name: "revoke: an operator may end their own session", Method: del, Path: sessionsPath + "/{sid}", Token: "{adm_tok}",
			Setup: func(f *fix) { f.op("adm", steward.RoleAdmin); f.e["sid"] = f.sessionID("{adm_tok}") }, Status: 200,
			After: func(f *fix, r *apptest.Response) {
				f.expectErr(f.do(get, usersPath, "{adm_tok}", nil), 401, "UNAUTHENTICATED")
			}},
	}
}

// --- audit log: list, filters, verify, export

func auditScenarios() []scenario {
	auditPath := "/api/v1/admin/audit-log"
	return []scenario{
		{Name: "audit: filter by target", Method: get, Path: auditPath + "?target_type=user&target_id={target}", Token: "{root}",
			Setup: func(f *fix) {
				f.user("target", steward.RoleUser)
				f.must(200, post, usersPath+"/{target}/suspend", "{root}", M{"reason": "audit me"})
			}, Status: 200,
			Want: M{"data": length(2), "data.0.action": "user.suspend", "data.1.action": "user.create", "data.0.reason": "audit me",
				"data.0.actor_id": "{root_id}", "data.0.actor_type": "operator", "data.0.actor_role": "super_admin", "data.0.target_type": "user",
				"data.0.ip": "127.0.0.1", "data.0.request_id": present(), "data.0.hash": present(), "data.0.credential_id": prefix("ses_"),
				"data.1.actor_type": "system"},
			After: func(f *fix, r *apptest.Response) {
				if num(r, "data.0.seq") <= num(r, "data.1.seq") {
					f.t.Errorf("entries are not newest first")
				}
				ch, _ := items(r)[0]["changes"].(map[string]any)
				st, _ := ch["status"].(map[string]any)
				if st["before"] != "active" || st["after"] != "suspended" {
					f.t.Errorf("changes = %v", ch)
				}
			}},
		{Name: "audit: filter by actor", Method: get, Path: auditPath + "?actor_id={adm}", Token: "{root}",
			Setup: func(f *fix) {
				f.op("adm", steward.RoleAdmin)
				f.user("target", steward.RoleUser)
				f.must(200, post, usersPath+"/{target}/suspend", "{adm_tok}", nil)
			}, Status: 200,
			After: func(f *fix, r *apptest.Response) {
				var actions []string
				for _, e := range items(r) {
					if e["actor_id"] != f.e["adm"] {
						f.t.Errorf("entry by %v in an actor filter", e["actor_id"])
					}
					actions = append(actions, fmt.Sprint(e["action"]))
				}
				if !slices.Contains(actions, "user.suspend") || !slices.Contains(actions, "auth.login") {
					f.t.Errorf("actions %v", actions)
				}
			}},
		{Name: "audit: filter by action", Method: get, Path: auditPath + "?action=user.unban&limit=200", Token: "{root}",
			Setup: func(f *fix) {
				f.user("target", steward.RoleUser)
				f.must(200, post, usersPath+"/{target}/ban", "{root}", M{"reason": "x"})
				f.must(200, post, usersPath+"/{target}/unban", "{root}", nil)
			}, Status: 200,
			After: func(f *fix, r *apptest.Response) {
				found := false
				for _, e := range items(r) {
					if e["action"] != "user.unban" {
						f.t.Errorf("action filter let %v through", e["action"])
					}
					found = found || e["target_id"] == f.e["target"]
				}
				if !found {
					f.t.Errorf("the unban is missing")
				}
			}},
		{Name: "audit: filter by target type", Method: get, Path: auditPath + "?target_type=session&limit=200", Token: "{root}",
			Setup: func(f *fix) { f.user("target", steward.RoleUser); f.loginHTTP("target") }, Status: 200,
			After: func(f *fix, r *apptest.Response) {
				if len(items(r)) == 0 {
					f.t.Errorf("no session entries")
				}
				for _, e := range items(r) {
					if e["target_type"] != "session" {
						f.t.Errorf("target_type filter let %v through", e["target_type"])
					}
				}
			}},
		{Name: "audit: since and until", Fresh: true, Method: get, Path: auditPath + "?action=user.create&since=2026-03-01T12:30:00Z", Token: "{root}",
			Setup: func(f *fix) {
				f.user("early", steward.RoleUser)
				f.a.Clock.Advance(time.Hour)
				f.user("late", steward.RoleUser)
			}, Status: 200, Want: M{"data": length(1), "data.0.target_id": "{late}"},
			After: func(f *fix, r *apptest.Response) {
				u := f.must(200, get, auditPath+"?action=user.create&until=2026-03-01T12:30:00Z", "{root}", nil)
				f.checkField(u, "data", length(1))
				f.checkField(u, "data.0.target_id", "{early}")
				z := f.must(200, get, auditPath+"?action=user.create&since=2026-03-01T13:00:00%2B01:00&until=2026-03-01T12:30:00Z", "{root}", nil)
				f.checkField(z, "data", length(1))
				f.checkField(z, "data.0.target_id", "{early}")
				b := f.must(200, get, auditPath+"?action=user.create&since=2026-03-01T12:00:00Z&until=2026-03-01T13:00:00Z", "{root}", nil)
				f.checkField(b, "data", length(1))
				f.checkField(b, "data.0.target_id", "{early}")
			}},
		{Name: "audit: malformed since", Method: get, Path: auditPath + "?since=yesterday", Token: "{root}", Status: 400, Want: badRequest("since")},
		{Name: "audit: malformed until", Method: get, Path: auditPath + "?until=2026-13-01", Token: "{root}", Status: 400, Want: badRequest("until")},
		{Name: "audit: malformed cursor", Method: get, Path: auditPath + "?cursor=bm90LWEtbnVtYmVy", Token: "{root}", Status: 400, Want: badRequest("cursor")},
		{Name: "audit: bad limit", Method: get, Path: auditPath + "?limit=-1", Token: "{root}", Status: 400, Want: badRequest("limit")},
		{Name: "audit: pages follow the sequence", Method: get, Path: auditPath + "?target_id={target}&limit=1", Token: "{root}",
			Setup: func(f *fix) {
				f.user("target", steward.RoleUser)
				f.must(200, post, usersPath+"/{target}/suspend", "{root}", nil)
				f.must(200, post, usersPath+"/{target}/unsuspend", "{root}", nil)
			}, Status: 200, Want: M{"data": length(1), "data.0.action": "user.unsuspend", "has_more": true},
			After: func(f *fix, r *apptest.Response) {
				all := f.walk(auditPath+"?target_id={target}&limit=1", "{root}")
				var acts []string
				for _, e := range all {
					acts = append(acts, fmt.Sprint(e["action"]))
				}
				if !slices.Equal(acts, []string{"user.unsuspend", "user.suspend", "user.create"}) {
					f.t.Errorf("walked %v", acts)
				}
			}},
		{Name: "audit: include_total counts every match", Method: get, Path: auditPath + "?target_id={target}&limit=1&include_total=true", Token: "{root}",
			Setup: func(f *fix) {
				f.user("target", steward.RoleUser)
				f.must(200, post, usersPath+"/{target}/suspend", "{root}", nil)
				f.must(200, post, usersPath+"/{target}/unsuspend", "{root}", nil)
			}, Status: 200, Want: M{"data": length(1), "has_more": true, "total": 3},
			After: func(f *fix, r *apptest.Response) {
				n := f.must(200, get, auditPath+"?target_id={target}&limit=1&include_total=true&cursor="+str(r, "next_cursor"), "{root}", nil)
				f.checkField(n, "total", 3)
				a := f.must(200, get, auditPath+"?target_id={target}&action=user.suspend&include_total=true", "{root}", nil)
				f.checkField(a, "total", 1)
				f.checkField(f.must(200, get, auditPath+"?target_id={target}&limit=1", "{root}", nil), "total", absent())
			}},
		{Name: "audit: include_total on a user's own log", Method: get, Path: usersPath + "/{target}/audit-log?limit=1&include_total=true", Token: "{root}",
			Setup: func(f *fix) {
				f.user("target", steward.RoleUser)
				f.must(200, post, usersPath+"/{target}/suspend", "{root}", nil)
			}, Status: 200, Want: M{"data": length(1), "has_more": true, "total": 2},
			After: func(f *fix, r *apptest.Response) {
				f.checkField(f.must(200, get, usersPath+"/{target}/audit-log?action=user.create&include_total=true", "{root}", nil), "total", 1)
				f.checkField(f.must(200, get, usersPath+"/{target}/audit-log", "{root}", nil), "total", absent())
			}},
		{Name: "audit: a user's own log", Method: get, Path: usersPath + "/{target}/audit-log", Token: "{root}",
			Setup: func(f *fix) {
				f.user("target", steward.RoleUser)
				f.must(200, post, usersPath+"/{target}/suspend", "{root}", nil)
			}, Status: 200, Want: M{"data": length(2), "data.0.action": "user.suspend", "data.1.action": "user.create", "data.0.target_id": "{target}"}},
		// The route pins the target: another one is refused, not ignored.
		{Name: "audit: a user's own log refuses another target", Method: get, Path: usersPath + "/{target}/audit-log?target_id={root_id}", Token: "{root}",
			Setup:  func(f *fix) { f.user("target", steward.RoleUser) },
			Status: 400, Want: M{"code": "BAD_REQUEST", "details.fields.target_id": "unknown query parameter", "details.unknown": []any{"target_id"}}},
		{Name: "audit: a user's own log filtered by action", Method: get, Path: usersPath + "/{target}/audit-log?action=user.create", Token: "{root}",
			Setup: func(f *fix) {
				f.user("target", steward.RoleUser)
				f.must(200, post, usersPath+"/{target}/suspend", "{root}", nil)
			}, Status: 200, Want: M{"data": length(1), "data.0.action": "user.create"}},
		{Name: "audit: the log of an unknown user", Method: get, Path: usersPath + "/{unknown}/audit-log", Token: "{root}", Status: 404, Want: code("NOT_FOUND")},
		{Name: "audit: verify walks the whole chain", Fresh: true, Method: get, Path: auditPath + "/verify", Token: "{root}",
			Setup: func(f *fix) {
				f.user("target", steward.RoleUser)
				f.must(200, post, usersPath+"/{target}/ban", "{root}", M{"reason": "x"})
				f.must(200, patch, usersPath+"/{target}", "{root}", M{"metadata": M{"k": M{"deep": []any{1, "two", nil}}}})
			}, Status: 200, Want: M{"ok": true, "first_break": absent()},
			After: func(f *fix, r *apptest.Response) {
				all := f.walk(auditPath+"?limit=200", "{root}")
				if int(num(r, "entries")) != len(all) || len(all) < 5 {
					f.t.Errorf("verify counted %v entries, the list has %d", r.Get("entries"), len(all))
				}
			}},
		{Name: "audit: export ndjson streams oldest first and is itself audited", Fresh: true, Method: get, Path: auditPath + "/export?format=ndjson", Token: "{root}",
			Setup: func(f *fix) {
				f.user("target", steward.RoleUser)
				f.must(200, post, usersPath+"/{target}/suspend", "{root}", M{"reason": "line, with \"quotes\"\nand a newline"})
			}, Status: 200,
			After: func(f *fix, r *apptest.Response) {
				if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-ndjson") {
					f.t.Errorf("Content-Type %q", ct)
				}
				lines := strings.Split(strings.TrimSuffix(string(r.Raw), "\n"), "\n")
				var seqs []float64
				var actions []string
				for i, l := range lines {
					var e map[string]any
					if err := json.Unmarshal([]byte(l), &e); err != nil {
						f.t.Fatalf("line %d is not JSON: %v: %q", i+1, err, l)
					}
					s, _ := e["seq"].(float64)
					seqs = append(seqs, s)
					actions = append(actions, fmt.Sprint(e["action"]))
				}
				for i := range seqs {
					if seqs[i] != float64(i+1) {
						f.t.Errorf("seq %v at line %d: not oldest first and gapless", seqs[i], i+1)
						break
					}
				}
				if actions[len(actions)-1] != "audit.export" || !slices.Contains(actions, "user.suspend") {
					f.t.Errorf("actions %v", actions)
				}
				filtered := f.must(200, get, auditPath+"/export?action=user.create", "{root}", nil)
				fl := strings.Split(strings.TrimSpace(string(filtered.Raw)), "\n")
				if len(fl) != 1 || !strings.Contains(fl[0], f.e["target"]) {
					f.t.Errorf("filtered export: %q", filtered.Raw)
				}
			}},
		{Name: "audit: export csv has a header row", Fresh: true, Method: get, Path: auditPath + "/export?format=csv", Token: "{root}",
			Setup: func(f *fix) {
				f.user("target", steward.RoleUser)
				f.must(200, post, usersPath+"/{target}/suspend", "{root}", M{"reason": "comma, \"quote\"\nnewline"})
			}, Status: 200,
			After: func(f *fix, r *apptest.Response) {
				if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
					f.t.Errorf("Content-Type %q", ct)
				}
				rows, err := csv.NewReader(bytes.NewReader(r.Raw)).ReadAll()
				if err != nil {
					f.t.Fatalf("csv: %v", err)
				}
				if len(rows) < 4 || rows[0][0] != "id" || rows[0][1] != "seq" || !slices.Contains(rows[0], "action") || !slices.Contains(rows[0], "hash") {
					f.t.Fatalf("rows: %v", rows)
				}
				col := slices.Index(rows[0], "reason")
				found := false
				for _, row := range rows[1:] {
					if len(row) != len(rows[0]) {
						f.t.Errorf("row has %d columns, header %d", len(row), len(rows[0]))
					}
					found = found || row[col] == "comma, \"quote\"\nnewline"
				}
				if !found {
					f.t.Errorf("the reason did not survive CSV quoting")
				}
			}},
		{Name: "audit: export with an unknown format", Method: get, Path: auditPath + "/export?format=xml", Token: "{root}", Status: 422, Want: validation("format")},
		{Name: "audit: export with a malformed since", Method: get, Path: auditPath + "/export?since=never", Token: "{root}", Status: 400, Want: badRequest("since")},
		{Name: "audit: support may read but not export", Method: get, Path: auditPath + "/export", Token: "{sup_tok}",
			Setup: func(f *fix) {
				f.op("sup", steward.RoleSupport)
				f.must(200, get, auditPath+"?limit=1", "{sup_tok}", nil)
				f.must(200, get, auditPath+"/verify", "{sup_tok}", nil)
			}, Status: 403, Want: M{"code": "FORBIDDEN", "details.required_permission": "audit:export"}},
	}
}

// --- auth surface: login, lockout, refresh, logout, me

func authScenarios() []scenario {
	loginPath := "/api/v1/auth/login"
	return []scenario{
		{Name: "login by email", Method: post, Path: loginPath,
			Setup: func(f *fix) { f.user("target", steward.RoleUser) },
			Body:  M{"email": "{target_email}", "password": apptest.Password}, Status: 200,
			Want: M{"session_token": prefix("stw_s_"), "access_token": present(), "token_type": "Bearer", "expires_at": "2026-03-01T12:15:00Z",
				"session_expires_at": "2026-03-31T12:00:00Z", "user.id": "{target}", "user.last_login_at": present()},
			After: func(f *fix, r *apptest.Response) {
				if s := str(r, "session_token"); len(s) < 6+32 {
					f.t.Errorf("session token %q is short", s)
				}
				if bytes.Contains(r.Raw, []byte("password")) {
					f.t.Errorf("login answer mentions a password: %s", r.Raw)
				}
				me := f.must(200, get, "/api/v1/auth/me", str(r, "session_token"), nil)
				f.checkField(me, "id", "{target}")
				e := f.walk("/api/v1/admin/audit-log?action=auth.login&actor_id={target}", "{root}")
				if len(e) != 1 || e[0]["target_type"] != "session" {
					f.t.Errorf("auth.login entries: %v", e)
				}
			}},
		{Name: "login by username", Method: post, Path: loginPath,
			Setup: func(f *fix) { f.user("target", steward.RoleUser) },
			Body:  M{"username": "{target_username}", "password": apptest.Password}, Status: 200, Want: M{"user.id": "{target}"}},
		{Name: "login ignores the email's case", Method: post, Path: loginPath,
			Setup: func(f *fix) { u := f.user("target", steward.RoleUser); f.e["upper"] = strings.ToUpper(u.Email) },
			Body:  M{"email": "{upper}", "password": apptest.Password}, Status: 200, Want: M{"user.id": "{target}"}},
		{Name: "login failures all look the same", Method: post, Path: loginPath,
			Setup: func(f *fix) {
				f.user("target", steward.RoleUser)
				for _, st := range []string{"susp", "banned", "gone"} {
					f.user(st, steward.RoleUser)
				}
				f.must(200, post, usersPath+"/{susp}/suspend", "{root}", nil)
				f.must(200, post, usersPath+"/{banned}/ban", "{root}", M{"reason": "x"})
				f.must(200, del, usersPath+"/{gone}", "{root}", nil)
			},
			Body: M{"email": "{target_email}", "password": "wrong-password"}, Status: 401,
			Want: M{"code": "INVALID_CREDENTIALS", "details": M{}},
			After: func(f *fix, r *apptest.Response) {
				msg := str(r, "message")
				for name, body := range map[string]M{
					"unknown email":                {"email": "nobody.here@example.com", "password": apptest.Password},
					"unknown username":             {"username": "nobody-here", "password": apptest.Password},
					"wrong password, by username":  {"username": "{target_username}", "password": "wrong-password"},
					"suspended, right password":    {"email": "{susp_email}", "password": apptest.Password},
					"banned, right password":       {"email": "{banned_email}", "password": apptest.Password},
					"soft-deleted, right password": {"email": "{gone_email}", "password": apptest.Password},
				} {
					x := f.do(post, loginPath, "", body)
					d, _ := x.Body["details"].(map[string]any)
					if x.Status != 401 || str(x, "code") != "INVALID_CREDENTIALS" || str(x, "message") != msg || d == nil || len(d) != 0 {
						f.t.Errorf("%s: %d %s, want 401 INVALID_CREDENTIALS %q", name, x.Status, x.Raw, msg)
					}
				}
			}},
		{Name: "login without a password", Method: post, Path: loginPath, Body: M{"email": "someone@example.com"}, Status: 422, Want: validation("password")},
		{Name: "login without email or username", Method: post, Path: loginPath, Body: M{"password": "whatever-it-is"}, Status: 422, Want: validation("email")},
		{Name: "login with an unknown field", Method: post, Path: loginPath, Body: M{"email": "a@example.com", "password": "x", "remember": true}, Status: 400,
			Want: M{"code": "BAD_REQUEST", "details.fields.remember": "unknown field"}},
		{Name: "login with malformed JSON", Method: post, Path: loginPath, Body: `{"email":`, Status: 400, Want: code("BAD_REQUEST")},
		{Name: "ten failures lock the account for 15 minutes from that address", Fresh: true, Method: post, Path: loginPath,
			Setup: func(f *fix) {
				f.user("target", steward.RoleUser)
				for i := 0; i < 10; i++ {
					f.expectErr(f.do(post, loginPath, "", M{"email": "{target_email}", "password": "wrong-password"}), 401, "INVALID_CREDENTIALS")
				}
			},
			Body: M{"email": "{target_email}", "password": apptest.Password}, Status: 429,
			Want: M{"code": "RATE_LIMITED", "retry_after": 900, "details.retry_after": 900},
			After: func(f *fix, r *apptest.Response) {
				if r.Header.Get("Retry-After") != "900" {
					f.t.Errorf("Retry-After = %q", r.Header.Get("Retry-After"))
				}
				f.a.Clock.Advance(5 * time.Minute)
				x := f.do(post, loginPath, "", M{"email": "{target_email}", "password": apptest.Password})
				f.expectErr(x, 429, "RATE_LIMITED")
				f.checkField(x, "retry_after", 600)
				if e := f.audit(f.e["target"], "auth.lockout"); len(e) != 1 {
					f.t.Errorf("auth.lockout entries: %v", e)
				}
				f.a.Clock.Advance(10 * time.Minute)
				f.must(200, post, loginPath, "", M{"email": "{target_email}", "password": apptest.Password})
			}},
		{Name: "refresh with the session token in the body", Method: post, Path: "/api/v1/auth/refresh",
			Setup: func(f *fix) { f.user("target", steward.RoleUser); f.loginHTTP("target") },
			Body:  M{"session_token": "{target_tok}"}, Status: 200,
			Want: M{"session_token": "{target_tok}", "access_token": present(), "token_type": "Bearer", "user.id": "{target}"},
			After: func(f *fix, r *apptest.Response) {
				if str(r, "access_token") == f.e["target_jwt"] {
					f.t.Errorf("refresh returned the same access token")
				}
				f.checkField(f.must(200, get, "/api/v1/auth/me", str(r, "access_token"), nil), "id", "{target}")
			}},
		{Name: "refresh with the session token as the bearer", Method: post, Path: "/api/v1/auth/refresh", Token: "{target_tok}",
			Setup: func(f *fix) { f.user("target", steward.RoleUser); f.loginHTTP("target") }, Status: 200,
			Want: M{"access_token": present(), "user.id": "{target}"}},
		{Name: "refresh does not take an access token", Method: post, Path: "/api/v1/auth/refresh",
			Setup: func(f *fix) { f.user("target", steward.RoleUser); f.loginHTTP("target") },
			Body:  M{"session_token": "{target_jwt}"}, Status: 401, Want: code("UNAUTHENTICATED")},
		{Name: "refresh with an unknown token", Method: post, Path: "/api/v1/auth/refresh",
			Body: M{"session_token": "stw_s_unknown"}, Status: 401, Want: code("UNAUTHENTICATED")},
		{Name: "refresh without a token", Method: post, Path: "/api/v1/auth/refresh", Status: 401, Want: code("UNAUTHENTICATED")},
		{Name: "refresh with an unknown field", Method: post, Path: "/api/v1/auth/refresh", Body: M{"token": "x"}, Status: 400,
			Want: M{"code": "BAD_REQUEST", "details.fields.token": "unknown field"}},
		{Name: "an access token expires after 15 minutes and refresh mints another", Fresh: true, Method: get, Path: "/api/v1/auth/me", Token: "{target_jwt}",
			Setup: func(f *fix) {
				f.user("target", steward.RoleUser)
				f.loginHTTP("target")
				f.a.Clock.Advance(15*time.Minute + time.Second)
			}, Status: 401, Want: code("UNAUTHENTICATED"),
			After: func(f *fix, r *apptest.Response) {
				f.must(200, get, "/api/v1/auth/me", "{target_tok}", nil)
				n := f.must(200, post, "/api/v1/auth/refresh", "", M{"session_token": "{target_tok}"})
				f.must(200, get, "/api/v1/auth/me", str(n, "access_token"), nil)
			}},
		{Name: "logout ends the session", Method: post, Path: "/api/v1/auth/logout", Token: "{target_tok}",
			Setup: func(f *fix) { f.user("target", steward.RoleUser); f.loginHTTP("target") }, Status: 200, Want: M{"logged_out": true},
			After: func(f *fix, r *apptest.Response) {
				f.expectErr(f.do(get, "/api/v1/auth/me", "{target_tok}", nil), 401, "UNAUTHENTICATED")
				f.expectErr(f.do(get, "/api/v1/auth/me", "{target_jwt}", nil), 401, "UNAUTHENTICATED")
				f.expectErr(f.do(post, "/api/v1/auth/refresh", "", M{"session_token": "{target_tok}"}), 401, "UNAUTHENTICATED")
				f.expectErr(f.do(post, "/api/v1/auth/logout", "{target_tok}", nil), 401, "UNAUTHENTICATED")
				if e := f.walk("/api/v1/admin/audit-log?action=auth.logout&actor_id={target}", "{root}"); len(e) != 1 {
					f.t.Errorf("auth.logout entries: %v", e)
				}
			}},
		{Name: "logout with the access token", Method: post, Path: "/api/v1/auth/logout", Token: "{target_jwt}",
			Setup: func(f *fix) { f.user("target", steward.RoleUser); f.loginHTTP("target") }, Status: 200, Want: M{"logged_out": true},
			After: func(f *fix, r *apptest.Response) {
				f.expectErr(f.do(get, "/api/v1/auth/me", "{target_tok}", nil), 401, "UNAUTHENTICATED")
			}},
		{Name: "logout without a credential", Method: post, Path: "/api/v1/auth/logout", Status: 401, Want: code("UNAUTHENTICATED")},
		{Name: "me with a session token", Method: get, Path: "/api/v1/auth/me", Token: "{target_tok}",
			Setup: func(f *fix) { f.user("target", steward.RoleUser, withTenant("ten_me")); f.loginHTTP("target") }, Status: 200,
			Want: M{"id": "{target}", "email": "{target_email}", "role": "user", "tenant_id": "ten_me", "status": "active"},
			After: func(f *fix, r *apptest.Response) {
				if bytes.Contains(r.Raw, []byte("password")) {
					f.t.Errorf("me shows a password field")
				}
			}},
		{Name: "me with an access token", Method: get, Path: "/api/v1/auth/me", Token: "{target_jwt}",
			Setup: func(f *fix) { f.user("target", steward.RoleUser); f.loginHTTP("target") }, Status: 200, Want: M{"id": "{target}"}},
		{Name: "me for an operator", Method: get, Path: "/api/v1/auth/me", Token: "{root}", Status: 200, Want: M{"id": "{root_id}", "role": "super_admin"}},
		{Name: "me with an access token for a purged user", Method: get, Path: "/api/v1/auth/me", Token: "{target_jwt}",
			Setup: func(f *fix) {
				f.user("target", steward.RoleUser)
				f.loginHTTP("target")
				f.must(200, del, usersPath+"/{target}?purge=true&confirm=true", "{root}", nil)
			}, Status: 401, Want: code("UNAUTHENTICATED")},
	}
}

// --- edges: odd input that must neither crash nor confuse the stores

func edgeScenarios() []scenario {
	// Each odd term is searched for literally: whatever comes back contains it.
	var odd []scenario
	for i, q := range []string{"%", "%%%", "_", "___", `"`, `"x"`, `a"b`, "a'b", `\`, `\\%`, "AND", "a*", "NEAR(a b)", "é", "ünï", "--", "(", ")))", "^x", "col:val"} {
		odd = append(odd, scenario{Name: fmt.Sprintf("list: odd q #%d is a plain search", i), Method: get,
			Path: usersPath + "?limit=200&q=" + url.QueryEscape(q), Token: "{root}", Status: 200,
			After: func(f *fix, r *apptest.Response) {
				for _, u := range items(r) {
					hay := strings.ToLower(fmt.Sprint(u["email"], "\x00", u["username"], "\x00", u["name"]))
					if !strings.Contains(hay, strings.ToLower(q)) {
						f.t.Errorf("q=%q matched %v (%q)", q, u["id"], hay)
					}
				}
			}})
	}
	return append(odd, []scenario{
		// "at most 200 characters", as the error says: not 200 bytes.
		{Name: "list: q of 200 non-ASCII characters is accepted", Method: get, Path: usersPath + "?q=" + url.QueryEscape(strings.Repeat("é", 200)),
			Token: "{root}", Status: 200, Want: M{"data": length(0)}},
		{Name: "list: q with LIKE wildcards matches them literally", Fresh: true, Method: get, Path: usersPath + "?q=" + url.QueryEscape("100%_sure"), Token: "{root}",
			Setup: func(f *fix) {
				f.user("target", steward.RoleUser, func(in *steward.UserCreate) { in.Name = "Is 100%_sure" })
				f.user("other", steward.RoleUser, func(in *steward.UserCreate) { in.Name = "Is 100xxsure" })
			}, Status: 200, Want: M{"data": length(1), "data.0.id": "{target}"}},
		{Name: "list: cursor too long", Method: get, Path: usersPath + "?cursor=" + base64.RawURLEncoding.EncodeToString([]byte(strings.Repeat("u", 129))),
			Token: "{root}", Status: 400, Want: badRequest("cursor")},
		{Name: "audit: cursor of a non-positive seq", Method: get, Path: "/api/v1/admin/audit-log?cursor=" + base64.RawURLEncoding.EncodeToString([]byte("0")),
			Token: "{root}", Status: 400, Want: badRequest("cursor")},
		{Name: "audit: filter by tenant", Method: get, Path: "/api/v1/admin/audit-log?tenant_id=ten_audit_edge", Token: "{root}",
			Setup: func(f *fix) {
				f.user("target", steward.RoleUser, withTenant("ten_audit_edge"))
				f.user("other", steward.RoleUser)
				f.must(200, post, usersPath+"/{target}/suspend", "{root}", nil)
				f.must(200, post, usersPath+"/{other}/suspend", "{root}", nil)
			}, Status: 200,
			Want: M{"data": length(2), "data.0.action": "user.suspend", "data.0.target_id": "{target}", "data.0.tenant_id": "ten_audit_edge", "data.1.action": "user.create"}},
		{Name: "patch: a wrongly typed field is named", Method: patch, Path: usersPath + "/{target}", Token: "{root}",
			Setup: func(f *fix) { f.user("target", steward.RoleUser) },
			Body:  `{"tags": "vip"}`, Status: 400, Want: badRequest("tags")},
		{Name: "bulk: a wrongly typed id is named", Method: post, Path: usersPath + "/bulk", Token: "{root}",
			Body: `{"action":"suspend","user_ids":[1,2]}`, Status: 400, Want: badRequest("user_ids")},
		{Name: "patch: two users may both clear their username", Method: patch, Path: usersPath + "/{b}", Token: "{root}",
			Setup: func(f *fix) {
				f.user("a", steward.RoleUser)
				f.user("b", steward.RoleUser)
				f.must(200, patch, usersPath+"/{a}", "{root}", `{"username": null}`)
			}, Body: `{"username": null}`, Status: 200, Want: M{"username": ""},
			After: func(f *fix, r *apptest.Response) {
				f.must(201, post, usersPath, "{root}", M{"email": "third.without.username@example.com"})
				f.must(200, patch, usersPath+"/{a}", "{root}", M{"username": ""})
			}},
		{Name: "patch: metadata that grows past 16 KiB by merging", Method: patch, Path: usersPath + "/{target}", Token: "{root}",
			Setup: func(f *fix) {
				f.user("target", steward.RoleUser, func(in *steward.UserCreate) { in.Metadata = M{"a": strings.Repeat("a", 9<<10)} })
			}, Body: M{"metadata": M{"b": strings.Repeat("b", 9<<10)}}, Status: 422, Want: validation("metadata")},
		{Name: "unban after a ban over a suspension leaves no stale suspension", Method: post, Path: usersPath + "/{target}/unban", Token: "{root}",
			Setup: func(f *fix) {
				f.user("target", steward.RoleUser)
				f.must(200, post, usersPath+"/{target}/suspend", "{root}", M{"reason": "chargeback"})
				f.must(200, post, usersPath+"/{target}/ban", "{root}", M{"reason": "fraud"})
			}, Status: 200, Want: M{"status": "active", "ban": nil, "suspension_reason": ""}},
		{Name: "change-password of a deleted user", Method: post, Path: usersPath + "/{target}/change-password", Token: "{root}",
			Setup: func(f *fix) {
				f.user("target", steward.RoleUser)
				f.must(200, del, usersPath+"/{target}", "{root}", nil)
			},
			Body: M{"new_password": newPassword}, Status: 409, Want: code("INVALID_STATE")},
		{Name: "the console cookie is a credential on the admin surface", Method: get, Path: usersPath + "/{root_id}",
			Header: map[string]string{"Cookie": "steward_session={root}"}, Status: 200, Want: M{"id": "{root_id}"}},
		{Name: "the bearer scheme is case-insensitive", Method: get, Path: usersPath + "/{root_id}",
			Header: map[string]string{"Authorization": "bearer {root}"}, Status: 200, Want: M{"id": "{root_id}"}},
		{Name: "a cross-site write with the console cookie is refused", Method: post, Path: usersPath + "/{target}/suspend",
			Setup:  func(f *fix) { f.user("target", steward.RoleUser) },
			Header: map[string]string{"Cookie": "steward_session={root}", "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
			Status: 403, Want: code("FORBIDDEN"),
			After: func(f *fix, r *apptest.Response) {
				f.checkField(f.must(200, get, usersPath+"/{target}", "{root}", nil), "status", "active")
			}},
		{Name: "too many failed logins from one address are throttled", Fresh: true, Method: post, Path: "/api/v1/auth/login",
			Setup: func(f *fix) {
				f.user("target", steward.RoleUser)
				for i := 0; i < 20; i++ {
					f.expectErr(f.do(post, "/api/v1/auth/login", "", M{"email": fmt.Sprintf("nobody%d@example.com", i), "password": "wrong-password"}), 401, "INVALID_CREDENTIALS")
				}
			},
			Body: M{"email": "{target_email}", "password": apptest.Password}, Status: 429, Want: M{"code": "RATE_LIMITED", "retry_after": present()},
			After: func(f *fix, r *apptest.Response) {
				f.a.Clock.Advance(time.Duration(num(r, "retry_after")) * time.Second)
				f.must(200, post, "/api/v1/auth/login", "", M{"email": "{target_email}", "password": apptest.Password})
			}},
		{Name: "a successful login resets the failure count", Fresh: true, Method: post, Path: "/api/v1/auth/login",
			Setup: func(f *fix) {
				f.user("target", steward.RoleUser)
				for round := 0; round < 2; round++ {
					for i := 0; i < 9; i++ {
						f.expectErr(f.do(post, "/api/v1/auth/login", "", M{"email": "{target_email}", "password": "wrong-password"}), 401, "INVALID_CREDENTIALS")
					}
					if round == 0 {
						f.must(200, post, "/api/v1/auth/login", "", M{"email": "{target_email}", "password": apptest.Password})
					}
				}
			},
			Body: M{"email": "{target_email}", "password": apptest.Password}, Status: 200, Want: M{"user.id": "{target}"}},
		{Name: "an operator's password reset lifts a lockout", Fresh: true, Method: post, Path: usersPath + "/{target}/change-password", Token: "{root}",
			Setup: func(f *fix) {
				f.user("target", steward.RoleUser)
				for i := 0; i < 10; i++ {
					f.do(post, "/api/v1/auth/login", "", M{"email": "{target_email}", "password": "wrong-password"})
				}
				f.expectErr(f.do(post, "/api/v1/auth/login", "", M{"email": "{target_email}", "password": apptest.Password}), 429, "RATE_LIMITED")
			},
			Body: M{"new_password": newPassword}, Status: 200,
			After: func(f *fix, r *apptest.Response) {
				f.must(200, post, "/api/v1/auth/login", "", M{"email": "{target_email}", "password": newPassword})
			}},
		{Name: "audit entries record the caller's request id and user agent", Method: post, Path: usersPath + "/{target}/suspend", Token: "{root}",
			Setup:  func(f *fix) { f.user("target", steward.RoleUser) },
			Header: map[string]string{"X-Request-ID": "trace-me-123", "User-Agent": "steward-scenarios/1.0"}, Status: 200,
			After: func(f *fix, r *apptest.Response) {
				e := f.audit(f.e["target"], "user.suspend")
				if len(e) != 1 || e[0]["request_id"] != "trace-me-123" || e[0]["user_agent"] != "steward-scenarios/1.0" || e[0]["ip"] != "127.0.0.1" {
					f.t.Errorf("entry: %v", e)
				}
			}},
		{Name: "refresh records last_seen_at", Fresh: true, Method: post, Path: "/api/v1/auth/refresh",
			Setup: func(f *fix) {
				f.user("target", steward.RoleUser)
				f.loginHTTP("target")
				f.a.Clock.Advance(time.Hour)
			}, Body: M{"session_token": "{target_tok}"}, Status: 200,
			After: func(f *fix, r *apptest.Response) {
				s := f.must(200, get, usersPath+"/{target}/sessions", "{root}", nil)
				f.checkField(s, "data.0.last_seen_at", "2026-03-01T13:00:00Z")
				f.checkField(s, "data.0.created_at", "2026-03-01T12:00:00Z")
			}},
	}...)
}
