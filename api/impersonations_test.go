package api_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
	"github.com/stewardhq/steward/service"
	"github.com/stewardhq/steward/store"
)

// impersonate starts an impersonation of user name by operator token tok and
// stores {name_imp} (the impersonation id), {name_imp_tok} and {name_imp_jwt}.
func (f *fix) impersonate(name, tok string, body M) *apptest.Response {
	f.t.Helper()
	if body == nil {
		body = M{"reason": "ticket 42"}
	}
	r := f.must(201, post, "/api/v1/admin/users/{"+name+"}/impersonate", tok, body)
	f.e[name+"_imp"], f.e[name+"_imp_tok"], f.e[name+"_imp_jwt"] =
		str(r, "impersonation_id"), str(r, "token"), str(r, "access_token")
	return r
}

// jwtClaims decodes an access token's payload (its signature is Steward's
// business, checked by every request that uses it).
func jwtClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestImpersonationStart(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		f := newFix(t, a)
		op := f.op("op", steward.RoleOwner)
		u := f.user("u", steward.RoleUser, withTenant("ten_imp"))
		r := f.impersonate("u", "{op_tok}", nil)
		f.checkField(r, "read_only", true)
		f.checkField(r, "token", prefix("stw_s_"))
		f.checkField(r, "impersonation_id", prefix("imp_"))
		if got, want := str(r, "expires_at"), apptest.Start.Add(15*time.Minute).Format(time.RFC3339); got != want {
			t.Errorf("expires_at = %s, want %s (the 15-minute default)", got, want)
		}
		c := jwtClaims(t, f.e["u_imp_jwt"])
		if act, _ := c["act"].(map[string]any); act["sub"] != op.ID || c["sub"] != u.ID || c["read_only"] != true {
			t.Errorf("access token claims = %v, want sub %s, act.sub %s, read_only", c, u.ID, op.ID)
		}
		for _, tok := range []string{"{u_imp_tok}", "{u_imp_jwt}"} {
			me := f.must(200, get, "/api/v1/auth/me", tok, nil)
			f.checkField(me, "id", u.ID)
			f.expectErr(f.do(get, "/api/v1/admin/users", tok, nil), 403, steward.CodeWrongSurface)
		}
		start := f.audit("{u_imp}", "impersonation.start")
		if len(start) != 1 || start[0]["actor_id"] != op.ID || start[0]["reason"] != "ticket 42" {
			t.Fatalf("impersonation.start entries = %v", start)
		}
		meta, _ := start[0]["metadata"].(map[string]any)
		if meta["duration_seconds"] != float64(900) || meta["allow_writes"] != false || meta["user_id"] != u.ID {
			t.Errorf("impersonation.start metadata = %v", meta)
		}

		// The session shows among the user's, marked.
		sessions := f.must(200, get, "/api/v1/admin/users/{u}/sessions", "{root}", nil)
		if list := items(sessions); len(list) != 1 || list[0]["impersonator_id"] != op.ID ||
			list[0]["impersonation_id"] != f.e["u_imp"] || list[0]["read_only"] != true {
			t.Errorf("user's sessions = %v, want the impersonation's, marked", list)
		}

		// allow_writes is recorded; the alias takes the other shape; duration in nanoseconds.
		f.user("w", steward.RoleUser)
		r = f.impersonate("w", "{op_tok}", M{"reason": "fix data", "allow_writes": true, "duration": int64(30 * time.Minute)})
		f.checkField(r, "read_only", false)
		if got, want := str(r, "expires_at"), apptest.Start.Add(30*time.Minute).Format(time.RFC3339); got != want {
			t.Errorf("expires_at with duration in ns = %s, want %s", got, want)
		}
		if meta, _ := f.audit("{w_imp}", "impersonation.start")[0]["metadata"].(map[string]any); meta["allow_writes"] != true {
			t.Errorf("allow_writes not recorded: %v", meta)
		}
		r = f.must(201, post, "/api/v1/admin/impersonate", "{op_tok}", M{"external_user_id": "{w}", "ttl_sec": 60, "reason": "alias"})
		if got, want := str(r, "expires_at"), apptest.Start.Add(time.Minute).Format(time.RFC3339); got != want {
			t.Errorf("alias expires_at = %s, want %s", got, want)
		}
	})
}

func TestImpersonationRefusals(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		f := newFix(t, a)
		f.op("op", steward.RoleOwner)
		f.op("adm", steward.RoleAdmin)
		f.user("peer", steward.RoleOwner)
		f.user("u", steward.RoleUser)
		for _, name := range []string{"susp", "banned", "gone"} {
			f.user(name, steward.RoleUser)
		}
		f.must(200, post, "/api/v1/admin/users/{susp}/suspend", "{root}", M{"reason": "x"})
		f.must(200, post, "/api/v1/admin/users/{banned}/ban", "{root}", M{"reason": "x"})
		f.must(200, del, "/api/v1/admin/users/{gone}", "{root}", nil)
		f.user("member", steward.RoleUser, withTenant("ten_down"))
		_, err := a.Svc.Tenants.SuspendTenant(apptest.System(), "ten_down", "unpaid")
		f.ok(err)
		// member2's ban lapses while its tenant is suspended: the user is
		// active again, the tenant is not.
		f.user("member2", steward.RoleUser, withTenant("ten_down2"))
		until := a.Clock.Now().Add(time.Minute)
		_, err = a.Svc.Users.BanUser(apptest.System(), f.e["member2"], steward.BanInput{Reason: "x", ExpiresAt: &until})
		f.ok(err)
		_, err = a.Svc.Tenants.SuspendTenant(apptest.System(), "ten_down2", "unpaid")
		f.ok(err)
		a.Clock.Advance(time.Minute)

		path := "/api/v1/admin/users/{u}/impersonate"
		r := f.do(post, path, "{op_tok}", M{})
		f.expectErr(r, 422, steward.CodeValidation)
		f.checkField(r, "details.fields.reason", contains("audit log"))
		f.expectErr(f.do(post, path, "{op_tok}", M{"reason": "   "}), 422, steward.CodeValidation)
		r = f.do(post, path, "{op_tok}", M{"reason": "x", "duration_seconds": 3601})
		f.expectErr(r, 422, steward.CodeValidation)
		f.checkField(r, "details.fields.duration_seconds", present())
		r = f.do(post, path, "{op_tok}", M{"reason": "x", "duration": int64(2 * time.Hour)})
		f.checkField(r, "details.fields.duration", present())
		r = f.do(post, path, "{op_tok}", M{"reason": "x", "duration_seconds": 0})
		f.checkField(r, "details.fields.duration_seconds", present())
		r = f.do(post, path, "{op_tok}", M{"reason": "x", "duration_seconds": 60, "duration": int64(time.Minute)})
		f.checkField(r, "details.fields.duration", present())
		r = f.do(post, "/api/v1/admin/impersonate", "{op_tok}", M{"external_user_id": "{u}", "ttl_sec": 7200, "reason": "x"})
		f.checkField(r, "details.fields.ttl_sec", present())
		r = f.do(post, "/api/v1/admin/impersonate", "{op_tok}", M{"external_user_id": "{u}"})
		f.checkField(r, "details.fields.reason", present())

		f.expectErr(f.do(post, "/api/v1/admin/users/{op}/impersonate", "{op_tok}", M{"reason": "x"}), 422, steward.CodeCannotTargetSelf)
		f.expectErr(f.do(post, "/api/v1/admin/users/{peer}/impersonate", "{op_tok}", M{"reason": "x"}), 403, steward.CodeInsufficientRole)
		f.must(201, post, "/api/v1/admin/users/{op}/impersonate", "{root}", M{"reason": "x"}) // an owner, by a super_admin
		for _, name := range []string{"susp", "banned", "gone", "member", "member2"} {
			f.expectErr(f.do(post, "/api/v1/admin/users/{"+name+"}/impersonate", "{op_tok}", M{"reason": "x"}), 409, steward.CodeInvalidState)
		}
		f.expectErr(f.do(post, "/api/v1/admin/users/{unknown}/impersonate", "{op_tok}", M{"reason": "x"}), 404, steward.CodeNotFound)
		f.expectErr(f.do(post, path, "{adm_tok}", M{"reason": "x"}), 403, steward.CodeForbidden)

		// A super_admin may not open another super_admin's account either.
		f.user("root2", steward.RoleSuperAdmin)
		f.expectErr(f.do(post, "/api/v1/admin/users/{root2}/impersonate", "{root}", M{"reason": "x"}), 403, steward.CodeInsufficientRole)
	})
}

// TestImpersonationEnds: stopping, expiry, and suspending, banning or
// force-logging-out either party end the impersonation on the next request,
// with the session token and the access JWT alike.
// TestImpersonationEnds: every change that ends an impersonation's access
// also records it as ended, in the same transaction, naming why.
func TestImpersonationEnds(t *testing.T) {
	type ender struct {
		name string
		end  func(f *fix)
		// endedBy is the ended_by wanted; "" means the id of whoever stopped it.
		endedBy string
		by      string
	}
	on := func(who, action string, body any) func(f *fix) {
		return func(f *fix) { f.must(200, post, "/api/v1/admin/users/{"+who+"}/"+action, "{root}", body) }
	}
	enders := []ender{
		{"stop", func(f *fix) { f.must(200, post, "/api/v1/admin/impersonations/{u_imp}/stop", "{op_tok}", nil) }, "", "op"},
		{"stop by another operator", func(f *fix) { f.must(200, post, "/api/v1/admin/impersonations/{u_imp}/stop", "{root}", nil) }, "", "root"},
		{"user suspended", on("u", "suspend", M{"reason": "x"}), "user.suspend", ""},
		{"user banned", on("u", "ban", M{"reason": "x"}), "user.ban", ""},
		{"user forced out", on("u", "force-logout", nil), "user.force_logout", ""},
		{"user password changed", on("u", "change-password", M{"new_password": newPassword}), "user.password_change", ""},
		{"user deleted", func(f *fix) { f.must(200, del, "/api/v1/admin/users/{u}", "{root}", nil) }, "user.delete", ""},
		{"user purged", func(f *fix) { f.must(200, del, "/api/v1/admin/users/{u}?purge=true&confirm=true", "{root}", nil) }, "user.purge", ""},
		{"operator purged", func(f *fix) { f.must(200, del, "/api/v1/admin/users/{op}?purge=true&confirm=true", "{root}", nil) }, "operator.purge", ""},
		{"session revoked", func(f *fix) {
			for _, s := range items(f.must(200, get, "/api/v1/admin/users/{u}/sessions", "{root}", nil)) {
				f.must(200, del, "/api/v1/admin/sessions/"+s["id"].(string), "{root}", nil)
			}
		}, "session.revoke", ""},
		{"logout with its token", func(f *fix) { f.must(200, post, "/api/v1/auth/logout", "{u_imp_tok}", nil) }, "logout", ""},
		{"operator suspended", on("op", "suspend", M{"reason": "x"}), "operator.suspend", ""},
		{"operator banned", on("op", "ban", M{"reason": "x"}), "operator.ban", ""},
		{"operator forced out", on("op", "force-logout", nil), "operator.force_logout", ""},
		{"operator password changed", on("op", "change-password", M{"new_password": newPassword}), "operator.password_change", ""},
		{"operator deleted", func(f *fix) { f.must(200, del, "/api/v1/admin/users/{op}", "{root}", nil) }, "operator.delete", ""},
		{"operator demoted", on("op", "role", M{"role": "admin"}), "operator.role_change", ""},
		{"operator promoted", on("op", "role", M{"role": "super_admin"}), "operator.role_change", ""},
		{"user's role changed", on("u", "role", M{"role": "support"}), "user.role_change", ""},
		{"user's tenant suspended", func(f *fix) { f.must(200, post, tenantsPath+"/{ut}/suspend", "{root}", nil) }, "tenant.suspend", ""},
		{"user's tenant deleted", func(f *fix) { f.must(200, del, tenantsPath+"/{ut}", "{root}", nil) }, "tenant.delete", ""},
		{"operator's tenant suspended", func(f *fix) { f.must(200, post, tenantsPath+"/{ot}/suspend", "{root}", nil) }, "tenant.suspend", ""},
	}
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		for _, e := range enders {
			t.Run(e.name, func(t *testing.T) {
				f := newFix(t, a)
				f.tenant("ut", nil)
				f.tenant("ot", nil)
				op := f.op("op", steward.RoleOwner, withTenant(f.e["ot"]))
				f.user("u", steward.RoleUser, withTenant(f.e["ut"]))
				f.impersonate("u", "{op_tok}", nil)
				f.must(200, get, "/api/v1/auth/me", "{u_imp_tok}", nil)
				f.must(200, get, "/api/v1/auth/me", "{u_imp_jwt}", nil)
				e.end(f)
				f.expectErr(f.do(get, "/api/v1/auth/me", "{u_imp_tok}", nil), 401, steward.CodeUnauthenticated)
				f.expectErr(f.do(get, "/api/v1/auth/me", "{u_imp_jwt}", nil), 401, steward.CodeUnauthenticated)

				want := e.endedBy
				switch e.by {
				case "op":
					want = op.ID
				case "root":
					want = a.Root.ID
				}
				r := f.must(200, get, "/api/v1/admin/impersonations/{u_imp}", "{root}", nil)
				f.checkField(r, "active", false)
				f.checkField(r, "ended_by", want)
				f.checkField(r, "ended_at", apptest.Start.Format(time.RFC3339))
				for _, m := range items(f.must(200, get, "/api/v1/admin/impersonations?active=true", "{root}", nil)) {
					if m["id"] == f.e["u_imp"] {
						t.Errorf("?active=true still lists the ended impersonation: %v", m)
					}
				}
				stop := f.audit("{u_imp}", "impersonation.stop")
				if len(stop) != 1 {
					t.Fatalf("impersonation.stop entries = %v, want one", stop)
				}
				if meta, _ := stop[0]["metadata"].(map[string]any); meta["stopped_by"] != want {
					t.Errorf("impersonation.stop metadata = %v, want stopped_by %s", meta, want)
				}
			})
		}
	})
}

// TestImpersonationEndsWithTheChange: a refused change leaves the
// impersonation running; unsuspending a tenant does not revive one its
// suspension ended.
func TestImpersonationEndsWithTheChange(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		f := newFix(t, a)
		f.tenant("ut", nil)
		f.op("op", steward.RoleOwner)
		f.op("sup", steward.RoleAdmin)
		f.user("u", steward.RoleUser, withTenant(f.e["ut"]))
		f.impersonate("u", "{op_tok}", nil)
		// An admin may not suspend an owner: nothing changes.
		if r := f.do(post, "/api/v1/admin/users/{op}/suspend", "{sup_tok}", M{"reason": "x"}); r.Status < 400 {
			t.Fatalf("admin suspending an owner: %d", r.Status)
		}
		f.checkField(f.must(200, get, "/api/v1/admin/impersonations/{u_imp}", "{root}", nil), "active", true)
		f.must(200, get, "/api/v1/auth/me", "{u_imp_tok}", nil)
		if got := f.audit("{u_imp}", "impersonation.stop"); len(got) != 0 {
			t.Errorf("impersonation.stop after a refused change = %v", got)
		}

		f.must(200, post, tenantsPath+"/{ut}/suspend", "{root}", nil)
		f.must(200, post, tenantsPath+"/{ut}/unsuspend", "{root}", nil)
		f.must(200, get, "/api/v1/admin/users/{u}", "{root}", nil)
		r := f.must(200, get, "/api/v1/admin/impersonations/{u_imp}", "{root}", nil)
		f.checkField(r, "active", false)
		f.checkField(r, "ended_by", "tenant.suspend")
		f.expectErr(f.do(get, "/api/v1/auth/me", "{u_imp_tok}", nil), 401, steward.CodeUnauthenticated)
		if len(f.audit("{ut}", "tenant.suspend")) != 1 {
			t.Errorf("the tenant suspension has no entry of its own")
		}
	})
}

func TestImpersonationStop(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		f := newFix(t, a)
		op := f.op("op", steward.RoleOwner)
		f.user("u", steward.RoleUser)
		f.impersonate("u", "{op_tok}", nil)
		r := f.must(200, post, "/api/v1/admin/impersonations/{u_imp}/stop", "{root}", nil)
		f.checkField(r, "ended_by", a.Root.ID)
		f.checkField(r, "active", false)
		f.expectErr(f.do(post, "/api/v1/admin/impersonations/{u_imp}/stop", "{op_tok}", nil), 409, steward.CodeInvalidState)
		f.expectErr(f.do(post, "/api/v1/admin/impersonations/imp_nope/stop", "{op_tok}", nil), 404, steward.CodeNotFound)
		stop := f.audit("{u_imp}", "impersonation.stop")
		if meta, _ := stop[0]["metadata"].(map[string]any); len(stop) != 1 || stop[0]["actor_id"] != a.Root.ID ||
			meta["stopped_by"] != a.Root.ID || meta["operator_id"] != op.ID {
			t.Errorf("impersonation.stop entries = %v", stop)
		}
		sessions := items(f.must(200, get, "/api/v1/admin/users/{u}/sessions", "{root}", nil))
		if len(sessions) != 1 || sessions[0]["revoked_reason"] != "impersonation stopped" {
			t.Errorf("the impersonation's session after stop = %v", sessions)
		}
	})
}

// TestImpersonationExpiry: the session works until the instant before the
// end and not at it; the sweeper then records the end as expired.
func TestImpersonationExpiry(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		f := newFix(t, a)
		f.op("op", steward.RoleOwner)
		f.user("u", steward.RoleUser)
		f.impersonate("u", "{op_tok}", M{"reason": "x", "duration_seconds": 60})
		a.Clock.Advance(time.Minute - time.Microsecond)
		f.must(200, get, "/api/v1/auth/me", "{u_imp_tok}", nil)
		f.must(200, get, "/api/v1/auth/me", "{u_imp_jwt}", nil)
		f.checkField(f.must(200, get, "/api/v1/admin/impersonations/{u_imp}", "{root}", nil), "active", true)
		a.Clock.Advance(time.Microsecond)
		f.expectErr(f.do(get, "/api/v1/auth/me", "{u_imp_tok}", nil), 401, steward.CodeUnauthenticated)
		f.expectErr(f.do(get, "/api/v1/auth/me", "{u_imp_jwt}", nil), 401, steward.CodeUnauthenticated)
		r := f.must(200, get, "/api/v1/admin/impersonations/{u_imp}", "{root}", nil)
		f.checkField(r, "active", false)
		f.checkField(r, "ended_at", nil)

		n, err := a.Svc.Impersonations.SweepExpiredImpersonations(t.Context())
		f.ok(err)
		if n != 1 {
			t.Errorf("swept %d, want 1", n)
		}
		r = f.must(200, get, "/api/v1/admin/impersonations/{u_imp}", "{root}", nil)
		f.checkField(r, "ended_by", steward.ImpersonationEndedExpired)
		f.checkField(r, "ended_at", apptest.Start.Add(time.Minute).Format(time.RFC3339))
		stop := f.audit("{u_imp}", "impersonation.stop")
		if meta, _ := stop[0]["metadata"].(map[string]any); len(stop) != 1 || meta["stopped_by"] != "expired" || stop[0]["actor_type"] != "system" {
			t.Errorf("impersonation.stop after expiry = %v", stop)
		}
		f.ok(a.Svc.Maintain(t.Context())) // nothing left to sweep: no second entry
		if got := f.audit("{u_imp}", "impersonation.stop"); len(got) != 1 {
			t.Errorf("impersonation.stop entries after a second sweep = %d, want 1", len(got))
		}
	})
}

// TestImpersonationWatch: the list's filters, and the detail with the audit
// entries written under the impersonation, each naming the operator.
func TestImpersonationWatch(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		f := newFix(t, a)
		op := f.op("op", steward.RoleOwner)
		u := f.user("u", steward.RoleUser)
		f.user("v", steward.RoleUser)
		f.user("w", steward.RoleUser)
		f.impersonate("u", "{op_tok}", nil)
		a.Clock.Advance(time.Second) // ids order by time
		f.impersonate("v", "{root}", nil)
		f.must(200, post, "/api/v1/admin/impersonations/{v_imp}/stop", "{root}", nil)
		// A write under the impersonation: logging its own session out,
		// which ends it.
		f.must(200, post, "/api/v1/auth/logout", "{u_imp_tok}", nil)
		a.Clock.Advance(time.Second)
		f.impersonate("w", "{root}", nil)

		list := func(q string) []string {
			return idsOf(f.must(200, get, "/api/v1/admin/impersonations"+q, "{root}", nil))
		}
		for q, want := range map[string][]string{
			"":                  {f.e["w_imp"], f.e["v_imp"], f.e["u_imp"]},
			"?active=true":      {f.e["w_imp"]},
			"?active=false":     {f.e["v_imp"], f.e["u_imp"]},
			"?operator_id={op}": {f.e["u_imp"]},
			"?user_id={v}":      {f.e["v_imp"]},
			"?limit=1":          {f.e["w_imp"]},
		} {
			if got := list(f.expand(q)); strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("list%s = %v, want %v", q, got, want)
			}
		}
		f.expectErr(f.do(get, "/api/v1/admin/impersonations?active=maybe", "{root}", nil), 400, steward.CodeBadRequest)
		f.expectErr(f.do(get, "/api/v1/admin/impersonations?status=x", "{root}", nil), 400, steward.CodeBadRequest)

		r := f.must(200, get, "/api/v1/admin/impersonations/{u_imp}", "{root}", nil)
		f.checkField(r, "operator_id", op.ID)
		f.checkField(r, "user_id", u.ID)
		f.checkField(r, "reason", "ticket 42")
		var actions []string
		entries, _ := r.Get("audit_entries").([]any)
		for _, x := range entries {
			e := x.(map[string]any)
			actions = append(actions, e["action"].(string))
			if e["action"] == "auth.logout" && (e["actor_id"] != u.ID || e["impersonator_id"] != op.ID) {
				t.Errorf("entry under the impersonation = %v, want actor %s and impersonator_id %s", e, u.ID, op.ID)
			}
		}
		if strings.Join(actions, ",") != "impersonation.start,auth.logout,impersonation.stop" {
			t.Errorf("audit entries of the impersonation = %v", actions)
		}
		f.expectErr(f.do(get, "/api/v1/admin/impersonations/imp_nope", "{root}", nil), 404, steward.CodeNotFound)
	})
}

// TestImpersonationMax: the configured cap refuses longer requests and caps
// the default.
func TestImpersonationMax(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		f := newFix(t, a)
		f.user("u", steward.RoleUser)
		r := f.do(post, "/api/v1/admin/users/{u}/impersonate", "{root}", M{"reason": "x", "duration_seconds": 601})
		f.expectErr(r, 422, steward.CodeValidation)
		f.checkField(r, "details.fields.duration_seconds", contains("600"))
		r = f.impersonate("u", "{root}", nil)
		if got, want := str(r, "expires_at"), apptest.Start.Add(10*time.Minute).Format(time.RFC3339); got != want {
			t.Errorf("default under a 10m cap: expires_at = %s, want %s", got, want)
		}
	}, apptest.Options{Service: func(c *service.Config) { c.ImpersonationMax = 10 * time.Minute }})
}

// TestSelfServiceWrites: a user changes their own name, username and
// password; the password change signs them out everywhere.
func TestSelfServiceWrites(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		f := newFix(t, a)
		u := f.op("u", steward.RoleUser)
		f.user("other", steward.RoleUser)
		r := f.must(200, patch, "/api/v1/auth/me", "{u_tok}", M{"name": "  New Name ", "username": "Renamed_Me"})
		f.checkField(r, "name", "New Name")
		f.checkField(r, "username", "renamed_me")
		f.expectErr(f.do(patch, "/api/v1/auth/me", "{u_tok}", M{"username": "{other_username}"}), 409, steward.CodeAlreadyExists)
		r = f.do(patch, "/api/v1/auth/me", "{u_tok}", M{"username": "x"})
		f.expectErr(r, 422, steward.CodeValidation)
		f.checkField(r, "details.fields.username", present())
		f.expectErr(f.do(patch, "/api/v1/auth/me", "{u_tok}", M{"role": "owner"}), 400, steward.CodeBadRequest)
		if e := f.audit(u.ID, "user.update"); len(e) != 1 || e[0]["actor_id"] != u.ID || e[0]["impersonator_id"] != "" {
			t.Errorf("user.update entries = %v", e)
		}

		r = f.do(post, "/api/v1/auth/change-password", "{u_tok}", M{"current_password": "wrong-one-here", "new_password": newPassword})
		f.expectErr(r, 422, steward.CodeValidation)
		f.checkField(r, "details.fields.current_password", present())
		r = f.do(post, "/api/v1/auth/change-password", "{u_tok}", M{"current_password": apptest.Password, "new_password": "short"})
		f.checkField(r, "details.fields.new_password", present())
		r = f.must(200, post, "/api/v1/auth/change-password", "{u_tok}", M{"current_password": apptest.Password, "new_password": newPassword})
		f.checkField(r, "sessions_revoked", float64(1))
		f.expectErr(f.do(get, "/api/v1/auth/me", "{u_tok}", nil), 401, steward.CodeUnauthenticated)
		f.must(200, post, "/api/v1/auth/login", "", M{"email": "{u_email}", "password": newPassword})
	})
}

// TestReadOnlyMeansReadOnly: under a read-only impersonation every unsafe
// method on the auth surface is refused (logging the impersonation out
// aside); with allow_writes the writes work and their audit entries name the
// user as actor and the operator as impersonator_id.
func TestReadOnlyMeansReadOnly(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		f := newFix(t, a)
		op := f.op("op", steward.RoleOwner)
		u := f.user("u", steward.RoleUser)
		f.impersonate("u", "{op_tok}", nil)
		for _, tok := range []string{"{u_imp_tok}", "{u_imp_jwt}"} {
			r := f.do(patch, "/api/v1/auth/me", tok, M{"name": "Hijacked"})
			f.expectErr(r, 403, steward.CodeImpersonationWriteDenied)
			f.checkField(r, "details.impersonator_id", op.ID)
			f.expectErr(f.do(post, "/api/v1/auth/change-password", tok, M{"current_password": apptest.Password, "new_password": newPassword}),
				403, steward.CodeImpersonationWriteDenied)
			f.expectErr(f.do(put, "/api/v1/auth/me", tok, M{"name": "x"}), 405, steward.CodeMethodNotAllowed)
		}
		// The service refuses too, whoever calls it.
		p, err := a.Svc.Auth.Authenticate(t.Context(), f.e["u_imp_tok"])
		f.ok(err)
		name := "Hijacked"
		_, err = a.Svc.Auth.UpdateMe(steward.WithActor(t.Context(), p.Actor), steward.SelfUpdate{Name: &name})
		if e, ok := err.(*steward.Error); !ok || e.Code != steward.CodeImpersonationWriteDenied {
			t.Errorf("UpdateMe under a read-only impersonation: %v", err)
		}
		f.checkField(f.must(200, get, "/api/v1/auth/me", "{u_imp_tok}", nil), "name", u.Name)
		f.must(200, post, "/api/v1/auth/logout", "{u_imp_tok}", nil)

		f.impersonate("u", "{op_tok}", M{"reason": "fix their name", "allow_writes": true})
		f.checkField(f.must(200, patch, "/api/v1/auth/me", "{u_imp_tok}", M{"name": "Fixed"}), "name", "Fixed")
		e := f.audit(u.ID, "user.update")
		if len(e) != 1 || e[0]["actor_id"] != u.ID || e[0]["impersonator_id"] != op.ID || e[0]["credential_id"] != f.sessionID("{u_imp_tok}") {
			t.Errorf("user.update under allow_writes = %v, want actor %s, impersonator_id %s", e, u.ID, op.ID)
		}
		f.must(200, post, "/api/v1/auth/change-password", "{u_imp_jwt}", M{"current_password": apptest.Password, "new_password": newPassword})
		if e := f.audit(u.ID, "user.password_change"); len(e) != 1 || e[0]["impersonator_id"] != op.ID {
			t.Errorf("user.password_change under allow_writes = %v", e)
		}
	})
}

// TestSessionVerify: every code of POST /platform/sessions/verify, with
// session tokens and access JWTs.
func TestSessionVerify(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		f := newFix(t, a)
		k, err := a.Svc.Keys.CreateKey(apptest.System(), &steward.KeyCreate{Name: "product", Type: steward.KeyPlatform,
			UserID: a.Root.ID, Scopes: []steward.Permission{steward.PermSessionsVerify}})
		f.ok(err)
		f.e["pk"] = k.Key
		op := f.op("op", steward.RoleOwner)
		u := f.user("u", steward.RoleUser, withTenant("ten_v"))
		f.loginHTTP("u")
		verify := func(tok, method, want string) *apptest.Response {
			t.Helper()
			r := f.must(200, post, "/api/v1/platform/sessions/verify", "{pk}", M{"token": tok, "method": method})
			if r.Get("code") != want || r.Get("valid") != (want == steward.SessionVerifyValid) {
				t.Errorf("verify %s %s: %s, want %s", tok, method, r.Raw, want)
			}
			return r
		}
		for _, tok := range []string{"{u_tok}", "{u_jwt}"} {
			r := verify(tok, "POST", steward.SessionVerifyValid)
			f.checkField(r, "user_id", u.ID)
			f.checkField(r, "tenant_id", "ten_v")
			f.checkField(r, "role", "user")
			f.checkField(r, "session_id", f.sessionID("{u_tok}"))
			f.checkField(r, "impersonation", nil)
		}
		for _, tok := range []string{"garbage", "stw_s_nosuchtoken", "a.b.c", "stw_a_notasession"} {
			r := verify(tok, "", steward.SessionVerifyNotFound)
			f.checkField(r, "user_id", "")
		}
		f.expectErr(f.do(post, "/api/v1/platform/sessions/verify", "{pk}", M{}), 422, steward.CodeValidation)
		r := f.do(post, "/api/v1/platform/sessions/verify", "{pk}", M{"token": "{u_tok}", "method": "post it"})
		f.expectErr(r, 422, steward.CodeValidation)
		f.checkField(r, "details.fields.method", present())

		// Impersonations: read-only refuses unsafe methods; allow_writes does not.
		f.impersonate("u", "{op_tok}", M{"reason": "x", "duration_seconds": 1200})
		for _, tok := range []string{"{u_imp_tok}", "{u_imp_jwt}"} {
			r := verify(tok, "GET", steward.SessionVerifyValid)
			f.checkField(r, "impersonation.id", f.e["u_imp"])
			f.checkField(r, "impersonation.operator_id", op.ID)
			f.checkField(r, "impersonation.read_only", true)
			verify(tok, "", steward.SessionVerifyValid)
			verify(tok, "DELETE", steward.SessionVerifyWriteDenied)
		}
		f.e["ro_jwt"], f.e["ro_imp"] = f.e["u_imp_jwt"], f.e["u_imp"]
		f.impersonate("u", "{op_tok}", M{"reason": "x", "allow_writes": true, "duration_seconds": 60})
		f.checkField(verify("{u_imp_tok}", "POST", steward.SessionVerifyValid), "impersonation.read_only", false)

		// The access token (15 minutes) outlives the 60-second impersonation's session.
		a.Clock.Advance(time.Minute)
		verify("{u_imp_tok}", "GET", steward.SessionVerifyExpired)
		a.Clock.Advance(15 * time.Minute)
		verify("{u_jwt}", "GET", steward.SessionVerifyExpired)
		verify("{u_tok}", "GET", steward.SessionVerifyValid)
		f.must(200, post, "/api/v1/admin/impersonations/{ro_imp}/stop", "{root}", nil)
		f.loginHTTP("u")
		f.must(200, post, "/api/v1/auth/logout", "{u_tok}", nil)
		verify("{u_tok}", "GET", steward.SessionVerifyRevoked)
		verify("{u_jwt}", "GET", steward.SessionVerifyRevoked)

		// A user inactive, or a tenant, without the cascade having revoked
		// the session (a ban that began, a tenant written elsewhere).
		f.loginHTTP("u")
		f.ok(a.Store.Update(t.Context(), func(tx store.Tx) error {
			tn, err := tx.GetTenant(t.Context(), "ten_v")
			if err != nil {
				return err
			}
			tn.Status = steward.TenantSuspended
			return tx.UpdateTenant(t.Context(), tn)
		}))
		a.Svc.DropCaches() // written behind the service's back
		verify("{u_tok}", "GET", steward.SessionVerifyTenantInactive)
		f.ok(a.Store.Update(t.Context(), func(tx store.Tx) error {
			cur, err := tx.GetUser(t.Context(), u.ID)
			if err != nil {
				return err
			}
			cur.Status = steward.StatusSuspended
			return tx.UpdateUser(t.Context(), cur)
		}))
		a.Svc.DropCaches()
		verify("{u_tok}", "GET", steward.SessionVerifyUserInactive)
	})
}

// TestUsersSeeTheirImpersonations: the user sees who, when, how long and
// why; nobody else's; and nothing when the deployment turns it off.
func TestUsersSeeTheirImpersonations(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		f := newFix(t, a)
		op := f.op("op", steward.RoleOwner)
		f.op("u", steward.RoleUser)
		f.op("v", steward.RoleUser)
		f.impersonate("u", "{op_tok}", M{"reason": "ticket 9: blank invoice", "duration_seconds": 600})
		a.Clock.Advance(2 * time.Minute)
		f.must(200, post, "/api/v1/admin/impersonations/{u_imp}/stop", "{op_tok}", nil)
		a.Clock.Advance(time.Minute)
		first := f.e["u_imp"]
		f.impersonate("u", "{root}", M{"reason": "follow-up"})
		a.Clock.Advance(time.Minute)

		r := f.must(200, get, "/api/v1/auth/impersonations", "{u_tok}", nil)
		list := items(r)
		if len(list) != 2 {
			t.Fatalf("impersonations shown = %s", r.Raw)
		}
		if list[0]["reason"] != "follow-up" || list[0]["operator_name"] != a.Root.Name || list[0]["duration_seconds"] != float64(60) ||
			list[0]["ended_at"] != nil {
			t.Errorf("the ongoing one = %v", list[0])
		}
		if list[1]["id"] != first || list[1]["operator_id"] != op.ID || list[1]["operator_name"] != op.Name ||
			list[1]["reason"] != "ticket 9: blank invoice" || list[1]["duration_seconds"] != float64(120) || list[1]["read_only"] != true {
			t.Errorf("the stopped one = %v", list[1])
		}
		f.checkField(f.must(200, get, "/api/v1/auth/impersonations?limit=1", "{u_tok}", nil), "has_more", true)
		if got := items(f.must(200, get, "/api/v1/auth/impersonations", "{v_tok}", nil)); len(got) != 0 {
			t.Errorf("another user sees %v", got)
		}
	})
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		f := newFix(t, a)
		f.op("u", steward.RoleUser)
		f.impersonate("u", "{root}", nil)
		f.expectErr(f.do(get, "/api/v1/auth/impersonations", "{u_tok}", nil), 404, steward.CodeNotFound)
	}, apptest.Options{Service: func(c *service.Config) { c.ImpersonationHidden = true }})
}
