package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
	"github.com/stewardhq/steward/internal/testdb"
)

// Fuzz targets for what a client controls: JSON bodies, query strings, path
// values and the login endpoint. Each input goes to a real app on every
// backend (SQLite always, PostgreSQL when STEWARD_TEST_POSTGRES is set) and
// must not answer 5xx; an answer of ours (it carries X-Request-ID) must be
// a JSON body, never an empty one. The f.Add seeds run with every go test;
// scripts/fuzz-brief fuzzes each target for a few seconds, and
// docs/security.md gives the longer run.

// fuzzApp is one backend's app with the rows the fuzzed requests name.
type fuzzApp struct {
	name string
	a    *apptest.App
	repl *strings.Replacer
	tok  map[string]string // credential by kind: root, platform, none
}

func fuzzApps(f *testing.F) []*fuzzApp {
	f.Helper()
	var apps []*fuzzApp
	for _, b := range testdb.Backends(f) {
		a := apptest.New(f, b, withData(nil))
		x := &fuzzApp{name: b.Name, a: a}
		target := a.User(steward.RoleUser)
		a.EnsureTenant(f, "ten_fuzz")
		key := func(scopes ...string) (id, text string) {
			r := a.Do(http.MethodPost, keysPath, a.RootToken, M{"name": "fuzz", "key_type": "platform", "scopes": scopes})
			if r.Status != http.StatusCreated {
				f.Fatalf("%s: creating a key: %d %s", b.Name, r.Status, r.Raw)
			}
			return r.Get("id").(string), r.Get("key").(string)
		}
		_, platform := key("usage:write", "keys:verify", "resources:write")
		spare, _ := key("usage:write")
		spare2, _ := key("usage:write")
		a.EnsureTenant(f, "ten_fuzz2") // suspended, deleted and restored by the fuzzer, not {t}
		r := a.Do(http.MethodPost, "/api/v1/admin/webhooks", a.RootToken, M{"url": "https://hooks.example.com/fuzz", "event_types": []string{"*"}})
		if r.Status != http.StatusCreated {
			f.Fatalf("%s: creating a webhook endpoint: %d %s", b.Name, r.Status, r.Raw)
		}
		whk := r.Get("id").(string)
		if r = a.Do(http.MethodPost, "/api/v1/admin/data/orders", a.RootToken, order(1)); r.Status != http.StatusCreated {
			f.Fatalf("%s: inserting a data row: %d %s", b.Name, r.Status, r.Raw)
		}
		row := fmt.Sprint(int64(num(r, "row.id")))
		if r = a.Do(http.MethodPut, "/api/v1/platform/resources/fuzz-vm", platform, M{"kind": "computer", "tenant_id": "ten_fuzz", "status": "running"}); r.Status != http.StatusOK {
			f.Fatalf("%s: reporting a resource: %d %s", b.Name, r.Status, r.Raw)
		}
		x.repl = strings.NewReplacer("{target}", target.ID, "{t}", "ten_fuzz", "{t2}", "ten_fuzz2",
			"{spare}", spare, "{spare2}", spare2, "{root_id}", a.Root.ID, "{whk}", whk, "{row}", row)
		x.tok = map[string]string{"root": a.RootToken, "platform": platform, "none": ""}
		apps = append(apps, x)
	}
	return apps
}

// do sends one fuzzed request and fails on a 5xx or a body of ours that is
// not JSON.
func (x *fuzzApp) do(t *testing.T, method, path, rawQuery, cred string, body []byte) {
	t.Helper()
	req, err := http.NewRequest(method, x.a.Server.URL+x.repl.Replace(path), nil)
	if err != nil {
		return // not a request a client could send
	}
	req.URL.RawQuery = rawQuery
	if body != nil {
		req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		req.Header.Set("Content-Type", "application/json")
	}
	if tok := x.tok[cred]; tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := x.a.Server.Client().Do(req)
	if err != nil {
		return // refused by the client (a malformed URL), never sent
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s: %s %s?%q: reading the answer: %v", x.name, method, path, rawQuery, err)
	}
	if resp.StatusCode >= 500 {
		t.Fatalf("%s: %s %s?%q answered %d: %s", x.name, method, path, rawQuery, resp.StatusCode, raw)
	}
	if resp.Header.Get("X-Request-ID") == "" {
		return // net/http's own answer to an unparsable request line
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") && !json.Valid(raw) {
		t.Fatalf("%s: %s %s?%q answered %d with a body that is not JSON: %q", x.name, method, path, rawQuery, resp.StatusCode, raw)
	}
	if resp.StatusCode >= 400 && !json.Valid(raw) {
		t.Fatalf("%s: %s %s?%q answered %d without a JSON error body: %q", x.name, method, path, rawQuery, resp.StatusCode, raw)
	}
}

// jsonEndpoints are the endpoints that decode a JSON body, with a valid
// body for each as the first seed.
var jsonEndpoints = []struct {
	method, path, cred, seed string
}{
	{http.MethodPost, "/api/v1/auth/login", "none", `{"email":"root@example.com","password":"wrong-password"}`},
	{http.MethodPost, "/api/v1/auth/refresh", "none", `{"session_token":"stw_s_x"}`},
	{http.MethodPost, usersPath, "root", `{"email":"f@x.test","name":"F","password":"long-enough-pw","metadata":{"a":[1,"b"]},"tags":["t"]}`},
	{http.MethodPatch, usersPath + "/{target}", "root", `{"name":"N","metadata":{"k":"v"},"tenant_id":null}`},
	{http.MethodPost, usersPath + "/{target}/suspend", "root", `{"reason":"r"}`},
	{http.MethodPost, usersPath + "/{target}/unsuspend", "root", `{}`},
	{http.MethodPost, usersPath + "/{target}/ban", "root", `{"reason":"r","expires_at":"2030-01-01T00:00:00Z"}`},
	{http.MethodPost, usersPath + "/{target}/unban", "root", `{}`},
	{http.MethodPost, usersPath + "/{target}/role", "root", `{"role":"support"}`},
	{http.MethodPost, usersPath + "/{target}/change-password", "root", `{"new_password":"another-long-pw"}`},
	{http.MethodDelete, usersPath + "/{target}", "root", `{"reason":"r"}`},
	{http.MethodPost, usersPath + "/{target}/restore", "root", `{}`},
	{http.MethodPost, usersPath + "/bulk", "root", `{"user_ids":["{target}"],"action":"tag","params":{"tags":["x"]}}`},
	{http.MethodPost, keysPath, "root", `{"name":"k","key_type":"platform","scopes":["usage:write"],"expires_at":"2030-01-01T00:00:00Z","allowed_ips":["10.0.0.0/8"]}`},
	{http.MethodPatch, keysPath + "/{spare}", "root", `{"name":"n","rate_limit_rpm":5}`},
	{http.MethodPost, keysPath + "/{spare}/rotate", "root", `{"grace_period_seconds":60}`},
	{http.MethodPost, keysPath + "/bulk-revoke", "root", `{"key_ids":["key_00000000000000000000000000"]}`},
	{http.MethodPost, "/api/v1/platform/keys/verify", "platform", `{"key":"stw_p_x","ip":"10.0.0.1","scope":"usage:write"}`},
	{http.MethodPost, tenantsPath, "root", `{"name":"T","slug":"t-x","plan":"pro","features":{"sso":true},"notes":"n","limits":{"max_users":5}}`},
	{http.MethodPatch, tenantsPath + "/{t}", "root", `{"notes":"n","features":{"sso":null},"spending":{"daily_cap":10}}`},
	{http.MethodPost, tenantsPath + "/{t}/plan", "root", `{"plan":"pro","prorate":true}`},
	{http.MethodPost, creditsPath + "/grant", "root", `{"tenant_id":"{t}","amount":10,"description":"d","expires_at":"2030-01-01T00:00:00Z"}`},
	{http.MethodPost, creditsPath + "/deduct", "root", `{"tenant_id":"{t}","amount":1,"description":"d"}`},
	{http.MethodPost, creditsPath + "/refund", "root", `{"tenant_id":"{t}","amount":1,"description":"d"}`},
	{http.MethodPost, creditsPath + "/adjust", "root", `{"tenant_id":"{t}","amount":-1,"description":"d","reason":"r"}`},
	{http.MethodPost, usagePath, "platform", `{"events":[{"id":"e1","tenant_id":"{t}","metric":"m","quantity":1,"credits":1,"occurred_at":"2026-03-01T11:00:00Z"}]}`},
	{http.MethodPost, usersPath + "/{target}/force-logout", "root", `{}`},
	{http.MethodDelete, keysPath + "/{spare2}", "root", `{"reason":"r"}`},
	{http.MethodPost, tenantsPath + "/{t2}/suspend", "root", `{"reason":"r"}`},
	{http.MethodPost, tenantsPath + "/{t2}/unsuspend", "root", `{}`},
	{http.MethodDelete, tenantsPath + "/{t2}", "root", `{"reason":"r"}`},
	{http.MethodPost, tenantsPath + "/{t2}/restore", "root", `{}`},
	{http.MethodPut, "/api/v1/admin/config", "root", `{"features":{"sso":true},"quotas":{"max_users":100},"spending":{"daily_cap":null}}`},
	{http.MethodPut, tenantsPath + "/{t}/features", "root", `{"sso":true,"audit_log_days":null}`},
	{http.MethodPut, usersPath + "/{target}/features", "root", `{"priority_support":true}`},
	{http.MethodPut, usersPath + "/{target}/spending", "root", `{"monthly_cap":100,"daily_cap":null}`},
	{http.MethodPut, "/api/v1/admin/retention", "root", `{"sessions":30,"usage_events":"never"}`},
	{http.MethodPost, "/api/v1/admin/webhooks", "root", `{"url":"https://hooks.example.com/h","event_types":["user.*"],"tenant_id":"{t}","description":"d"}`},
	{http.MethodPatch, "/api/v1/admin/webhooks/{whk}", "root", `{"event_types":["*"],"enabled":true,"description":"d"}`},
	{http.MethodPost, "/api/v1/admin/webhooks/{whk}/replay", "root", `{"since":"2026-01-01T00:00:00Z"}`},
	{http.MethodPut, "/api/v1/platform/resources/fuzz-vm", "platform", `{"kind":"computer","tenant_id":"{t}","status":"running","name":"n","metadata":{"a":1}}`},
	{http.MethodPost, "/api/v1/admin/computers/fuzz-vm/restart", "root", `{}`},
	{http.MethodPost, "/api/v1/admin/computers/purge-stale", "root", `{"older_than":"720h"}`},
	{http.MethodPost, "/api/v1/admin/optimal/models/switch", "root", `{"model_id":"large-2"}`},
	{http.MethodPost, "/api/v1/admin/data/orders", "root", `{"email":"fz@example.com","total":"1.50","ratio":0.5,"paid":true,"created_at":"2026-01-01T00:00:00Z","ship_on":"2026-02-01","ref":"00000000-0000-4000-8000-000000000001","meta":{"a":[1]},"doc":"aGk=","small":3,"qty":1}`},
	{http.MethodPatch, "/api/v1/admin/data/orders/{row}", "root", `{"note":"n","total":"2.25","paid":false,"meta":null,"small":-3}`},
}

// FuzzJSONBodies sends fuzzed bodies to every endpoint that decodes one.
func FuzzJSONBodies(f *testing.F) {
	// A valid body per endpoint, and each kind of bad input once: the
	// fuzzer moves them between endpoints. Few seeds keep the brief run's
	// baseline short.
	for i, e := range jsonEndpoints {
		f.Add(uint8(i), []byte(e.seed))
	}
	for _, b := range []string{
		`{"email":"root@example.com\u0000","password":"x"}`,
		"{\"name\":\"\xff\",\"reason\":\"\xc3\"}",
		`{"reason":"r","expires_at":"9999-12-31T23:00:00-05:00"}`,
		`{"email":"f2@x.test","password":"long-enough-pw","metadata":` + nested(40) + `}`,
		`{"metadata":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}`,
		`{"email":1e999,"password":[],"amount":1.5,"tags":{"a":null}}`,
		`{"events":[{"id":"e2","tenant_id":"{t}","metric":"m","quantity":1e30,"occurred_at":"0000-01-01T00:00:00Z"}]}`,
	} {
		f.Add(uint8(0), []byte(b))
	}
	apps := fuzzApps(f)
	f.Fuzz(func(t *testing.T, n uint8, body []byte) {
		e := jsonEndpoints[int(n)%len(jsonEndpoints)]
		for _, x := range apps {
			x.do(t, e.method, e.path, "", e.cred, []byte(x.repl.Replace(string(body))))
		}
	})
}

// queryEndpoints are the endpoints that read query parameters.
var queryEndpoints = []string{
	usersPath, "/api/v1/admin/admins", tenantsPath, keysPath, keysPath + "/stats", "/api/v1/admin/sessions",
	"/api/v1/admin/audit-log", "/api/v1/admin/audit-log/export", creditsPath + "/{t}/history", "/api/v1/admin/usage",
	usersPath + "/{target}/api-keys", usersPath + "/{target}/sessions", usersPath + "/{target}/audit-log",
	tenantsPath + "/{t}/plan-changes", "/api/v1/admin/computers", "/api/v1/admin/webhooks",
	"/api/v1/admin/webhooks/{whk}/deliveries", "/api/v1/admin/data/orders", "/api/v1/admin/data/orders/export",
}

// FuzzQuery sends fuzzed query strings to every endpoint that reads one.
func FuzzQuery(f *testing.F) {
	// Every query shape once, spread over the endpoints; the fuzzer moves
	// them between endpoints.
	for i, q := range []string{
		"limit=2&include_total=true", "q=ada&status=active&role=user&tenant_id=ten_fuzz&tag=vip", "q=%00", "q=%FF",
		"q=%22%27*%28%29%5C", "status=%01", "cursor=%00", "cursor=zzzz", "limit=-1", "limit=99999999999999999999",
		"since=9999-12-31T23:00:00-05:00", "until=0001-01-01T00:00:00Z", "since=2026-01-01T00:00:00Z&until=2026-02-01T00:00:00Z",
		"period=custom&start=0001-01-01T00:00:00Z&end=9999-12-31T23:59:59Z", "period=month&group_by=model",
		"kind=grant", "format=csv", "type=admin&status=revoked", "a=1;b=2", "%zz", "q=a+b&q=c",
		"filter[email][contains]=%25_%5C&sort=-note", "filter[id][in]=1,x&filter[created_at][gte]=2026-01-01T00:00:00Z",
		"filter[%22][eq]=1&sort=-", "filter[note][is_null]=true&q=%27%3B",
	} {
		f.Add(uint8(i), q)
	}
	for i := range queryEndpoints {
		f.Add(uint8(i), "limit=1")
	}
	apps := fuzzApps(f)
	f.Fuzz(func(t *testing.T, n uint8, rawQuery string) {
		p := queryEndpoints[int(n)%len(queryEndpoints)]
		for _, x := range apps {
			x.do(t, http.MethodGet, p, rawQuery, "root", nil)
		}
	})
}

// pathEndpoints take an id or slug in the path; the fuzzed value replaces it.
var pathEndpoints = []struct{ method, path string }{
	{http.MethodGet, usersPath + "/%s"}, {http.MethodGet, usersPath + "/%s/api-keys"},
	{http.MethodPost, usersPath + "/%s/unsuspend"}, {http.MethodGet, tenantsPath + "/%s"},
	{http.MethodGet, tenantsPath + "/%s/detail"}, {http.MethodGet, creditsPath + "/%s/balance"},
	{http.MethodGet, creditsPath + "/%s/history"}, {http.MethodGet, keysPath + "/%s"},
	{http.MethodDelete, "/api/v1/admin/sessions/%s"}, {http.MethodGet, "/api/v1/admin/computers/%s"},
	{http.MethodPost, "/api/v1/admin/computers/%s/suspend"}, {http.MethodGet, "/api/v1/admin/webhooks/%s"},
	{http.MethodPost, "/api/v1/admin/webhooks/%s/rotate-secret"}, {http.MethodGet, tenantsPath + "/%s/features"},
	{http.MethodGet, "/api/v1/admin/data/orders/%s"}, {http.MethodGet, "/api/v1/admin/data/line_items/%s"},
	{http.MethodDelete, "/api/v1/admin/data/orders/%s"},
}

// FuzzPathValue sends fuzzed ids and slugs in the path.
func FuzzPathValue(f *testing.F) {
	for i, v := range []string{"usr_00000000000000000000000000", "ten_fuzz", "ten-fuzz", "\x00", "a b", "\xff", "é", "..", "%", strings.Repeat("a", 300)} {
		f.Add(uint8(i), v)
	}
	apps := fuzzApps(f)
	f.Fuzz(func(t *testing.T, n uint8, v string) {
		e := pathEndpoints[int(n)%len(pathEndpoints)]
		if v == "" {
			return // an empty segment is another route
		}
		for _, x := range apps {
			var body []byte
			if e.method == http.MethodPost {
				body = []byte(`{}`)
			}
			x.do(t, e.method, fmt.Sprintf(e.path, url.PathEscape(v)), "", "root", body)
		}
	})
}

// FuzzLogin logs in with fuzzed email, username and password, written into
// the body byte for byte (bad UTF-8 included). The clock moves an hour per
// input, so the failed-login throttles never stop the fuzzing at 429.
func FuzzLogin(f *testing.F) {
	for _, s := range [][3]string{
		{"root@example.com", "", apptest.Password}, {"root@example.com", "", "wrong-password"},
		{"root@example.com\x00", "", "x"}, {"", "root", "x"}, {"", "\x00", "x"}, {"\xff@x.test", "", "x"},
		{"ROOT@EXAMPLE.COM ", "", apptest.Password}, {"root@example.com\u200b", "", "x"}, {"a@b", "c", ""},
		{strings.Repeat("a", 2000) + "@x.test", "", "x"}, {"root@example.com", "", strings.Repeat("p", 5000)},
	} {
		f.Add(s[0], s[1], s[2])
	}
	apps := fuzzApps(f)
	f.Fuzz(func(t *testing.T, email, username, password string) {
		body := `{"email":"` + jsonText(email) + `","username":"` + jsonText(username) + `","password":"` + jsonText(password) + `"}`
		for _, x := range apps {
			x.a.Clock.Advance(time.Hour)
			x.do(t, http.MethodPost, "/api/v1/auth/login", "", "none", []byte(body))
		}
	})
}

// jsonText escapes s for a JSON string, leaving invalid UTF-8 bytes as they
// are so that the server sees them.
func jsonText(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20:
			fmt.Fprintf(&b, `\u%04x`, c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
