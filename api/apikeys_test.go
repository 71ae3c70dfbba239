package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
	"github.com/stewardhq/steward/store"
)

// API-key scenarios: every key endpoint, keys as credentials on the admin
// surface, Idempotency-Key, and every verification code of the platform
// surface, over HTTP on every backend. They use the scenario harness of
// scenarios_test.go.

const (
	keysPath   = "/api/v1/admin/api-keys"
	verifyPath = "/api/v1/platform/keys/verify"
	unknownKey = "key_00000000000000000000000000"
)

var keyTextRe = regexp.MustCompile(`^stw_[uap]_[0-9A-Za-z]{43}$`)

// startUnix is the fake clock's start as Unix seconds: the shared app's
// clock never moves, so rate-limit resets are known in advance.
var startUnix = apptest.Start.Unix()

// key mints a key over HTTP as token: {name} is its id, {name_key} its text.
func (f *fix) key(name, token string, body M) *apptest.Response {
	f.t.Helper()
	r := f.must(201, post, keysPath, token, body)
	f.e[name], f.e[name+"_key"] = str(r, "id"), str(r, "key")
	if !keyTextRe.MatchString(f.e[name+"_key"]) {
		f.t.Fatalf("created key text %q does not match %s", f.e[name+"_key"], keyTextRe)
	}
	return r
}

// userKey makes an end user {owner} (unless it exists) and root mints a user
// key {name} for it.
func (f *fix) userKey(name, owner string, body M) *apptest.Response {
	f.t.Helper()
	if _, ok := f.e[owner]; !ok {
		f.user(owner, steward.RoleUser)
	}
	b := M{"name": name, "key_type": "user", "user_id": "{" + owner + "}"}
	for k, v := range body {
		b[k] = v
	}
	return f.key(name, "{root}", b)
}

// verifier mints {pk_key}: root's platform key holding keys:verify.
func (f *fix) verifier() {
	f.t.Helper()
	f.key("pk", "{root}", M{"name": "verifier", "key_type": "platform", "scopes": []string{"keys:verify"}})
}

// verify checks key text through the platform surface with {pk_key}.
func (f *fix) verify(body M) *apptest.Response {
	f.t.Helper()
	return f.must(200, post, verifyPath, "{pk_key}", body)
}

// verdict is the whole answer of a verification, compared field by field
// with nothing left over.
func verdict(valid bool, code, keyID, typ, user, tenant string, scopes []string, limit, remaining int, reset int64) M {
	if scopes == nil {
		scopes = []string{}
	}
	return M{"valid": valid, "code": code, "key_id": keyID, "key_type": typ, "user_id": user, "tenant_id": tenant,
		"scopes": scopes, "ratelimit": M{"limit": limit, "remaining": remaining, "reset": reset}}
}

// notFoundVerdict is the answer for text that is no key at all.
var notFoundVerdict = verdict(false, steward.VerifyNotFound, "", "", "", "", nil, 0, 0, 0)

// checkVerdict compares a verification answer with want as a whole.
func (f *fix) checkVerdict(r *apptest.Response, want M) {
	f.t.Helper()
	f.checkField(r, "", want)
}

// setKeyStatus changes a key's stored status directly, as a cascade would.
func (f *fix) setKeyStatus(id string, st steward.KeyStatus) {
	f.t.Helper()
	ctx := context.Background()
	f.ok(f.a.Store.Update(ctx, func(tx store.Tx) error {
		k, err := tx.GetAPIKey(ctx, f.expand(id))
		if err != nil {
			return err
		}
		k.Status = st
		return tx.UpdateAPIKey(ctx, k)
	}))
}

// flushUses writes the recorded last uses of keys now.
func (f *fix) flushUses() {
	f.t.Helper()
	f.ok(f.a.Svc.Keys.FlushKeyUses(context.Background()))
}

// idem sends a request with an Idempotency-Key without the harness's
// common checks: a replayed error body keeps the first request's id.
func (f *fix) idem(method, path, token, key string, body any) *apptest.Response {
	f.t.Helper()
	b, has := encodeBody(body)
	if has {
		b = []byte(f.expand(string(b)))
	}
	r, err := send(f.a, method, f.expand(path), f.expand(token), b, has, map[string]string{"Idempotency-Key": f.expand(key)})
	f.ok(err)
	return r
}

// sameSet reports a difference between the ids of an answer and the
// expected env names.
func (f *fix) sameSet(what string, got []string, names ...string) {
	f.t.Helper()
	var want []string
	for _, n := range names {
		want = append(want, f.e[n])
	}
	g, w := slices.Clone(got), slices.Clone(want)
	sort.Strings(g)
	sort.Strings(w)
	if !slices.Equal(g, w) {
		f.t.Errorf("%s: got %v, want %v (%v)", what, g, w, names)
	}
}

// idsOfItems is the ids of listed objects.
func idsOfItems(list []map[string]any) []string {
	var out []string
	for _, m := range list {
		s, _ := m["id"].(string)
		out = append(out, s)
	}
	return out
}

// adminScopes is what an admin's key holds by default: every permission of
// the admin role, sorted.
func adminScopes() []string {
	var out []string
	for _, p := range steward.RoleAdmin.Permissions() {
		out = append(out, string(p))
	}
	sort.Strings(out)
	return out
}

func TestAPIKeyScenarios(t *testing.T) { runScenarios(t, keyScenarios()) }

func keyScenarios() []scenario {
	var all []scenario
	for _, group := range [][]scenario{
		keyCreateScenarios(), keyListScenarios(), keyReadScenarios(), keyPatchScenarios(), keyRevokeScenarios(),
		keyRotateScenarios(), keyStatsScenarios(), keyCredentialScenarios(), keyIdempotencyScenarios(),
		keyVerifyScenarios(), keySecrecyScenarios(),
	} {
		all = append(all, group...)
	}
	return all
}

// --- POST /admin/api-keys

func keyCreateScenarios() []scenario {
	return []scenario{
		{Name: "keys: create a user key with every field", Method: post, Path: keysPath, Token: "{root}",
			Setup: func(f *fix) {
				f.user("owner", steward.RoleUser, withTenant("ten_owner"))
				f.a.EnsureTenant(f.t, "ten_keys")
			},
			Body: M{"name": "  CI deploy  ", "key_type": "user", "user_id": "{owner}", "tenant_id": "ten_keys", "purpose": "ci",
				"scopes": []string{"write", "read", "read"}, "rate_limit_rpm": 120, "expires_at": "2026-06-01T02:00:00+02:00",
				"allowed_ips": []string{"10.0.0.1", " 192.168.7.9/16", "2001:db8::/32", "::ffff:10.0.0.2"}},
			Status: 201,
			Want: M{"id": prefix("key_"), "key": present(), "name": "CI deploy", "key_type": "user", "user_id": "{owner}",
				"tenant_id": "ten_keys", "purpose": "ci", "scopes": []string{"read", "write"}, "rate_limit_rpm": 120,
				"expires_at": "2026-06-01T00:00:00Z", "allowed_ips": []string{"10.0.0.1/32", "192.168.0.0/16", "2001:db8::/32", "10.0.0.2/32"},
				"status": "active", "revoked_at": nil, "revoked_reason": "", "rotated_from": "", "last_used_at": nil, "last_used_ip": "",
				"created_by": "{root_id}", "created_at": "2026-03-01T12:00:00Z", "updated_at": "2026-03-01T12:00:00Z",
				"secret_hash": absent(), "SecretHash": absent()},
			After: func(f *fix, r *apptest.Response) {
				text := str(r, "key")
				if !keyTextRe.MatchString(text) || !strings.HasPrefix(text, "stw_u_") {
					f.t.Fatalf("key %q does not match %s", text, keyTextRe)
				}
				f.checkField(r, "key_prefix", text[:10])
				f.checkField(r, "last_four", text[len(text)-4:])
				if len(r.Body) != 22 {
					f.t.Errorf("the created key has %d fields, want the 21 of a key plus key: %s", len(r.Body), r.Raw)
				}
				// Every stored field reads back the same, without the secret.
				f.e["k"] = str(r, "id")
				g := f.must(200, get, keysPath+"/{k}", "{root}", nil)
				f.checkField(g, "key", absent())
				for field, v := range r.Body {
					if field != "key" {
						f.checkField(g, field, v)
					}
				}
				if len(g.Body) != 21 {
					f.t.Errorf("a read key has %d fields, want 21: %s", len(g.Body), g.Raw)
				}
				e := f.audit(f.e["k"], "api_key.create")
				if len(e) != 1 || e[0]["actor_id"] != f.e["root_id"] || e[0]["target_type"] != "api_key" || e[0]["tenant_id"] != "ten_keys" {
					f.t.Errorf("api_key.create entries: %v", e)
				}
			}},
		{Name: "keys: an admin's own admin key defaults to everything the admin holds", Method: post, Path: keysPath, Token: "{adm_tok}",
			Setup: func(f *fix) { f.op("adm", steward.RoleAdmin, withTenant("ten_ops")) },
			Body:  M{"name": "automation", "key_type": "admin"}, Status: 201,
			Want: M{"key": prefix("stw_a_"), "key_prefix": prefix("stw_a_"), "key_type": "admin", "user_id": "{adm}", "tenant_id": "ten_ops",
				"purpose": "api", "scopes": adminScopes(), "rate_limit_rpm": 0, "expires_at": nil, "allowed_ips": []string{},
				"created_by": "{adm}", "status": "active"}},
		{Name: "keys: root's admin key defaults to *", Method: post, Path: keysPath, Token: "{root}",
			Body: M{"name": "root automation", "key_type": "admin", "tenant_id": ""}, Status: 201,
			Want: M{"key_type": "admin", "user_id": "{root_id}", "scopes": []string{"*"}, "tenant_id": ""}},
		{Name: "keys: a user key defaults to the configured scopes and the owner's tenant", Method: post, Path: keysPath, Token: "{adm_tok}",
			Setup: func(f *fix) {
				f.op("adm", steward.RoleAdmin)
				f.user("owner", steward.RoleUser, withTenant("ten_end"))
			},
			Body: M{"name": "mine", "key_type": "user", "user_id": "{owner}"}, Status: 201,
			Want: M{"key": prefix("stw_u_"), "scopes": []string{"read", "write"}, "tenant_id": "ten_end", "user_id": "{owner}", "created_by": "{adm}"}},
		{Name: "keys: a platform key for another operator", Method: post, Path: keysPath, Token: "{root}",
			Setup:  func(f *fix) { f.user("svc", steward.RoleSupport) },
			Body:   M{"name": "backend", "key_type": "platform", "user_id": "{svc}", "scopes": []string{"keys:verify", "users:read"}, "purpose": "integration"},
			Status: 201, Want: M{"key": prefix("stw_p_"), "key_type": "platform", "user_id": "{svc}", "scopes": []string{"keys:verify", "users:read"}}},

		{Name: "keys: create with a bad CIDR", Method: post, Path: keysPath, Token: "{root}",
			Body: M{"name": "x", "key_type": "admin", "allowed_ips": []string{"10.0.0.0/8", "10.0.0.0/33"}}, Status: 422, Want: validation("allowed_ips")},
		{Name: "keys: create with a hostname for an address", Method: post, Path: keysPath, Token: "{root}",
			Body: M{"name": "x", "key_type": "admin", "allowed_ips": []string{"example.com"}}, Status: 422, Want: validation("allowed_ips")},
		{Name: "keys: create with a past expiry", Method: post, Path: keysPath, Token: "{root}",
			Body: M{"name": "x", "key_type": "admin", "expires_at": "2026-03-01T11:59:59Z"}, Status: 422, Want: validation("expires_at")},
		{Name: "keys: create with an expiry of now", Method: post, Path: keysPath, Token: "{root}",
			Body: M{"name": "x", "key_type": "admin", "expires_at": "2026-03-01T12:00:00Z"}, Status: 422, Want: validation("expires_at")},
		{Name: "keys: create with a malformed expiry", Method: post, Path: keysPath, Token: "{root}",
			Body: M{"name": "x", "key_type": "admin", "expires_at": "next tuesday"}, Status: 400, Want: badRequest("expires_at")},
		{Name: "keys: create with a numeric expiry", Method: post, Path: keysPath, Token: "{root}",
			Body: `{"name": "x", "key_type": "admin", "expires_at": 1780000000}`, Status: 400, Want: badRequest("expires_at")},
		{Name: "keys: create with an unknown admin scope", Method: post, Path: keysPath, Token: "{root}",
			Body: M{"name": "x", "key_type": "admin", "scopes": []string{"users:read", "users:fly"}}, Status: 422, Want: validation("scopes")},
		{Name: "keys: create a user key with a scope outside the configured list", Method: post, Path: keysPath, Token: "{root}",
			Setup: func(f *fix) { f.user("owner", steward.RoleUser) },
			Body:  M{"name": "x", "key_type": "user", "user_id": "{owner}", "scopes": []string{"read", "users:read"}}, Status: 422, Want: validation("scopes")},
		{Name: "keys: create a platform key without scopes", Method: post, Path: keysPath, Token: "{root}",
			Body: M{"name": "x", "key_type": "platform"}, Status: 422, Want: validation("scopes")},
		{Name: "keys: create with a negative rate limit", Method: post, Path: keysPath, Token: "{root}",
			Body: M{"name": "x", "key_type": "admin", "rate_limit_rpm": -1}, Status: 422, Want: validation("rate_limit_rpm")},
		{Name: "keys: create with an absurd rate limit", Method: post, Path: keysPath, Token: "{root}",
			Body: M{"name": "x", "key_type": "admin", "rate_limit_rpm": 1000001}, Status: 422, Want: validation("rate_limit_rpm")},
		{Name: "keys: create without a name", Method: post, Path: keysPath, Token: "{root}",
			Body: M{"key_type": "admin"}, Status: 422, Want: validation("name")},
		{Name: "keys: create with a blank name", Method: post, Path: keysPath, Token: "{root}",
			Body: M{"name": "   ", "key_type": "admin"}, Status: 422, Want: validation("name")},
		{Name: "keys: create with a name over 100 characters", Method: post, Path: keysPath, Token: "{root}",
			Body: M{"name": strings.Repeat("n", 101), "key_type": "admin"}, Status: 422, Want: validation("name")},
		{Name: "keys: create with a bad key_type", Method: post, Path: keysPath, Token: "{root}",
			Body: M{"name": "x", "key_type": "god"}, Status: 422, Want: validation("key_type")},
		{Name: "keys: create without a key_type", Method: post, Path: keysPath, Token: "{root}",
			Body: M{"name": "x"}, Status: 422, Want: validation("key_type")},
		{Name: "keys: create with an unknown purpose", Method: post, Path: keysPath, Token: "{root}",
			Body: M{"name": "x", "key_type": "admin", "purpose": "mining"}, Status: 422, Want: validation("purpose")},
		{Name: "keys: create a user key without user_id", Method: post, Path: keysPath, Token: "{root}",
			Body: M{"name": "x", "key_type": "user"}, Status: 422, Want: validation("user_id")},
		{Name: "keys: create a user key with an empty user_id", Method: post, Path: keysPath, Token: "{root}",
			Body: M{"name": "x", "key_type": "user", "user_id": ""}, Status: 422, Want: validation("user_id")},
		{Name: "keys: create a key for an unknown user", Method: post, Path: keysPath, Token: "{root}",
			Body: M{"name": "x", "key_type": "user", "user_id": "{unknown}"}, Status: 422, Want: validation("user_id")},
		{Name: "keys: create a key for a deleted user", Method: post, Path: keysPath, Token: "{root}",
			Setup: func(f *fix) {
				f.user("owner", steward.RoleUser)
				f.must(200, del, usersPath+"/{owner}", "{root}", nil)
			},
			Body: M{"name": "x", "key_type": "user", "user_id": "{owner}"}, Status: 422, Want: validation("user_id")},
		{Name: "keys: create an admin key for a non-operator", Method: post, Path: keysPath, Token: "{root}",
			Setup: func(f *fix) { f.user("owner", steward.RoleUser) },
			Body:  M{"name": "x", "key_type": "admin", "user_id": "{owner}"}, Status: 422, Want: validation("user_id"),
			After: func(f *fix, r *apptest.Response) {
				l := f.must(200, get, keysPath+"?user_id={owner}", "{root}", nil)
				f.checkField(l, "data", length(0))
			}},
		{Name: "keys: create a platform key for a non-operator", Method: post, Path: keysPath, Token: "{root}",
			Setup: func(f *fix) { f.user("owner", steward.RoleUser) },
			Body:  M{"name": "x", "key_type": "platform", "user_id": "{owner}", "scopes": []string{"keys:verify"}}, Status: 422, Want: validation("user_id")},
		{Name: "keys: create lists every invalid field at once", Method: post, Path: keysPath, Token: "{root}",
			Body:   M{"key_type": "admin", "rate_limit_rpm": -5, "expires_at": "2020-01-01T00:00:00Z", "allowed_ips": []string{"nope"}, "purpose": "x"},
			Status: 422, Want: validation("name", "rate_limit_rpm", "expires_at", "allowed_ips", "purpose")},
		{Name: "keys: create with an unknown field", Method: post, Path: keysPath, Token: "{root}",
			Body: M{"name": "x", "key_type": "admin", "secret": "mine"}, Status: 400, Want: M{"code": "BAD_REQUEST", "details.fields.secret": "unknown field"}},
		{Name: "keys: create with a wrongly typed scope list", Method: post, Path: keysPath, Token: "{root}",
			Body: `{"name": "x", "key_type": "admin", "scopes": "users:read"}`, Status: 400, Want: badRequest("scopes")},
		{Name: "keys: create with an empty body", Method: post, Path: keysPath, Token: "{root}", Body: ``, Status: 400, Want: code("BAD_REQUEST")},
		{Name: "keys: an admin cannot mint scopes it does not hold", Method: post, Path: keysPath, Token: "{adm_tok}",
			Setup: func(f *fix) { f.op("adm", steward.RoleAdmin) },
			Body:  M{"name": "x", "key_type": "admin", "scopes": []string{"users:read", "users:delete", "users:role"}}, Status: 403,
			Want: M{"code": "CANNOT_ESCALATE", "details.scopes": []string{"users:delete", "users:role"}}},
		{Name: "keys: an owner cannot mint *", Method: post, Path: keysPath, Token: "{own_tok}",
			Setup: func(f *fix) { f.op("own", steward.RoleOwner) },
			Body:  M{"name": "x", "key_type": "platform", "scopes": []string{"*"}}, Status: 403,
			Want: M{"code": "CANNOT_ESCALATE", "details.scopes": []string{"*"}}},
		{Name: "keys: an admin cannot mint keys for an owner", Method: post, Path: keysPath, Token: "{adm_tok}",
			Setup: func(f *fix) {
				f.op("adm", steward.RoleAdmin)
				f.user("own", steward.RoleOwner)
			},
			Body: M{"name": "x", "key_type": "admin", "user_id": "{own}", "scopes": []string{"users:read"}}, Status: 403, Want: code("INSUFFICIENT_ROLE")},
		{Name: "keys: support may not create keys", Method: post, Path: keysPath, Token: "{sup_tok}",
			Setup: func(f *fix) { f.op("sup", steward.RoleSupport) },
			Body:  M{"name": "x", "key_type": "admin"}, Status: 403, Want: M{"code": "FORBIDDEN", "details.required_permission": "keys:write"}},
	}
}

// --- GET /admin/api-keys and /admin/users/{id}/api-keys

func keyListScenarios() []scenario {
	return []scenario{
		{Name: "keys: list filters by status, type, user and tenant, and pages", Fresh: true, Method: get,
			Path: keysPath + "?limit=2&include_total=true", Token: "{root}",
			Setup: func(f *fix) {
				f.user("u1", steward.RoleUser, withTenant("ten_l1"))
				f.user("u2", steward.RoleUser, withTenant("ten_l2"))
				f.user("op", steward.RoleAdmin)
				step := func() { f.a.Clock.Advance(time.Second) }
				f.userKey("ka", "u1", nil) // active
				step()
				f.userKey("kb", "u1", M{"expires_at": "2026-03-01T13:00:00Z"}) // expired by the time of the request
				step()
				f.userKey("kc", "u2", nil) // revoked
				f.must(200, del, keysPath+"/{kc}", "{root}", nil)
				step()
				f.key("kd", "{root}", M{"name": "kd", "key_type": "admin", "user_id": "{op}", "scopes": []string{"users:read"}})
				step()
				f.key("ke", "{root}", M{"name": "ke", "key_type": "platform", "scopes": []string{"users:read"}})
				step()
				f.userKey("kf", "u2", nil) // disabled by a cascade
				f.setKeyStatus("{kf}", steward.KeyDisabled)
				f.a.Clock.Advance(2 * time.Hour)
			},
			Status: 200, Want: M{"data": length(2), "has_more": true, "next_cursor": present(), "total": 6},
			After: func(f *fix, r *apptest.Response) {
				all := f.walk(keysPath+"?limit=2", "{root}")
				want := []string{f.e["kf"], f.e["ke"], f.e["kd"], f.e["kc"], f.e["kb"], f.e["ka"]}
				if got := idsOfItems(all); !slices.Equal(got, want) {
					f.t.Errorf("walked %v, want newest first %v", got, want)
				}
				status := map[string]any{}
				for _, k := range all {
					status[k["id"].(string)] = k["status"]
				}
				for name, st := range map[string]string{"ka": "active", "kb": "expired", "kc": "revoked", "kd": "active", "ke": "active", "kf": "disabled"} {
					if status[f.e[name]] != st {
						f.t.Errorf("%s is listed %v, want %s", name, status[f.e[name]], st)
					}
				}
				for q, names := range map[string][]string{
					"status=active":                  {"ka", "kd", "ke"},
					"status=expired":                 {"kb"},
					"status=revoked":                 {"kc"},
					"status=disabled":                {"kf"},
					"type=user":                      {"ka", "kb", "kc", "kf"},
					"type=admin":                     {"kd"},
					"type=platform":                  {"ke"},
					"user_id={u1}":                   {"ka", "kb"},
					"user_id={u2}&status=revoked":    {"kc"},
					"user_id={root_id}":              {"ke"},
					"tenant_id=ten_l2":               {"kc", "kf"},
					"tenant_id=ten_l1&type=admin":    {},
					"tenant_id=ten_l1&status=active": {"ka"},
				} {
					l := f.must(200, get, keysPath+"?limit=200&include_total=true&"+q, "{root}", nil)
					f.sameSet(q, idsOf(l), names...)
					f.checkField(l, "total", len(names))
					f.checkField(l, "has_more", false)
				}
				last := f.must(200, get, keysPath+"?limit=6", "{root}", nil)
				f.checkField(last, "has_more", false)
				f.checkField(last, "next_cursor", nil)
				f.checkField(last, "total", absent())
			}},
		{Name: "keys: list with an unknown status", Method: get, Path: keysPath + "?status=lost", Token: "{root}", Status: 422, Want: validation("status")},
		{Name: "keys: list with an unknown type", Method: get, Path: keysPath + "?type=robot", Token: "{root}", Status: 422, Want: validation("type")},
		{Name: "keys: list with a bad limit", Method: get, Path: keysPath + "?limit=201", Token: "{root}", Status: 400, Want: badRequest("limit")},
		{Name: "keys: list with a malformed cursor", Method: get, Path: keysPath + "?cursor=!!!", Token: "{root}", Status: 400, Want: badRequest("cursor")},
		{Name: "keys: support may list keys", Method: get, Path: keysPath + "?user_id={owner}", Token: "{sup_tok}",
			Setup: func(f *fix) {
				f.op("sup", steward.RoleSupport)
				f.userKey("k", "owner", nil)
			}, Status: 200, Want: M{"data": length(1), "data.0.id": "{k}", "data.0.key": absent()}},

		{Name: "keys: a user's keys", Method: get, Path: usersPath + "/{owner}/api-keys?include_total=true", Token: "{root}",
			Setup: func(f *fix) {
				f.userKey("k1", "owner", nil)
				f.userKey("k2", "owner", nil)
				f.must(200, del, keysPath+"/{k2}", "{root}", nil)
				f.userKey("other", "someone", nil)
			}, Status: 200, Want: M{"data": length(2), "total": 2, "has_more": false},
			After: func(f *fix, r *apptest.Response) {
				f.sameSet("user's keys", idsOf(r), "k1", "k2")
				rv := f.must(200, get, usersPath+"/{owner}/api-keys?status=revoked", "{root}", nil)
				f.sameSet("user's revoked keys", idsOf(rv), "k2")
				f.checkField(f.must(200, get, usersPath+"/{owner}/api-keys?type=admin", "{root}", nil), "data", length(0))
				p := f.must(200, get, usersPath+"/{owner}/api-keys?limit=1", "{root}", nil)
				f.checkField(p, "data", length(1))
				f.checkField(p, "has_more", true)
				f.expectErr(f.do(get, usersPath+"/{owner}/api-keys?type=robot", "{root}", nil), 422, "VALIDATION_FAILED")
			}},
		{Name: "keys: the keys of an unknown user", Method: get, Path: usersPath + "/{unknown}/api-keys", Token: "{root}", Status: 404, Want: code("NOT_FOUND")},
	}
}

// --- GET /admin/api-keys/{id}

func keyReadScenarios() []scenario {
	return []scenario{
		{Name: "keys: get a key", Method: get, Path: keysPath + "/{k}", Token: "{sup_tok}",
			Setup: func(f *fix) {
				f.op("sup", steward.RoleSupport)
				f.userKey("k", "owner", M{"rate_limit_rpm": 30})
			}, Status: 200,
			Want: M{"id": "{k}", "key_type": "user", "user_id": "{owner}", "rate_limit_rpm": 30, "status": "active", "key": absent()}},
		{Name: "keys: get an unknown key", Method: get, Path: keysPath + "/" + unknownKey, Token: "{root}", Status: 404, Want: code("NOT_FOUND")},
		{Name: "keys: a suspended owner's key reads as disabled, and active again after", Method: get, Path: keysPath + "/{k}", Token: "{root}",
			Setup: func(f *fix) {
				f.userKey("k", "owner", nil)
				f.must(200, post, usersPath+"/{owner}/suspend", "{root}", nil)
			}, Status: 200, Want: M{"status": "disabled"},
			After: func(f *fix, r *apptest.Response) {
				l := f.must(200, get, usersPath+"/{owner}/api-keys", "{root}", nil)
				f.checkField(l, "data.0.status", "disabled")
				f.must(200, post, usersPath+"/{owner}/unsuspend", "{root}", nil)
				f.checkField(f.must(200, get, keysPath+"/{k}", "{root}", nil), "status", "active")
			}},
		{Name: "keys: a key revoked while its owner was suspended stays revoked", Method: post, Path: usersPath + "/{owner}/unsuspend", Token: "{root}",
			Setup: func(f *fix) {
				f.verifier()
				f.userKey("k", "owner", nil)
				f.userKey("k2", "owner", nil)
				f.must(200, post, usersPath+"/{owner}/suspend", "{root}", nil)
				f.must(200, del, keysPath+"/{k}", "{root}", nil)
			}, Status: 200,
			After: func(f *fix, r *apptest.Response) {
				f.checkField(f.must(200, get, keysPath+"/{k}", "{root}", nil), "status", "revoked")
				f.checkField(f.must(200, get, keysPath+"/{k2}", "{root}", nil), "status", "active")
				f.checkField(f.verify(M{"key": "{k_key}"}), "code", "REVOKED")
				f.checkField(f.verify(M{"key": "{k2_key}"}), "code", "VALID")
			}},
	}
}

// --- PATCH /admin/api-keys/{id}

func keyPatchScenarios() []scenario {
	return []scenario{
		{Name: "keys: patch name, addresses and rate limit", Method: patch, Path: keysPath + "/{k}", Token: "{root}",
			Setup: func(f *fix) { f.userKey("k", "owner", M{"allowed_ips": []string{"10.0.0.0/8"}}) },
			Body:  M{"name": " Renamed ", "allowed_ips": []string{"203.0.113.7", "2001:db8::1"}, "rate_limit_rpm": 90}, Status: 200,
			Want: M{"id": "{k}", "name": "Renamed", "allowed_ips": []string{"203.0.113.7/32", "2001:db8::1/128"}, "rate_limit_rpm": 90,
				"status": "active", "key_type": "user", "scopes": []string{"read", "write"}, "key": absent()},
			After: func(f *fix, r *apptest.Response) {
				g := f.must(200, get, keysPath+"/{k}", "{root}", nil)
				f.checkField(g, "name", "Renamed")
				f.checkField(g, "rate_limit_rpm", 90)
				e := f.audit(f.e["k"], "api_key.update")
				if len(e) != 1 {
					f.t.Fatalf("api_key.update entries: %v", e)
				}
				ch, _ := e[0]["changes"].(map[string]any)
				name, _ := ch["name"].(map[string]any)
				if name["before"] != "k" || name["after"] != "Renamed" || ch["rate_limit_rpm"] == nil || ch["allowed_ips"] == nil {
					f.t.Errorf("api_key.update changes: %v", ch)
				}
				if e[0]["actor_id"] != f.e["root_id"] {
					f.t.Errorf("api_key.update actor: %v", e[0]["actor_id"])
				}
			}},
		{Name: "keys: patch null clears the addresses and the rate limit", Method: patch, Path: keysPath + "/{k}", Token: "{root}",
			Setup: func(f *fix) {
				f.userKey("k", "owner", M{"allowed_ips": []string{"10.0.0.0/8"}, "rate_limit_rpm": 10, "expires_at": "2026-04-01T00:00:00Z"})
			},
			Body: `{"allowed_ips": null, "rate_limit_rpm": null}`, Status: 200,
			Want: M{"name": "k", "allowed_ips": []string{}, "rate_limit_rpm": 0, "expires_at": "2026-04-01T00:00:00Z"},
			After: func(f *fix, r *apptest.Response) {
				g := f.must(200, get, keysPath+"/{k}", "{root}", nil)
				f.checkField(g, "allowed_ips", []string{})
				f.checkField(g, "rate_limit_rpm", 0)
			}},
		{Name: "keys: patch with an empty object changes nothing", Method: patch, Path: keysPath + "/{k}", Token: "{root}",
			Setup: func(f *fix) { f.userKey("k", "owner", M{"rate_limit_rpm": 10}) },
			Body:  M{}, Status: 200, Want: M{"name": "k", "rate_limit_rpm": 10}},
		{Name: "keys: patch cannot clear the name", Method: patch, Path: keysPath + "/{k}", Token: "{root}",
			Setup: func(f *fix) { f.userKey("k", "owner", nil) },
			Body:  `{"name": null}`, Status: 422, Want: validation("name"),
			After: func(f *fix, r *apptest.Response) {
				f.checkField(f.must(200, get, keysPath+"/{k}", "{root}", nil), "name", "k")
			}},
		{Name: "keys: patch with a bad CIDR", Method: patch, Path: keysPath + "/{k}", Token: "{root}",
			Setup: func(f *fix) { f.userKey("k", "owner", nil) },
			Body:  M{"allowed_ips": []string{"300.1.1.1"}}, Status: 422, Want: validation("allowed_ips")},
		{Name: "keys: patch with a negative rate limit", Method: patch, Path: keysPath + "/{k}", Token: "{root}",
			Setup: func(f *fix) { f.userKey("k", "owner", nil) },
			Body:  M{"rate_limit_rpm": -1, "name": ""}, Status: 422, Want: validation("rate_limit_rpm", "name")},
		{Name: "keys: patch a field that cannot change", Method: patch, Path: keysPath + "/{k}", Token: "{root}",
			Setup: func(f *fix) { f.userKey("k", "owner", nil) },
			Body:  M{"scopes": []string{"read"}}, Status: 400, Want: M{"code": "BAD_REQUEST", "details.fields.scopes": "unknown field"}},
		{Name: "keys: patch an unknown key", Method: patch, Path: keysPath + "/" + unknownKey, Token: "{root}",
			Body: M{"name": "x"}, Status: 404, Want: code("NOT_FOUND")},
		{Name: "keys: patch a revoked key", Method: patch, Path: keysPath + "/{k}", Token: "{root}",
			Setup: func(f *fix) {
				f.userKey("k", "owner", nil)
				f.must(200, del, keysPath+"/{k}", "{root}", nil)
			},
			Body: M{"name": "too late"}, Status: 409, Want: M{"code": "INVALID_STATE", "details.status": "revoked"}},
		{Name: "keys: an admin cannot patch an owner's key", Method: patch, Path: keysPath + "/{k}", Token: "{adm_tok}",
			Setup: func(f *fix) {
				f.op("adm", steward.RoleAdmin)
				f.user("own", steward.RoleOwner)
				f.key("k", "{root}", M{"name": "k", "key_type": "admin", "user_id": "{own}", "scopes": []string{"users:read"}})
			},
			Body: M{"name": "mine now"}, Status: 403, Want: code("INSUFFICIENT_ROLE")},
	}
}

// --- DELETE /admin/api-keys/{id} and POST /admin/api-keys/bulk-revoke

func keyRevokeScenarios() []scenario {
	return []scenario{
		{Name: "keys: delete revokes with the body's reason", Method: del, Path: keysPath + "/{k}", Token: "{root}",
			Setup: func(f *fix) { f.verifier(); f.userKey("k", "owner", nil) },
			Body:  M{"reason": "leaked in a log"}, Status: 200,
			Want: M{"id": "{k}", "status": "revoked", "revoked_at": "2026-03-01T12:00:00Z", "revoked_reason": "leaked in a log", "key": absent()},
			After: func(f *fix, r *apptest.Response) {
				f.checkField(f.verify(M{"key": "{k_key}"}), "code", "REVOKED")
				again := f.do(del, keysPath+"/{k}", "{root}", nil)
				f.expectErr(again, 409, "INVALID_STATE")
				f.checkField(again, "details.status", "revoked")
				e := f.audit(f.e["k"], "api_key.revoke")
				if len(e) != 1 || e[0]["reason"] != "leaked in a log" || e[0]["actor_id"] != f.e["root_id"] {
					f.t.Errorf("api_key.revoke entries: %v", e)
				}
			}},
		{Name: "keys: delete takes the reason from the query", Method: del, Path: keysPath + "/{k}?reason=rotating+vendors", Token: "{root}",
			Setup: func(f *fix) { f.userKey("k", "owner", nil) }, Status: 200, Want: M{"revoked_reason": "rotating vendors"}},
		{Name: "keys: delete without a reason", Method: del, Path: keysPath + "/{k}", Token: "{root}",
			Setup: func(f *fix) { f.userKey("k", "owner", nil) }, Status: 200, Want: M{"status": "revoked", "revoked_reason": "revoked by operator"}},
		{Name: "keys: delete an unknown key", Method: del, Path: keysPath + "/" + unknownKey, Token: "{root}", Status: 404, Want: code("NOT_FOUND")},
		{Name: "keys: delete with an overlong reason", Method: del, Path: keysPath + "/{k}", Token: "{root}",
			Setup: func(f *fix) { f.userKey("k", "owner", nil) },
			Body:  M{"reason": strings.Repeat("r", 1001)}, Status: 422, Want: validation("reason")},
		{Name: "keys: an admin cannot revoke an owner's key", Method: del, Path: keysPath + "/{k}", Token: "{adm_tok}",
			Setup: func(f *fix) {
				f.op("adm", steward.RoleAdmin)
				f.user("own", steward.RoleOwner)
				f.key("k", "{root}", M{"name": "k", "key_type": "admin", "user_id": "{own}", "scopes": []string{"users:read"}})
			}, Status: 403, Want: code("INSUFFICIENT_ROLE"),
			After: func(f *fix, r *apptest.Response) {
				f.checkField(f.must(200, get, keysPath+"/{k}", "{root}", nil), "status", "active")
			}},
		{Name: "keys: bulk revoke answers per id", Method: post, Path: keysPath + "/bulk-revoke", Token: "{adm_tok}",
			Setup: func(f *fix) {
				f.op("adm", steward.RoleAdmin)
				f.user("own", steward.RoleOwner)
				f.userKey("k1", "owner", nil)
				f.userKey("k2", "owner", nil)
				f.must(200, del, keysPath+"/{k2}", "{root}", nil)
				f.key("k3", "{root}", M{"name": "k3", "key_type": "admin", "user_id": "{own}", "scopes": []string{"users:read"}})
				f.userKey("k4", "owner", nil)
			},
			Body:   M{"key_ids": []string{"{k1}", " {k2} ", unknownKey, "{k3}", "", "{k4}", "{k1}"}},
			Status: 200,
			Want: M{"succeeded": 2, "failed": 3, "results": length(5),
				"results.0.id": "{k1}", "results.0.ok": true, "results.0.code": absent(),
				"results.1.id": "{k2}", "results.1.ok": false, "results.1.code": "INVALID_STATE", "results.1.message": present(),
				"results.2.id": unknownKey, "results.2.ok": false, "results.2.code": "NOT_FOUND",
				"results.3.id": "{k3}", "results.3.ok": false, "results.3.code": "INSUFFICIENT_ROLE",
				"results.4.id": "{k4}", "results.4.ok": true},
			After: func(f *fix, r *apptest.Response) {
				for name, st := range map[string]string{"k1": "revoked", "k2": "revoked", "k3": "active", "k4": "revoked"} {
					f.checkField(f.must(200, get, keysPath+"/{"+name+"}", "{root}", nil), "status", st)
				}
				e := f.audit(f.e["k4"], "api_key.revoke")
				if len(e) != 1 || e[0]["reason"] != "bulk revoke" || e[0]["actor_id"] != f.e["adm"] {
					f.t.Errorf("bulk api_key.revoke entries: %v", e)
				}
			}},
		{Name: "keys: bulk revoke without ids", Method: post, Path: keysPath + "/bulk-revoke", Token: "{root}",
			Body: M{"key_ids": []string{" ", ""}}, Status: 422, Want: validation("key_ids")},
		{Name: "keys: bulk revoke of more than 1000 ids", Method: post, Path: keysPath + "/bulk-revoke", Token: "{root}",
			Body: M{"key_ids": manyKeyIDs(1001)}, Status: 422, Want: validation("key_ids")},
		{Name: "keys: bulk revoke without a body field", Method: post, Path: keysPath + "/bulk-revoke", Token: "{root}",
			Body: M{}, Status: 422, Want: validation("key_ids")},
		{Name: "keys: bulk revoke with a wrongly typed id list", Method: post, Path: keysPath + "/bulk-revoke", Token: "{root}",
			Body: `{"key_ids": "key_x"}`, Status: 400, Want: badRequest("key_ids")},
	}
}

// --- POST /admin/api-keys/{id}/rotate

func keyRotateScenarios() []scenario {
	return []scenario{
		{Name: "keys: rotate with a grace period keeps both keys until it ends", Fresh: true, Method: post, Path: keysPath + "/{k}/rotate", Token: "{root}",
			Setup: func(f *fix) {
				f.verifier()
				f.user("owner", steward.RoleUser, withTenant("ten_rot"))
				f.key("k", "{root}", M{"name": "rotating", "key_type": "user", "user_id": "{owner}", "purpose": "ci", "scopes": []string{"read"},
					"rate_limit_rpm": 100, "expires_at": "2026-09-01T00:00:00Z", "allowed_ips": []string{"198.51.100.0/24"}})
			},
			Body: M{"grace_period_seconds": 3600}, Status: 201,
			Want: M{"id": prefix("key_"), "key": prefix("stw_u_"), "rotated_from": "{k}", "name": "rotating", "key_type": "user", "user_id": "{owner}",
				"tenant_id": "ten_rot", "purpose": "ci", "scopes": []string{"read"}, "rate_limit_rpm": 100, "expires_at": "2026-09-01T00:00:00Z",
				"allowed_ips": []string{"198.51.100.0/24"}, "status": "active", "revoked_at": nil, "revoked_reason": "", "last_used_at": nil,
				"created_by": "{root_id}", "created_at": "2026-03-01T12:00:00Z"},
			After: func(f *fix, r *apptest.Response) {
				f.e["n"], f.e["n_key"] = str(r, "id"), str(r, "key")
				if !keyTextRe.MatchString(f.e["n_key"]) || f.e["n_key"] == f.e["k_key"] || f.e["n"] == f.e["k"] {
					f.t.Fatalf("rotation answered key %q (%s), old %q (%s)", f.e["n_key"], f.e["n"], f.e["k_key"], f.e["k"])
				}
				f.checkField(r, "key_prefix", f.e["n_key"][:10])
				f.checkField(r, "last_four", f.e["n_key"][len(f.e["n_key"])-4:])
				old := f.must(200, get, keysPath+"/{k}", "{root}", nil)
				f.checkField(old, "status", "active")
				f.checkField(old, "revoked_at", "2026-03-01T13:00:00Z")
				f.checkField(old, "revoked_reason", "rotated to {n}")
				ip := "198.51.100.20"
				f.checkField(f.verify(M{"key": "{k_key}", "ip": ip}), "code", "VALID")
				f.checkField(f.verify(M{"key": "{n_key}", "ip": ip}), "code", "VALID")
				f.a.Clock.Advance(time.Hour - time.Second)
				f.checkField(f.verify(M{"key": "{k_key}", "ip": ip}), "code", "VALID")
				f.a.Clock.Advance(time.Second)
				f.checkVerdict(f.verify(M{"key": "{k_key}", "ip": ip}),
					verdict(false, "REVOKED", f.e["k"], "user", f.e["owner"], "ten_rot", []string{"read"}, 100, 0, 0))
				f.checkField(f.verify(M{"key": "{n_key}", "ip": ip}), "code", "VALID")
				f.checkField(f.must(200, get, keysPath+"/{k}", "{root}", nil), "status", "revoked")
				l := f.must(200, get, keysPath+"?user_id={owner}&status=revoked", "{root}", nil)
				f.sameSet("revoked after the grace period", idsOf(l), "k")
				e := f.audit(f.e["k"], "api_key.rotate")
				if len(e) != 1 {
					f.t.Fatalf("api_key.rotate entries: %v", e)
				}
				md, _ := e[0]["metadata"].(map[string]any)
				if md["new_key_id"] != f.e["n"] || md["grace_period_seconds"] != 3600.0 {
					f.t.Errorf("api_key.rotate metadata: %v", md)
				}
				// A rotated-away key cannot be rotated or changed again.
				f.expectErr(f.do(post, keysPath+"/{k}/rotate", "{root}", nil), 409, "INVALID_STATE")
			}},
		{Name: "keys: rotate without a body revokes the old key at once", Method: post, Path: keysPath + "/{k}/rotate", Token: "{adm_tok}",
			Setup: func(f *fix) {
				f.verifier()
				f.op("adm", steward.RoleAdmin)
				f.userKey("k", "owner", nil)
			}, Status: 201, Want: M{"rotated_from": "{k}", "created_by": "{adm}", "status": "active"},
			After: func(f *fix, r *apptest.Response) {
				f.e["n_key"] = str(r, "key")
				old := f.must(200, get, keysPath+"/{k}", "{root}", nil)
				f.checkField(old, "status", "revoked")
				f.checkField(old, "revoked_at", "2026-03-01T12:00:00Z")
				f.checkField(f.verify(M{"key": "{k_key}"}), "code", "REVOKED")
				f.checkField(f.verify(M{"key": "{n_key}"}), "code", "VALID")
				l := f.must(200, get, usersPath+"/{owner}/api-keys", "{root}", nil)
				f.checkField(l, "data", length(2))
			}},
		{Name: "keys: rotate an admin key", Method: post, Path: keysPath + "/{k}/rotate", Token: "{adm_tok}",
			Setup: func(f *fix) {
				f.op("adm", steward.RoleAdmin)
				f.key("k", "{adm_tok}", M{"name": "mine", "key_type": "admin", "scopes": []string{"users:read"}})
			}, Body: M{}, Status: 201, Want: M{"key": prefix("stw_a_"), "key_type": "admin", "user_id": "{adm}", "scopes": []string{"users:read"}},
			After: func(f *fix, r *apptest.Response) {
				f.expectErr(f.do(get, usersPath, "{k_key}", nil), 401, "UNAUTHENTICATED")
				f.must(200, get, usersPath+"?limit=1", str(r, "key"), nil)
			}},
		{Name: "keys: rotate with a negative grace period", Method: post, Path: keysPath + "/{k}/rotate", Token: "{root}",
			Setup: func(f *fix) { f.userKey("k", "owner", nil) },
			Body:  M{"grace_period_seconds": -1}, Status: 422, Want: validation("grace_period_seconds"),
			After: func(f *fix, r *apptest.Response) {
				f.checkField(f.must(200, get, usersPath+"/{owner}/api-keys", "{root}", nil), "data", length(1))
			}},
		{Name: "keys: rotate with a grace period over 30 days", Method: post, Path: keysPath + "/{k}/rotate", Token: "{root}",
			Setup: func(f *fix) { f.userKey("k", "owner", nil) },
			Body:  M{"grace_period_seconds": 30*24*3600 + 1}, Status: 422, Want: validation("grace_period_seconds")},
		// 18446744074 s overflows time.Duration to about 0.29 s: it must be
		// refused as the absurd grace period it is.
		{Name: "keys: rotate with a grace period that overflows a duration", Method: post, Path: keysPath + "/{k}/rotate", Token: "{root}",
			Setup: func(f *fix) { f.userKey("k", "owner", nil) },
			Body:  `{"grace_period_seconds": 18446744074}`, Status: 422, Want: validation("grace_period_seconds")},
		{Name: "keys: rotate a revoked key", Method: post, Path: keysPath + "/{k}/rotate", Token: "{root}",
			Setup: func(f *fix) {
				f.userKey("k", "owner", nil)
				f.must(200, del, keysPath+"/{k}", "{root}", nil)
			}, Status: 409, Want: code("INVALID_STATE")},
		{Name: "keys: rotate an unknown key", Method: post, Path: keysPath + "/" + unknownKey + "/rotate", Token: "{root}", Status: 404, Want: code("NOT_FOUND")},
		{Name: "keys: rotate with an unknown field", Method: post, Path: keysPath + "/{k}/rotate", Token: "{root}",
			Setup: func(f *fix) { f.userKey("k", "owner", nil) },
			Body:  M{"grace": 10}, Status: 400, Want: M{"code": "BAD_REQUEST", "details.fields.grace": "unknown field"}},
	}
}

// --- GET /admin/api-keys/stats

func keyStatsScenarios() []scenario {
	return []scenario{
		{Name: "keys: stats count by status and type, created and used", Fresh: true, Method: get, Path: keysPath + "/stats", Token: "{sup_tok}",
			Setup: func(f *fix) {
				f.op("sup", steward.RoleSupport)
				f.verifier()
				f.userKey("old", "u", nil)
				f.verify(M{"key": "{old_key}", "ip": "203.0.113.1"})
				f.flushUses()
				f.a.Clock.Advance(48 * time.Hour)
				f.userKey("ua", "u", nil)
				f.userKey("ur", "u", nil)
				f.must(200, del, keysPath+"/{ur}", "{root}", nil)
				f.key("ad", "{root}", M{"name": "ad", "key_type": "admin"})
				f.key("pe", "{root}", M{"name": "pe", "key_type": "platform", "scopes": []string{"users:read"}, "expires_at": "2026-03-03T13:00:00Z"})
				f.userKey("ud", "u", nil)
				f.setKeyStatus("{ud}", steward.KeyDisabled)
				f.a.Clock.Advance(2 * time.Hour)
				f.verify(M{"key": "{ua_key}", "ip": "203.0.113.9"})
				f.flushUses()
			}, Status: 200,
			Want: M{"by_status": M{"active": 4, "revoked": 1, "expired": 1, "disabled": 1}, "by_type": M{"user": 4, "admin": 1, "platform": 2},
				"total": 7, "created_last_24h": 5, "created_last_30d": 7, "used_last_24h": 2, "used_last_30d": 3},
			After: func(f *fix, r *apptest.Response) {
				if len(r.Body) != 7 {
					f.t.Errorf("stats has %d fields: %s", len(r.Body), r.Raw)
				}
				ua := f.must(200, get, keysPath+"/{ua}", "{root}", nil)
				f.checkField(ua, "last_used_at", "2026-03-03T14:00:00Z")
				f.checkField(ua, "last_used_ip", "203.0.113.9")
				old := f.must(200, get, keysPath+"/{old}", "{root}", nil)
				f.checkField(old, "last_used_at", "2026-03-01T12:00:00Z")
				f.checkField(old, "last_used_ip", "203.0.113.1")
				pk := f.must(200, get, keysPath+"/{pk}", "{root}", nil)
				f.checkField(pk, "last_used_at", "2026-03-03T14:00:00Z")
				f.checkField(pk, "last_used_ip", "127.0.0.1")
				// Recording uses is bookkeeping: no audit entry.
				if e := f.walk("/api/v1/admin/audit-log?limit=200&target_id="+f.e["ua"], "{root}"); len(e) != 1 {
					f.t.Errorf("entries on a used key: %v", e)
				}
			}},
	}
}

// --- admin and platform keys as credentials on the admin surface

func keyCredentialScenarios() []scenario {
	return []scenario{
		{Name: "keys: an admin key acts as its operator", Method: post, Path: usersPath + "/{target}/suspend", Token: "{ak_key}",
			Setup: func(f *fix) {
				f.op("adm", steward.RoleAdmin)
				f.key("ak", "{adm_tok}", M{"name": "automation", "key_type": "admin"})
				f.user("target", steward.RoleUser)
			},
			Body: M{"reason": "by automation"}, Status: 200, Want: M{"status": "suspended"},
			After: func(f *fix, r *apptest.Response) {
				e := f.audit(f.e["target"], "user.suspend")
				if len(e) != 1 {
					f.t.Fatalf("user.suspend entries: %v", e)
				}
				for field, want := range map[string]string{"actor_id": f.e["adm"], "actor_type": "operator", "actor_role": "admin",
					"credential_id": f.e["ak"], "reason": "by automation", "ip": "127.0.0.1"} {
					if e[0][field] != want {
						f.t.Errorf("user.suspend %s = %v, want %s", field, e[0][field], want)
					}
				}
				f.must(200, get, usersPath+"/{target}", "{ak_key}", nil)
				// A key it mints is its operator's too.
				k := f.must(201, post, keysPath, "{ak_key}", M{"name": "child", "key_type": "user", "user_id": "{target}"})
				f.checkField(k, "created_by", "{adm}")
			}},
		{Name: "keys: an admin key is capped by its scopes", Method: post, Path: usersPath + "/{target}/suspend", Token: "{ak_key}",
			Setup: func(f *fix) {
				f.op("adm", steward.RoleAdmin)
				f.key("ak", "{adm_tok}", M{"name": "read only", "key_type": "admin", "scopes": []string{"users:read", "keys:write"}})
				f.user("target", steward.RoleUser)
				f.must(200, get, usersPath+"/{target}", "{ak_key}", nil)
			},
			Status: 403, Want: M{"code": "FORBIDDEN", "details.required_permission": "users:write"},
			After: func(f *fix, r *apptest.Response) {
				f.checkField(f.must(200, get, usersPath+"/{target}", "{root}", nil), "status", "active")
				// Nor can it mint a key beyond its own scopes.
				esc := f.do(post, keysPath, "{ak_key}", M{"name": "wider", "key_type": "admin", "scopes": []string{"users:read", "users:write"}})
				f.expectErr(esc, 403, "CANNOT_ESCALATE")
				f.checkField(esc, "details.scopes", []string{"users:write"})
				f.must(201, post, keysPath, "{ak_key}", M{"name": "same", "key_type": "admin", "scopes": []string{"users:read"}})
				f.expectErr(f.do(get, keysPath, "{ak_key}", nil), 403, "FORBIDDEN")
			}},
		{Name: "keys: a key follows its operator's demotion at once", Method: post, Path: usersPath + "/{target}/suspend", Token: "{ak_key}",
			Setup: func(f *fix) {
				f.op("adm", steward.RoleAdmin)
				f.key("ak", "{adm_tok}", M{"name": "automation", "key_type": "admin"})
				f.user("target", steward.RoleUser)
				f.must(200, post, usersPath+"/{adm}/role", "{root}", M{"role": "support"})
			},
			Status: 403, Want: M{"code": "FORBIDDEN", "details.required_permission": "users:write"},
			After: func(f *fix, r *apptest.Response) {
				f.must(200, get, usersPath+"/{target}", "{ak_key}", nil)
			}},
		{Name: "keys: a platform key works on the admin surface within its scopes", Method: get, Path: usersPath + "/{root_id}", Token: "{pk_key}",
			Setup: func(f *fix) {
				f.key("pk", "{root}", M{"name": "backend", "key_type": "platform", "scopes": []string{"users:read", "keys:verify"}})
				f.user("target", steward.RoleUser)
			}, Status: 200, Want: M{"id": "{root_id}"},
			After: func(f *fix, r *apptest.Response) {
				f.expectErr(f.do(post, usersPath+"/{target}/suspend", "{pk_key}", nil), 403, "FORBIDDEN")
			}},
		{Name: "keys: a user key is refused on the admin surface", Method: get, Path: usersPath, Token: "{k_key}",
			Setup: func(f *fix) { f.userKey("k", "owner", nil) }, Status: 403, Want: code("WRONG_SURFACE")},
		{Name: "keys: an operator's user key is refused on the admin surface", Method: get, Path: usersPath, Token: "{k_key}",
			Setup: func(f *fix) {
				f.user("own", steward.RoleOwner)
				f.key("k", "{root}", M{"name": "k", "key_type": "user", "user_id": "{own}"})
			}, Status: 403, Want: code("WRONG_SURFACE")},
		{Name: "keys: a user key is refused on the auth surface", Method: get, Path: "/api/v1/auth/me", Token: "{k_key}",
			Setup: func(f *fix) { f.userKey("k", "owner", nil) }, Status: 403, Want: code("WRONG_SURFACE")},
		{Name: "keys: an admin key from an address outside its allowed_ips", Method: get, Path: usersPath, Token: "{ak_key}",
			Setup: func(f *fix) {
				f.key("ak", "{root}", M{"name": "office only", "key_type": "admin", "allowed_ips": []string{"10.0.0.0/8", "2001:db8::/32"}})
			}, Status: 403, Want: M{"code": "FORBIDDEN", "details.ip": "127.0.0.1"}},
		{Name: "keys: an admin key from an address inside its allowed_ips", Method: get, Path: usersPath + "?limit=1", Token: "{ak_key}",
			Setup: func(f *fix) {
				f.key("ak", "{root}", M{"name": "loopback", "key_type": "admin", "allowed_ips": []string{"10.0.0.0/8", "127.0.0.1"}})
			}, Status: 200},
		{Name: "keys: an admin key over its rate limit gets 429", Method: get, Path: usersPath + "?limit=1", Token: "{ak_key}",
			Setup: func(f *fix) {
				f.key("ak", "{root}", M{"name": "slow", "key_type": "admin", "rate_limit_rpm": 2})
				f.must(200, get, usersPath+"?limit=1", "{ak_key}", nil)
				f.must(200, get, usersPath+"?limit=1", "{ak_key}", nil)
			}, Status: 429, Want: M{"code": "RATE_LIMITED", "retry_after": 30},
			After: func(f *fix, r *apptest.Response) {
				if r.Header.Get("Retry-After") != "30" {
					f.t.Errorf("Retry-After = %q, want 30", r.Header.Get("Retry-After"))
				}
				// Other credentials of the same operator are not limited.
				f.must(200, get, usersPath+"?limit=1", "{root}", nil)
			}},
		{Name: "keys: suspending the owner stops their admin key at once", Method: get, Path: usersPath + "?limit=1", Token: "{ak_key}",
			Setup: func(f *fix) {
				f.op("adm", steward.RoleAdmin)
				f.key("ak", "{adm_tok}", M{"name": "automation", "key_type": "admin"})
				f.must(200, get, usersPath+"?limit=1", "{ak_key}", nil)
				f.must(200, post, usersPath+"/{adm}/suspend", "{root}", nil)
			}, Status: 401, Want: M{"code": "UNAUTHENTICATED", "details.key_status": "OWNER_INACTIVE"},
			After: func(f *fix, r *apptest.Response) {
				f.checkField(f.must(200, get, keysPath+"/{ak}", "{root}", nil), "status", "disabled")
				f.must(200, post, usersPath+"/{adm}/unsuspend", "{root}", nil)
				f.must(200, get, usersPath+"?limit=1", "{ak_key}", nil)
				f.checkField(f.must(200, get, keysPath+"/{ak}", "{root}", nil), "status", "active")
			}},
		{Name: "keys: a revoked admin key is refused", Method: get, Path: usersPath, Token: "{ak_key}",
			Setup: func(f *fix) {
				f.key("ak", "{root}", M{"name": "gone", "key_type": "admin"})
				f.must(200, del, keysPath+"/{ak}", "{root}", nil)
			}, Status: 401, Want: M{"code": "UNAUTHENTICATED", "details.key_status": "REVOKED"}},
		{Name: "keys: an unknown admin key is refused", Method: get, Path: usersPath, Token: "stw_a_" + strings.Repeat("Z", 43),
			Status: 401, Want: code("UNAUTHENTICATED")},
	}
}

// --- Idempotency-Key on POST /admin/api-keys and rotate

func keyIdempotencyScenarios() []scenario {
	return []scenario{
		{Name: "keys: a repeated Idempotency-Key replays the created key", Method: post, Path: keysPath, Token: "{root}",
			Setup:  func(f *fix) { f.user("owner", steward.RoleUser) },
			Header: map[string]string{"Idempotency-Key": "create-{owner}"},
			Body:   M{"name": "once", "key_type": "user", "user_id": "{owner}"}, Status: 201,
			After: func(f *fix, r *apptest.Response) {
				if h := r.Header.Get("Idempotent-Replayed"); h != "" {
					f.t.Errorf("the first answer says Idempotent-Replayed: %q", h)
				}
				again := f.idem(post, keysPath, "{root}", "create-{owner}", M{"name": "once", "key_type": "user", "user_id": "{owner}"})
				if again.Status != 201 || again.Header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(again.Raw, r.Raw) {
					f.t.Errorf("replay: %d %q %s, want 201 true %s", again.Status, again.Header.Get("Idempotent-Replayed"), again.Raw, r.Raw)
				}
				if again.Header.Get("X-Request-ID") == "" || again.Header.Get("X-Request-ID") == r.Header.Get("X-Request-ID") {
					f.t.Errorf("the replay's X-Request-ID %q", again.Header.Get("X-Request-ID"))
				}
				l := f.must(200, get, keysPath+"?user_id={owner}", "{root}", nil)
				f.checkField(l, "data", length(1))
				f.checkField(l, "data.0.id", str(r, "id"))
				if e := f.audit(str(r, "id"), "api_key.create"); len(e) != 1 {
					f.t.Errorf("api_key.create entries: %d", len(e))
				}
				// The replayed key is the real one.
				f.verifier()
				f.checkField(f.verify(M{"key": str(again, "key")}), "code", "VALID")
				// Without the header, the same body makes another key.
				f.must(201, post, keysPath, "{root}", M{"name": "once", "key_type": "user", "user_id": "{owner}"})
				f.checkField(f.must(200, get, keysPath+"?user_id={owner}", "{root}", nil), "data", length(2))
			}},
		{Name: "keys: an Idempotency-Key with another body is refused", Method: post, Path: keysPath, Token: "{root}",
			Setup: func(f *fix) {
				f.user("owner", steward.RoleUser)
				first := f.do(post, keysPath, "{root}", M{"name": "first", "key_type": "user", "user_id": "{owner}"},
					map[string]string{"Idempotency-Key": "reuse-{owner}"})
				if first.Status != 201 {
					f.t.Fatalf("first create: %d %s", first.Status, first.Raw)
				}
			},
			Header: map[string]string{"Idempotency-Key": "reuse-{owner}"},
			Body:   M{"name": "second", "key_type": "user", "user_id": "{owner}"}, Status: 409, Want: code("IDEMPOTENCY_KEY_REUSED"),
			After: func(f *fix, r *apptest.Response) {
				if r.Header.Get("Idempotent-Replayed") != "" {
					f.t.Errorf("a refused reuse says Idempotent-Replayed")
				}
				l := f.must(200, get, keysPath+"?user_id={owner}", "{root}", nil)
				f.checkField(l, "data", length(1))
				f.checkField(l, "data.0.name", "first")
			}},
		{Name: "keys: the same Idempotency-Key from another caller is independent", Method: post, Path: keysPath, Token: "{adm_tok}",
			Setup: func(f *fix) {
				f.op("adm", steward.RoleAdmin)
				f.user("owner", steward.RoleUser)
				first := f.do(post, keysPath, "{root}", M{"name": "shared", "key_type": "user", "user_id": "{owner}"},
					map[string]string{"Idempotency-Key": "shared-{owner}"})
				if first.Status != 201 {
					f.t.Fatalf("root's create: %d %s", first.Status, first.Raw)
				}
				f.e["first"] = str(first, "id")
			},
			Header: map[string]string{"Idempotency-Key": "shared-{owner}"},
			Body:   M{"name": "shared", "key_type": "user", "user_id": "{owner}"}, Status: 201,
			Want: M{"created_by": "{adm}", "id": prefix("key_")},
			After: func(f *fix, r *apptest.Response) {
				if r.Header.Get("Idempotent-Replayed") != "" || str(r, "id") == f.e["first"] {
					f.t.Errorf("another caller's request was answered with root's: %s", r.Raw)
				}
				f.checkField(f.must(200, get, keysPath+"?user_id={owner}", "{root}", nil), "data", length(2))
			}},
		{Name: "keys: the same caller signed in again gets the replay", Method: post, Path: keysPath, Token: "{adm_jwt}",
			Setup: func(f *fix) {
				f.op("adm", steward.RoleAdmin)
				f.user("owner", steward.RoleUser)
				first := f.do(post, keysPath, "{adm_tok}", M{"name": "again", "key_type": "user", "user_id": "{owner}"},
					map[string]string{"Idempotency-Key": "again-{owner}"})
				if first.Status != 201 {
					f.t.Fatalf("first create: %d %s", first.Status, first.Raw)
				}
				f.e["first"] = str(first, "id")
				f.loginHTTP("adm") // a second session of the same operator
			},
			Header: map[string]string{"Idempotency-Key": "again-{owner}"},
			Body:   M{"name": "again", "key_type": "user", "user_id": "{owner}"}, Status: 201,
			After: func(f *fix, r *apptest.Response) {
				if r.Header.Get("Idempotent-Replayed") != "true" || str(r, "id") != f.e["first"] {
					f.t.Errorf("a retry from a new session was not replayed: %s", r.Raw)
				}
				f.checkField(f.must(200, get, keysPath+"?user_id={owner}", "{root}", nil), "data", length(1))
			}},
		{Name: "keys: a 422 answer is replayed too", Method: post, Path: keysPath, Token: "{root}",
			Setup:  func(f *fix) { f.user("owner", steward.RoleUser) },
			Header: map[string]string{"Idempotency-Key": "bad-{owner}"},
			Body:   M{"name": "bad", "key_type": "robot", "user_id": "{owner}"}, Status: 422, Want: validation("key_type"),
			After: func(f *fix, r *apptest.Response) {
				again := f.idem(post, keysPath, "{root}", "bad-{owner}", M{"name": "bad", "key_type": "robot", "user_id": "{owner}"})
				if again.Status != 422 || again.Header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(again.Raw, r.Raw) {
					f.t.Errorf("replay: %d %q %s, want 422 true %s", again.Status, again.Header.Get("Idempotent-Replayed"), again.Raw, r.Raw)
				}
				if ct := again.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
					f.t.Errorf("replayed Content-Type %q", ct)
				}
				// A corrected body under the same key is another request.
				fixed := f.do(post, keysPath, "{root}", M{"name": "bad", "key_type": "user", "user_id": "{owner}"},
					map[string]string{"Idempotency-Key": "bad-{owner}"})
				f.expectErr(fixed, 409, "IDEMPOTENCY_KEY_REUSED")
				f.checkField(f.must(200, get, keysPath+"?user_id={owner}", "{root}", nil), "data", length(0))
			}},
		{Name: "keys: concurrent duplicates with one Idempotency-Key make one key", Method: get, Path: keysPath + "?user_id={owner}", Token: "{root}",
			Setup: func(f *fix) {
				f.user("owner", steward.RoleUser)
				body := []byte(f.expand(`{"name": "raced", "key_type": "user", "user_id": "{owner}"}`))
				hdr := map[string]string{"Idempotency-Key": f.expand("race-{owner}")}
				const n = 6
				var wg sync.WaitGroup
				res := make([]*apptest.Response, n)
				errs := make([]error, n)
				for i := range n {
					wg.Add(1)
					go func() {
						defer wg.Done()
						res[i], errs[i] = send(f.a, post, keysPath, f.a.RootToken, body, true, hdr)
					}()
				}
				wg.Wait()
				replayed := 0
				for i := range n {
					f.ok(errs[i])
					if res[i].Status != 201 || !bytes.Equal(res[i].Raw, res[0].Raw) {
						f.t.Errorf("duplicate %d: %d %s, want the first answer %s", i, res[i].Status, res[i].Raw, res[0].Raw)
					}
					if res[i].Header.Get("Idempotent-Replayed") == "true" {
						replayed++
					}
				}
				if replayed != n-1 {
					f.t.Errorf("%d of %d answers are replays, want %d", replayed, n, n-1)
				}
				f.e["id"] = str(res[0], "id")
			},
			Status: 200, Want: M{"data": length(1), "data.0.id": "{id}"}},
		{Name: "keys: an Idempotency-Key over 255 characters", Method: post, Path: keysPath, Token: "{root}",
			Setup:  func(f *fix) { f.user("owner", steward.RoleUser) },
			Header: map[string]string{"Idempotency-Key": strings.Repeat("k", 256)},
			Body:   M{"name": "x", "key_type": "user", "user_id": "{owner}"}, Status: 400, Want: badRequest("Idempotency-Key"),
			After: func(f *fix, r *apptest.Response) {
				f.checkField(f.must(200, get, keysPath+"?user_id={owner}", "{root}", nil), "data", length(0))
				ok := f.do(post, keysPath, "{root}", M{"name": "x", "key_type": "user", "user_id": "{owner}"},
					map[string]string{"Idempotency-Key": strings.Repeat("k", 255)})
				if ok.Status != 201 {
					f.t.Errorf("a 255-character Idempotency-Key: %d %s", ok.Status, ok.Raw)
				}
			}},
		{Name: "keys: an Idempotency-Key with a control character", Method: post, Path: keysPath, Token: "{root}",
			Setup:  func(f *fix) { f.user("owner", steward.RoleUser) },
			Header: map[string]string{"Idempotency-Key": "tab\there"},
			Body:   M{"name": "x", "key_type": "user", "user_id": "{owner}"}, Status: 400, Want: badRequest("Idempotency-Key")},
		{Name: "keys: a repeated Idempotency-Key replays a rotation", Method: post, Path: keysPath + "/{k}/rotate", Token: "{root}",
			Setup:  func(f *fix) { f.verifier(); f.userKey("k", "owner", nil) },
			Header: map[string]string{"Idempotency-Key": "rotate-{k}"},
			Body:   M{"grace_period_seconds": 0}, Status: 201, Want: M{"rotated_from": "{k}"},
			After: func(f *fix, r *apptest.Response) {
				again := f.idem(post, keysPath+"/{k}/rotate", "{root}", "rotate-{k}", M{"grace_period_seconds": 0})
				if again.Status != 201 || again.Header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(again.Raw, r.Raw) {
					f.t.Errorf("replay: %d %q %s, want 201 true %s", again.Status, again.Header.Get("Idempotent-Replayed"), again.Raw, r.Raw)
				}
				f.checkField(f.must(200, get, usersPath+"/{owner}/api-keys", "{root}", nil), "data", length(2))
				if e := f.audit(f.e["k"], "api_key.rotate"); len(e) != 1 {
					f.t.Errorf("api_key.rotate entries: %d", len(e))
				}
				f.checkField(f.verify(M{"key": str(again, "key")}), "code", "VALID")
				other := f.do(post, keysPath+"/{k}/rotate", "{root}", M{"grace_period_seconds": 60},
					map[string]string{"Idempotency-Key": "rotate-{k}"})
				f.expectErr(other, 409, "IDEMPOTENCY_KEY_REUSED")
				// The same Idempotency-Key on another path is another request.
				f.userKey("k2", "owner", nil)
				r2 := f.do(post, keysPath+"/{k2}/rotate", "{root}", M{"grace_period_seconds": 0},
					map[string]string{"Idempotency-Key": "rotate-{k}"})
				if r2.Status != 201 || r2.Header.Get("Idempotent-Replayed") != "" || str(r2, "rotated_from") != f.e["k2"] {
					f.t.Errorf("same Idempotency-Key on another key: %d %s", r2.Status, r2.Raw)
				}
			}},
	}
}

// --- POST /platform/keys/verify: every code, the whole answer each time

func keyVerifyScenarios() []scenario {
	owner := func(f *fix) { f.verifier(); f.user("owner", steward.RoleUser, withTenant("ten_v")) }
	userKey := func(f *fix, extra M) {
		b := M{"name": "v", "key_type": "user", "user_id": "{owner}", "scopes": []string{"read"}, "rate_limit_rpm": 60}
		for k, v := range extra {
			b[k] = v
		}
		f.key("k", "{root}", b)
	}
	base := func(f *fix, valid bool, code string, limit, remaining int, reset int64) M {
		return verdict(valid, code, f.e["k"], "user", f.e["owner"], "ten_v", []string{"read"}, limit, remaining, reset)
	}
	sc := func(name string, setup func(f *fix), body M, want func(f *fix) M, after ...func(f *fix, r *apptest.Response)) scenario {
		s := scenario{Name: "verify: " + name, Method: post, Path: verifyPath, Token: "{pk_key}", Setup: setup, Body: body, Status: 200,
			After: func(f *fix, r *apptest.Response) { f.checkVerdict(r, want(f)) }}
		if len(after) > 0 {
			s.After = func(f *fix, r *apptest.Response) { f.checkVerdict(r, want(f)); after[0](f, r) }
		}
		return s
	}
	return []scenario{
		sc("VALID", func(f *fix) { owner(f); userKey(f, nil) }, M{"key": "{k_key}", "ip": "203.0.113.5", "scope": "read"},
			func(f *fix) M { return base(f, true, "VALID", 60, 59, startUnix+1) },
			func(f *fix, r *apptest.Response) {
				// The next one spends one more second of the allowance.
				f.checkVerdict(f.verify(M{"key": "{k_key}"}), base(f, true, "VALID", 60, 58, startUnix+2))
				if e := f.walk("/api/v1/admin/audit-log?limit=200&target_id="+f.e["k"], "{root}"); len(e) != 1 {
					f.t.Errorf("verification wrote audit entries: %v", e)
				}
			}),
		sc("VALID for an admin key holding *", func(f *fix) {
			f.verifier()
			f.key("ak", "{root}", M{"name": "star", "key_type": "admin", "scopes": []string{"*"}})
		}, M{"key": "{ak_key}", "scope": "anything:at-all"},
			func(f *fix) M {
				return verdict(true, "VALID", f.e["ak"], "admin", f.e["root_id"], "", []string{"*"}, 0, 0, 0)
			}),
		sc("NOT_FOUND for a well-formed unknown key", func(f *fix) { f.verifier() },
			M{"key": "stw_u_" + strings.Repeat("Q", 43)}, func(f *fix) M { return notFoundVerdict }),
		sc("NOT_FOUND for text that is not a key", func(f *fix) { f.verifier() },
			M{"key": "not a key at all", "ip": "203.0.113.5", "scope": "read"}, func(f *fix) M { return notFoundVerdict }),
		sc("NOT_FOUND for a key holding NUL and control characters (the input rule does not turn it into a 422)", func(f *fix) { f.verifier() },
			M{"key": "stw_u_\x00" + strings.Repeat("Q", 40) + "\x01"}, func(f *fix) M { return notFoundVerdict }),
		sc("NOT_FOUND for a key of another prefix", func(f *fix) { owner(f); userKey(f, nil) },
			M{"key": "{k_key}x"}, func(f *fix) M { return notFoundVerdict }),
		sc("NOT_FOUND for a session token", func(f *fix) { f.verifier() },
			M{"key": "{root}"}, func(f *fix) M { return notFoundVerdict }),
		sc("REVOKED", func(f *fix) {
			owner(f)
			userKey(f, nil)
			f.must(200, del, keysPath+"/{k}", "{root}", nil)
		}, M{"key": "{k_key}", "scope": "read"}, func(f *fix) M { return base(f, false, "REVOKED", 60, 0, 0) }),
		sc("REVOKED before DISABLED and OWNER_INACTIVE", func(f *fix) {
			owner(f)
			userKey(f, nil)
			f.must(200, del, keysPath+"/{k}", "{root}", nil)
			f.must(200, post, usersPath+"/{owner}/ban", "{root}", M{"reason": "fraud"})
		}, M{"key": "{k_key}"}, func(f *fix) M { return base(f, false, "REVOKED", 60, 0, 0) }),
		{Name: "verify: EXPIRED", Fresh: true, Method: post, Path: verifyPath, Token: "{pk_key}",
			Setup: func(f *fix) {
				owner(f)
				userKey(f, M{"expires_at": "2026-03-01T13:00:00Z"})
				f.checkVerdict(f.verify(M{"key": "{k_key}"}), base(f, true, "VALID", 60, 59, startUnix+1))
				f.a.Clock.Advance(time.Hour)
			},
			Body: M{"key": "{k_key}", "scope": "read"}, Status: 200,
			After: func(f *fix, r *apptest.Response) {
				f.checkVerdict(r, base(f, false, "EXPIRED", 60, 0, 0))
				f.checkField(f.must(200, get, keysPath+"/{k}", "{root}", nil), "status", "expired")
			}},
		sc("DISABLED", func(f *fix) {
			owner(f)
			userKey(f, nil)
			f.setKeyStatus("{k}", steward.KeyDisabled)
		}, M{"key": "{k_key}"}, func(f *fix) M { return base(f, false, "DISABLED", 60, 0, 0) },
			func(f *fix, r *apptest.Response) {
				f.checkField(f.must(200, get, keysPath+"/{k}", "{root}", nil), "status", "disabled")
			}),
		sc("DISABLED before OWNER_INACTIVE", func(f *fix) {
			owner(f)
			userKey(f, nil)
			f.setKeyStatus("{k}", steward.KeyDisabled)
			f.must(200, post, usersPath+"/{owner}/suspend", "{root}", nil)
		}, M{"key": "{k_key}"}, func(f *fix) M { return base(f, false, "DISABLED", 60, 0, 0) }),
		sc("OWNER_INACTIVE when the owner is suspended", func(f *fix) {
			owner(f)
			userKey(f, nil)
			f.must(200, post, usersPath+"/{owner}/suspend", "{root}", nil)
		}, M{"key": "{k_key}", "ip": "203.0.113.5"}, func(f *fix) M { return base(f, false, "OWNER_INACTIVE", 60, 0, 0) },
			func(f *fix, r *apptest.Response) {
				f.must(200, post, usersPath+"/{owner}/unsuspend", "{root}", nil)
				f.checkVerdict(f.verify(M{"key": "{k_key}"}), base(f, true, "VALID", 60, 59, startUnix+1))
			}),
		sc("OWNER_INACTIVE when the owner is banned", func(f *fix) {
			owner(f)
			userKey(f, nil)
			f.must(200, post, usersPath+"/{owner}/ban", "{root}", M{"reason": "abuse"})
		}, M{"key": "{k_key}"}, func(f *fix) M { return base(f, false, "OWNER_INACTIVE", 60, 0, 0) }),
		sc("OWNER_INACTIVE when the owner is deleted", func(f *fix) {
			owner(f)
			userKey(f, nil)
			f.must(200, del, usersPath+"/{owner}", "{root}", nil)
		}, M{"key": "{k_key}"}, func(f *fix) M { return base(f, false, "OWNER_INACTIVE", 60, 0, 0) }),
		sc("OWNER_INACTIVE before IP_NOT_ALLOWED", func(f *fix) {
			owner(f)
			userKey(f, M{"allowed_ips": []string{"10.0.0.0/8"}})
			f.must(200, post, usersPath+"/{owner}/suspend", "{root}", nil)
		}, M{"key": "{k_key}", "ip": "192.0.2.1"}, func(f *fix) M { return base(f, false, "OWNER_INACTIVE", 60, 0, 0) }),
		sc("IP_NOT_ALLOWED outside the key's addresses", func(f *fix) {
			owner(f)
			userKey(f, M{"allowed_ips": []string{"10.0.0.0/8", "2001:db8::/32"}})
		}, M{"key": "{k_key}", "ip": "192.0.2.1", "scope": "read"}, func(f *fix) M { return base(f, false, "IP_NOT_ALLOWED", 60, 0, 0) },
			func(f *fix, r *apptest.Response) {
				f.checkVerdict(f.verify(M{"key": "{k_key}", "ip": "2001:db9::1"}), base(f, false, "IP_NOT_ALLOWED", 60, 0, 0))
				f.checkVerdict(f.verify(M{"key": "{k_key}", "ip": "not-an-ip"}), base(f, false, "IP_NOT_ALLOWED", 60, 0, 0))
				f.checkVerdict(f.verify(M{"key": "{k_key}", "ip": "10.20.30.40"}), base(f, true, "VALID", 60, 59, startUnix+1))
				f.checkVerdict(f.verify(M{"key": "{k_key}", "ip": "::ffff:10.1.1.1"}), base(f, true, "VALID", 60, 58, startUnix+2))
				f.checkVerdict(f.verify(M{"key": "{k_key}", "ip": "2001:db8::42"}), base(f, true, "VALID", 60, 57, startUnix+3))
			}),
		sc("IP_NOT_ALLOWED when a restricted key's caller gives no address", func(f *fix) {
			owner(f)
			userKey(f, M{"allowed_ips": []string{"10.0.0.0/8"}})
		}, M{"key": "{k_key}"}, func(f *fix) M { return base(f, false, "IP_NOT_ALLOWED", 60, 0, 0) }),
		sc("INSUFFICIENT_SCOPE", func(f *fix) { owner(f); userKey(f, nil) },
			M{"key": "{k_key}", "scope": "write"}, func(f *fix) M { return base(f, false, "INSUFFICIENT_SCOPE", 60, 0, 0) }),
		sc("INSUFFICIENT_SCOPE before RATE_LIMITED", func(f *fix) {
			owner(f)
			userKey(f, M{"rate_limit_rpm": 1})
			f.verify(M{"key": "{k_key}"})
		}, M{"key": "{k_key}", "scope": "write"}, func(f *fix) M { return base(f, false, "INSUFFICIENT_SCOPE", 1, 0, 0) }),
		sc("RATE_LIMITED", func(f *fix) {
			owner(f)
			userKey(f, M{"rate_limit_rpm": 1})
			f.checkVerdict(f.verify(M{"key": "{k_key}", "scope": "read"}), base(f, true, "VALID", 1, 0, startUnix+60))
		}, M{"key": "{k_key}", "scope": "read"}, func(f *fix) M { return base(f, false, "RATE_LIMITED", 1, 0, startUnix+60) },
			func(f *fix, r *apptest.Response) {
				// Lifting the limit starts afresh.
				f.must(200, patch, keysPath+"/{k}", "{root}", M{"rate_limit_rpm": 2})
				f.checkVerdict(f.verify(M{"key": "{k_key}"}), base(f, true, "VALID", 2, 1, startUnix+30))
			}),
		sc("RATE_LIMITED allows a whole minute in a burst", func(f *fix) {
			owner(f)
			userKey(f, M{"rate_limit_rpm": 5})
			for i := 4; i >= 0; i-- {
				f.checkVerdict(f.verify(M{"key": "{k_key}"}), base(f, true, "VALID", 5, i, startUnix+int64(12*(5-i))))
			}
		}, M{"key": "{k_key}"}, func(f *fix) M { return base(f, false, "RATE_LIMITED", 5, 0, startUnix+60) }),

		{Name: "verify: without a key", Method: post, Path: verifyPath, Token: "{pk_key}", Setup: func(f *fix) { f.verifier() },
			Body: M{"ip": "203.0.113.5"}, Status: 422, Want: validation("key")},
		{Name: "verify: with an unknown field", Method: post, Path: verifyPath, Token: "{pk_key}", Setup: func(f *fix) { f.verifier() },
			Body: M{"key": "x", "tenant": "y"}, Status: 400, Want: M{"code": "BAD_REQUEST", "details.fields.tenant": "unknown field"}},
		{Name: "verify: with an empty body", Method: post, Path: verifyPath, Token: "{pk_key}", Setup: func(f *fix) { f.verifier() },
			Body: ``, Status: 400, Want: code("BAD_REQUEST")},
		{Name: "verify: the calling key's own rate limit is a 429", Method: post, Path: verifyPath, Token: "{pk_key}",
			Setup: func(f *fix) {
				f.key("pk", "{root}", M{"name": "slow verifier", "key_type": "platform", "scopes": []string{"keys:verify"}, "rate_limit_rpm": 1})
				f.must(200, post, verifyPath, "{pk_key}", M{"key": "x"})
			},
			Body: M{"key": "x"}, Status: 429, Want: M{"code": "RATE_LIMITED", "retry_after": 60}},
		{Name: "verify: the calling key's allowed_ips apply", Method: post, Path: verifyPath, Token: "{pk_key}",
			Setup: func(f *fix) {
				f.key("pk", "{root}", M{"name": "remote verifier", "key_type": "platform", "scopes": []string{"keys:verify"}, "allowed_ips": []string{"10.0.0.0/8"}})
			},
			Body: M{"key": "x"}, Status: 403, Want: code("FORBIDDEN")},
		{Name: "verify: the calling key's owner suspended", Method: post, Path: verifyPath, Token: "{pk_key}",
			Setup: func(f *fix) {
				f.user("op", steward.RoleAdmin)
				f.key("pk", "{root}", M{"name": "op verifier", "key_type": "platform", "user_id": "{op}", "scopes": []string{"keys:verify"}})
				f.must(200, post, verifyPath, "{pk_key}", M{"key": "x"})
				f.must(200, post, usersPath+"/{op}/suspend", "{root}", nil)
			},
			Body: M{"key": "x"}, Status: 401, Want: code("UNAUTHENTICATED")},
	}
}

// --- audit entries and the secret

func keySecrecyScenarios() []scenario {
	return []scenario{
		{Name: "keys: the secret appears only in the create and rotate answers", Fresh: true, Method: get, Path: "/api/v1/admin/audit-log/export?format=ndjson", Token: "{root}",
			Setup: func(f *fix) {
				f.verifier()
				f.op("adm", steward.RoleAdmin)
				f.user("owner", steward.RoleUser, withTenant("ten_s"))
				var answers []*apptest.Response
				add := func(r *apptest.Response) { answers = append(answers, r) }
				f.key("k", "{adm_tok}", M{"name": "secret", "key_type": "user", "user_id": "{owner}", "allowed_ips": []string{"10.0.0.0/8"}})
				f.key("ak", "{adm_tok}", M{"name": "adm automation", "key_type": "admin"})
				add(f.must(200, patch, keysPath+"/{k}", "{adm_tok}", M{"name": "renamed", "allowed_ips": nil}))
				add(f.verify(M{"key": "{k_key}", "ip": "10.1.1.1"}))
				add(f.must(200, get, usersPath+"?limit=1", "{ak_key}", nil))
				rot := f.must(201, post, keysPath+"/{k}/rotate", "{adm_tok}", M{"grace_period_seconds": 60})
				f.e["n"], f.e["n_key"] = str(rot, "id"), str(rot, "key")
				add(f.must(200, del, keysPath+"/{n}", "{adm_tok}", M{"reason": "done"}))
				add(f.must(200, post, keysPath+"/bulk-revoke", "{adm_tok}", M{"key_ids": []string{"{k}"}}))
				add(f.verify(M{"key": "{n_key}"}))
				add(f.verify(M{"key": "{k_key}"}))
				f.flushUses()
				add(f.must(200, get, keysPath+"/{k}", "{root}", nil))
				add(f.must(200, get, keysPath+"/{n}", "{root}", nil))
				add(f.must(200, get, keysPath+"/{ak}", "{root}", nil))
				add(f.must(200, get, keysPath+"?limit=200", "{root}", nil))
				add(f.must(200, get, usersPath+"/{owner}/api-keys", "{root}", nil))
				add(f.must(200, get, keysPath+"/stats", "{root}", nil))
				add(f.must(200, get, "/api/v1/admin/audit-log?limit=200", "{root}", nil))
				add(f.must(200, get, "/api/v1/admin/audit-log/export?format=csv", "{root}", nil))
				for _, a := range answers {
					f.noSecret("an answer", a.Raw, "k_key", "n_key", "ak_key", "pk_key")
				}
			},
			Status: 200,
			After: func(f *fix, r *apptest.Response) {
				f.noSecret("the audit log", r.Raw, "k_key", "n_key", "ak_key", "pk_key")
				for _, c := range []struct{ target, action string }{
					{"k", "api_key.create"}, {"ak", "api_key.create"}, {"pk", "api_key.create"}, {"k", "api_key.update"},
					{"k", "api_key.rotate"}, {"n", "api_key.revoke"}, {"k", "api_key.revoke"},
				} {
					e := f.audit(f.e[c.target], c.action)
					if len(e) != 1 {
						f.t.Errorf("%s entries on %s: %d", c.action, c.target, len(e))
						continue
					}
					if e[0]["target_type"] != "api_key" || e[0]["request_id"] == "" || e[0]["hash"] == "" {
						f.t.Errorf("%s entry: %v", c.action, e[0])
					}
				}
				create := f.audit(f.e["k"], "api_key.create")
				if len(create) == 1 {
					if create[0]["actor_id"] != f.e["adm"] || create[0]["tenant_id"] != "ten_s" {
						f.t.Errorf("api_key.create entry: %v", create[0])
					}
					ch, _ := create[0]["changes"].(map[string]any)
					for _, field := range []string{"name", "key_type", "user_id", "key_prefix", "last_four"} {
						if ch[field] == nil {
							f.t.Errorf("api_key.create changes lack %s: %v", field, ch)
						}
					}
				}
				// The audit chain still holds.
				f.checkField(f.must(200, get, "/api/v1/admin/audit-log/verify", "{root}", nil), "ok", true)
			}},
	}
}

// manyKeyIDs is n distinct key ids.
func manyKeyIDs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("key_%026d", i)
	}
	return out
}

// noSecret fails when raw holds any of the named keys' text, its secret part
// or its SHA-256 in hex or base64.
func (f *fix) noSecret(what string, raw []byte, names ...string) {
	f.t.Helper()
	for _, n := range names {
		text := f.e[n]
		if text == "" {
			f.t.Fatalf("no key %s in the env", n)
		}
		h := sha256.Sum256([]byte(text))
		for _, needle := range []string{text, text[6:], hex.EncodeToString(h[:]), base64.StdEncoding.EncodeToString(h[:]),
			base64.RawURLEncoding.EncodeToString(h[:])} {
			if bytes.Contains(raw, []byte(needle)) {
				f.t.Errorf("%s contains %s's secret (%.12s...): %.300s", what, n, needle, raw)
			}
		}
	}
}
