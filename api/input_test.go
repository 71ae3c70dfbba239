package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
	"github.com/stewardhq/steward/store"
)

// The input rules of issue 9 items 2, 3 and 5, as a class: every time field
// in range, no NUL or C0 control in any text field, bounded stored JSON,
// junk path ids 404 before any query; each answered on both stores.

const farFuture = "9999-12-31T23:00:00-05:00" // 10000-01-01T04:00:00Z

// inputCase is one request that breaks an input rule: it must answer
// status, naming field in details.fields (422) when field is set.
type inputCase struct {
	name         string
	method, path string
	token        string // "" is root
	body         string // raw; may hold invalid UTF-8
	status       int
	field        string
}

func inputCases() []inputCase {
	v := func(name, method, path, body, field string) inputCase {
		return inputCase{name: name, method: method, path: path, body: body, status: 422, field: field}
	}
	notFound := func(method, path string) inputCase {
		return inputCase{name: method + " " + path, method: method, path: path, status: 404}
	}
	const keyBody = `"name":"k","key_type":"platform","scopes":["usage:write"]`
	return []inputCase{
		// Times in bodies, after zone conversion, and before 1970.
		v("key expires_at past 9999", post, keysPath, `{`+keyBody+`,"expires_at":"`+farFuture+`"}`, "expires_at"),
		v("key expires_at before 1970", post, keysPath, `{`+keyBody+`,"expires_at":"1969-12-31T23:59:59Z"}`, "expires_at"),
		v("ban expires_at past 9999", post, usersPath+"/{target}/ban", `{"reason":"r","expires_at":"`+farFuture+`"}`, "expires_at"),
		v("grant expires_at past 9999", post, creditsPath+"/grant", `{"tenant_id":"{t}","amount":1,"description":"d","expires_at":"`+farFuture+`"}`, "expires_at"),
		v("adjust expires_at past 9999", post, creditsPath+"/adjust", `{"tenant_id":"{t}","amount":1,"description":"d","reason":"r","expires_at":"`+farFuture+`"}`, "expires_at"),
		{name: "usage occurred_at past 9999", method: post, path: usagePath, token: "{up_key}", status: 422, field: "events[0].occurred_at",
			body: `{"events":[{"id":"e1","tenant_id":"{t}","metric":"m","quantity":1,"occurred_at":"` + farFuture + `"}]}`},
		{name: "usage occurred_at year 0", method: post, path: usagePath, token: "{up_key}", status: 422, field: "events[0].occurred_at",
			body: `{"events":[{"id":"e1","tenant_id":"{t}","metric":"m","quantity":1,"occurred_at":"0000-01-01T00:00:00Z"}]}`},
		// Times in query strings.
		v("audit since past 9999", get, "/api/v1/admin/audit-log?since=9999-12-31T23:00:00-05:00", "", "since"),
		v("audit until year 1", get, "/api/v1/admin/audit-log?until=0001-01-01T00:00:00Z", "", "until"),
		v("export since past 9999", get, "/api/v1/admin/audit-log/export?since=9999-12-31T23:00:00-05:00", "", "since"),
		v("history since past 9999", get, creditsPath+"/{t}/history?since=9999-12-31T23:00:00-05:00", "", "since"),
		v("usage start year 1", get, "/api/v1/admin/usage?period=custom&start=0001-01-01T00:00:00Z&end=2026-01-01T00:00:00Z", "", "start"),

		// NUL, C0 and invalid UTF-8 in every class of body text.
		v("user email NUL", post, usersPath, `{"email":"a\u0000@x.test","password":"long-enough-pw"}`, "email"),
		v("user name BEL", post, usersPath, `{"email":"bel@x.test","name":"a\u0007b","password":"long-enough-pw"}`, "name"),
		v("user name tab (not free text)", post, usersPath, `{"email":"tab@x.test","name":"a\tb","password":"long-enough-pw"}`, "name"),
		v("user name invalid UTF-8", post, usersPath, "{\"email\":\"utf@x.test\",\"name\":\"a\xffb\",\"password\":\"long-enough-pw\"}", "name"),
		v("user username NUL", post, usersPath, `{"email":"un@x.test","username":"a\u0000","password":"long-enough-pw"}`, "username"),
		v("user tag NUL", post, usersPath, `{"email":"tag@x.test","tags":["ok","a\u0000"],"password":"long-enough-pw"}`, "tags[1]"),
		v("user metadata key NUL", post, usersPath, `{"email":"mk@x.test","metadata":{"a\u0000":1},"password":"long-enough-pw"}`, "metadata"),
		v("user metadata nested value NUL", post, usersPath, `{"email":"mv@x.test","metadata":{"a":[{"b":"c\u0000"}]},"password":"long-enough-pw"}`, "metadata"),
		v("user metadata invalid UTF-8", post, usersPath, "{\"email\":\"mu@x.test\",\"metadata\":{\"a\":\"\xc3\"},\"password\":\"long-enough-pw\"}", "metadata.a"),
		v("user password NUL", post, usersPath, `{"email":"pw@x.test","password":"long-enough\u0000"}`, "password"),
		v("user patch name NUL", patch, usersPath+"/{target}", `{"name":"x\u0000"}`, "name"),
		v("user patch metadata C0", patch, usersPath+"/{target}", `{"metadata":{"k":"\u0001"}}`, "metadata"),
		v("user patch tenant_id NUL", patch, usersPath+"/{target}", `{"tenant_id":"ten_\u0000"}`, "tenant_id"),
		v("ban reason NUL", post, usersPath+"/{target}/ban", `{"reason":"r\u0000"}`, "reason"),
		v("ban reason CR", post, usersPath+"/{target}/ban", `{"reason":"r\r\n"}`, "reason"),
		v("suspend reason NUL", post, usersPath+"/{target}/suspend", `{"reason":"\u0000"}`, "reason"),
		v("delete reason NUL", del, usersPath+"/{target}", `{"reason":"\u0000"}`, "reason"),
		v("change-password NUL", post, usersPath+"/{target}/change-password", `{"new_password":"long-enough\u0000"}`, "new_password"),
		v("role NUL", post, usersPath+"/{target}/role", `{"role":"user\u0000"}`, "role"),
		v("bulk user_ids NUL", post, usersPath+"/bulk", `{"user_ids":["usr_\u0000"],"action":"suspend"}`, "user_ids[0]"),
		v("bulk params NUL", post, usersPath+"/bulk", `{"user_ids":["{target}"],"action":"notify","params":{"subject":"s","message":"\u0000"}}`, "params"),
		v("tenant name NUL", post, tenantsPath, `{"name":"T\u0000"}`, "name"),
		v("tenant slug NUL", post, tenantsPath, `{"name":"T","slug":"a\u0000"}`, "slug"),
		v("tenant notes NUL", post, tenantsPath, `{"name":"T","notes":"\u0000"}`, "notes"),
		v("tenant features key NUL", post, tenantsPath, `{"name":"T","features":{"a\u0000":true}}`, "features"),
		v("tenant patch notes NUL", patch, tenantsPath+"/{t}", `{"notes":"n\u0000"}`, "notes"),
		v("tenant patch features value NUL", patch, tenantsPath+"/{t}", `{"features":{"sso":"\u0000"}}`, "features"),
		v("tenant plan NUL", post, tenantsPath+"/{t}/plan", `{"plan":"pro\u0000"}`, "plan"),
		v("key name NUL", post, keysPath, `{"name":"k\u0000","key_type":"platform","scopes":["usage:write"]}`, "name"),
		v("key scope NUL", post, keysPath, `{"name":"k","key_type":"platform","scopes":["usage:write\u0000"]}`, "scopes[0]"),
		v("key allowed_ips NUL", post, keysPath, `{`+keyBody+`,"allowed_ips":["10.0.0.1\u0000"]}`, "allowed_ips[0]"),
		v("key purpose C0", post, keysPath, `{`+keyBody+`,"purpose":"\u001f"}`, "purpose"),
		v("key patch name NUL", patch, keysPath+"/{up}", `{"name":"\u0000"}`, "name"),
		v("bulk-revoke key_ids NUL", post, keysPath+"/bulk-revoke", `{"key_ids":["key_\u0000"]}`, "key_ids[0]"),
		v("grant description NUL", post, creditsPath+"/grant", `{"tenant_id":"{t}","amount":1,"description":"d\u0000"}`, "description"),
		v("grant tenant_id NUL", post, creditsPath+"/grant", `{"tenant_id":"\u0000","amount":1,"description":"d"}`, "tenant_id"),
		v("deduct description C0", post, creditsPath+"/deduct", `{"tenant_id":"{t}","amount":1,"description":"\u0008"}`, "description"),
		v("refund transaction_id NUL", post, creditsPath+"/refund", `{"tenant_id":"{t}","amount":1,"description":"d","transaction_id":"txn_\u0000"}`, "transaction_id"),
		{name: "usage tenant_id NUL", method: post, path: usagePath, token: "{up_key}", status: 422, field: "events[0].tenant_id",
			body: `{"events":[{"id":"e1","tenant_id":"ten_\u0000","metric":"m","quantity":1,"occurred_at":"2026-03-01T11:00:00Z"}]}`},
		{name: "login email NUL", method: post, path: "/api/v1/auth/login", token: "-", status: 422, field: "email",
			body: `{"email":"root@example.com\u0000","password":"whatever-it-is"}`},
		{name: "login username NUL", method: post, path: "/api/v1/auth/login", token: "-", status: 422, field: "username",
			body: `{"username":"\u0000","password":"whatever-it-is"}`},
		{name: "login email invalid UTF-8", method: post, path: "/api/v1/auth/login", token: "-", status: 422, field: "email",
			body: "{\"email\":\"\xfe@x.test\",\"password\":\"whatever-it-is\"}"},
		{name: "refresh token NUL", method: post, path: "/api/v1/auth/refresh", token: "-", status: 422, field: "session_token",
			body: `{"session_token":"stw_s_\u0000"}`},

		// Query strings: every parameter, before the handler runs.
		v("users q NUL", get, usersPath+"?q=%00", "", "q"),
		v("users q invalid UTF-8", get, usersPath+"?q=%FF", "", "q"),
		v("users q newline (not free text)", get, usersPath+"?q=a%0Ab", "", "q"),
		v("users status C0", get, usersPath+"?status=%01", "", "status"),
		v("users tenant_id NUL", get, usersPath+"?tenant_id=ten_%00", "", "tenant_id"),
		v("users tag NUL", get, usersPath+"?tag=%00", "", "tag"),
		v("tenants q NUL", get, tenantsPath+"?q=%00", "", "q"),
		v("tenants plan NUL", get, tenantsPath+"?plan=%00", "", "plan"),
		v("keys tenant_id NUL", get, keysPath+"?tenant_id=%00", "", "tenant_id"),
		v("sessions user_id NUL", get, "/api/v1/admin/sessions?user_id=%00", "", "user_id"),
		v("audit action NUL", get, "/api/v1/admin/audit-log?action=%00", "", "action"),
		v("audit actor_id invalid UTF-8", get, "/api/v1/admin/audit-log?actor_id=%C3", "", "actor_id"),
		v("history kind NUL", get, creditsPath+"/{t}/history?kind=%00", "", "kind"),
		v("cursor NUL", get, usersPath+"?cursor=%00", "", "cursor"),
		// A cursor is base64url of a row key: one that decodes to invalid
		// UTF-8 is malformed (it was a 500 on PostgreSQL).
		{name: "cursor decoding to invalid UTF-8", method: get, path: usersPath + "?cursor=zzzz", status: 400, field: "cursor"},
		{name: "seq cursor decoding to invalid UTF-8", method: get, path: creditsPath + "/{t}/history?cursor=zzzz", status: 400, field: "cursor"},
		v("delete reason in the query NUL", del, usersPath+"/{target}?reason=%00", "", "reason"),

		// Path values that cannot be an id or a slug: 404 before any query.
		notFound(get, usersPath+"/%00"),
		notFound(get, usersPath+"/usr_%01"),
		notFound(get, usersPath+"/%FF"),
		notFound(get, usersPath+"/a%20b"),
		notFound(post, usersPath+"/%00/ban"),
		notFound(get, usersPath+"/%00/api-keys"),
		notFound(get, tenantsPath+"/%00"),
		notFound(get, tenantsPath+"/t%00/detail"),
		notFound(get, creditsPath+"/%00/balance"),
		notFound(get, creditsPath+"/%C3%28/history"),
		notFound(get, keysPath+"/key_%00"),
		notFound(del, "/api/v1/admin/sessions/%00"),

		// Stored JSON bounded by depth and size.
		v("metadata 33 levels deep", post, usersPath, `{"email":"d33@x.test","password":"long-enough-pw","metadata":`+nested(33)+`}`, "metadata"),
		v("metadata 8000 levels deep", post, usersPath, `{"email":"d8k@x.test","password":"long-enough-pw","metadata":`+nested(8000)+`}`, "metadata"),
		v("metadata over 16 KiB", post, usersPath, `{"email":"big@x.test","password":"long-enough-pw","metadata":{"a":"`+strings.Repeat("x", 16<<10)+`"}}`, "metadata"),
		v("bulk params over 16 KiB", post, usersPath+"/bulk", `{"user_ids":["{target}"],"action":"notify","params":{"subject":"s","message":"`+strings.Repeat("x", 16<<10)+`"}}`, "params"),
		v("patch metadata 33 levels deep", patch, usersPath+"/{target}", `{"metadata":`+nested(33)+`}`, "metadata"),
		v("tenant features 33 levels deep", post, tenantsPath, `{"name":"T","features":{"x":`+nested(32)+`}}`, "features"),
		v("bulk params 33 levels deep", post, usersPath+"/bulk", `{"user_ids":["{target}"],"action":"tag","params":`+nested(33)+`}`, "params"),
	}
}

// nested is a JSON object n levels deep: {"a":{"a":…{}…}}.
func nested(n int) string {
	return strings.Repeat(`{"a":`, n-1) + "{}" + strings.Repeat("}", n-1)
}

func inputSetup(f *fix) {
	f.user("target", steward.RoleUser)
	f.tenant("t", nil)
	f.key("up", "{root}", M{"name": "usage", "key_type": "platform", "scopes": []string{"usage:write"}})
}

func TestInputRules(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		f := newFix(t, a)
		inputSetup(f)
		for _, c := range inputCases() {
			t.Run(c.name, func(t *testing.T) {
				f := &fix{t: t, a: a, e: f.e}
				tok := c.token
				switch tok {
				case "":
					tok = "{root}"
				case "-":
					tok = ""
				}
				var body any
				if c.body != "" {
					body = c.body
				}
				r := f.do(c.method, c.path, tok, body)
				if r.Status != c.status {
					t.Fatalf("status %d, want %d; body: %s", r.Status, c.status, r.Raw)
				}
				if c.status == 404 && r.Get("code") != steward.CodeNotFound {
					t.Errorf("code %v, want NOT_FOUND: %s", r.Get("code"), r.Raw)
				}
				if c.field != "" {
					if c.status == 422 && r.Get("code") != steward.CodeValidation {
						t.Errorf("code %v, want VALIDATION_FAILED: %s", r.Get("code"), r.Raw)
					}
					if fields, _ := r.Get("details.fields").(map[string]any); fields[c.field] == nil {
						t.Errorf("details.fields does not name %s: %s", c.field, r.Raw)
					}
				}
			})
		}
		// Nothing above was stored: every list still answers a JSON page.
		for _, p := range []string{keysPath, usersPath, tenantsPath, "/api/v1/admin/audit-log"} {
			r := f.must(200, get, p, "{root}", nil)
			if _, ok := r.Body["data"].([]any); !ok {
				t.Errorf("GET %s: not a page: %s", p, r.Raw)
			}
		}
	})
}

// TestInputRulesAccept: what the rules allow still works, at the edges.
func TestInputRulesAccept(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		f := newFix(t, a)
		inputSetup(f)
		// The last second of year 9999 is in range, and reads back.
		r := f.must(201, post, keysPath, "{root}", M{"name": "edge", "key_type": "platform", "scopes": []string{"usage:write"},
			"expires_at": "9999-12-31T23:59:59Z"})
		f.e["edge"] = str(r, "id")
		f.checkField(f.must(200, get, keysPath+"/{edge}", "{root}", nil), "expires_at", "9999-12-31T23:59:59Z")
		f.must(200, get, keysPath, "{root}", nil)
		f.must(200, get, "/api/v1/admin/audit-log?since=1970-01-01T00:00:00Z&until=9999-12-31T23:59:59Z", "{root}", nil)
		f.must(201, post, creditsPath+"/grant", "{root}", M{"tenant_id": "{t}", "amount": 5, "description": "tab\tand\nnewline",
			"expires_at": "9999-12-31T18:59:59-05:00"})
		// Free text keeps tab and newline; metadata 32 levels deep is fine.
		f.must(201, post, usersPath, "{root}", M{"email": "deep32@x.test", "password": "long-enough-pw",
			"metadata": json.RawMessage(nested(32))})
		f.must(200, post, usersPath+"/{target}/suspend", "{root}", M{"reason": "line one\nline\ttwo"})
		// Non-ASCII text is not a control character.
		f.must(201, post, tenantsPath, "{root}", M{"name": "Zürich 株式会社", "notes": "é\n"})
		// A slug names a tenant in the path.
		f.must(200, get, tenantsPath+"/{t_slug}", "{root}", nil)
	})
}

// TestAnswerEncodingFailure: a stored value JSON cannot encode (a key that
// expires in year 10000, stored before the input rules existed) makes the
// list a 500 INTERNAL with the flat error body, not an empty 200.
func TestAnswerEncodingFailure(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		f := newFix(t, a)
		f.key("bad", "{root}", M{"name": "bad", "key_type": "platform", "scopes": []string{"usage:write"}})
		far := time.Date(10000, 1, 1, 4, 0, 0, 0, time.UTC)
		ctx := context.Background()
		f.ok(a.Store.Update(ctx, func(tx store.Tx) error {
			k, err := tx.GetAPIKey(ctx, f.e["bad"])
			if err != nil {
				return err
			}
			k.ExpiresAt = &far
			return tx.UpdateAPIKey(ctx, k)
		}))
		r := f.do(get, keysPath, "{root}", nil)
		if r.Status != http.StatusInternalServerError || r.Get("code") != steward.CodeInternal || r.Get("request_id") == "" {
			t.Fatalf("got %d %s, want 500 INTERNAL with a request id", r.Status, r.Raw)
		}
	})
}

// TestUserAgentStored: a User-Agent with bytes that are not UTF-8, or one
// long enough to be cut inside a character, is stored valid (it was a 500
// on PostgreSQL at login, where the session keeps it).
func TestUserAgentStored(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		f := newFix(t, a)
		f.user("ua", steward.RoleUser)
		for _, ua := range []string{"agent\xff\xfe", "x" + strings.Repeat("é", 400)} {
			r := f.do(post, "/api/v1/auth/login", "", M{"email": "{ua_email}", "password": apptest.Password},
				map[string]string{"User-Agent": ua})
			if r.Status != http.StatusOK {
				t.Fatalf("login with User-Agent %.20q: %d %s", ua, r.Status, r.Raw)
			}
			p, err := a.Svc.Auth.Authenticate(context.Background(), str(r, "session_token"))
			f.ok(err)
			if got := p.Session.UserAgent; !utf8.ValidString(got) || len(got) > 512 {
				t.Errorf("stored user agent %q is not valid UTF-8 of at most 512 bytes", got)
			}
		}
	})
}
