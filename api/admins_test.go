package api_test

import (
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
)

const adminsPath = "/api/v1/admin/admins"

// TestAdminScenarios covers operators as a resource (/admin/admins) on every
// backend: every guard of SPEC §2 through PATCH, its atomicity, and the 404
// for a target who is not an operator.
func TestAdminScenarios(t *testing.T) { runScenarios(t, adminScenarios()) }

// entries is every audit entry about one target.
func (f *fix) entries(target string) []map[string]any {
	f.t.Helper()
	return f.walk("/api/v1/admin/audit-log?limit=200&target_id="+target, "{root}")
}

func actions(es []map[string]any) map[string]int {
	out := map[string]int{}
	for _, e := range es {
		a, _ := e["action"].(string)
		out[a]++
	}
	return out
}

// unchanged asserts a refused patch left the operator and the audit log as
// they were after setup.
func unchanged(name string, role steward.Role, auditBefore int) func(f *fix, r *apptest.Response) {
	return func(f *fix, r *apptest.Response) {
		g := f.must(200, get, adminsPath+"/{"+name+"}", "{root}", nil)
		f.checkField(g, "username", "{"+name+"_username}")
		f.checkField(g, "email", "{"+name+"_email}")
		f.checkField(g, "role", string(role))
		f.checkField(g, "status", "active")
		f.checkField(g, "token_version", 0)
		if es := f.entries(f.e[name]); len(es) != auditBefore {
			f.t.Errorf("a refused patch wrote audit entries: %v", actions(es))
		}
	}
}

func adminScenarios() []scenario {
	one := adminsPath + "/{target}"
	return []scenario{
		// --- POST
		{Name: "admins: create defaults to an active admin", Method: post, Path: adminsPath, Token: "{root}",
			Body: M{"email": "New.Operator@example.com", "username": "new-operator", "password": newPassword}, Status: 201,
			Want: M{"id": prefix("usr_"), "email": "new.operator@example.com", "username": "new-operator", "role": "admin", "status": "active"},
			After: func(f *fix, r *apptest.Response) {
				if e := f.audit(str(r, "id"), "user.create"); len(e) != 1 {
					f.t.Errorf("user.create entries: %v", e)
				}
				f.must(200, post, "/api/v1/auth/login", "", M{"email": "new.operator@example.com", "password": newPassword})
			}},
		{Name: "admins: create inactive is suspended", Method: post, Path: adminsPath, Token: "{root}",
			Body: M{"email": "inactive.operator@example.com", "role": "support", "is_active": false}, Status: 201,
			Want: M{"role": "support", "status": "suspended"}},
		{Name: "admins: create without a password has none until one is set", Method: post, Path: adminsPath, Token: "{root}",
			Body: M{"email": "nopass.operator@example.com"}, Status: 201, Want: M{"role": "admin", "password": absent()},
			After: func(f *fix, r *apptest.Response) {
				f.expectErr(f.do(post, "/api/v1/auth/login", "", M{"email": "nopass.operator@example.com", "password": newPassword}), 401, "INVALID_CREDENTIALS")
				f.must(200, patch, adminsPath+"/"+str(r, "id"), "{root}", M{"password": newPassword})
				f.must(200, post, "/api/v1/auth/login", "", M{"email": "nopass.operator@example.com", "password": newPassword})
			}},
		{Name: "admins: create refuses a non-operator role", Method: post, Path: adminsPath, Token: "{root}",
			Body: M{"email": "plain.role@example.com", "role": "user"}, Status: 422, Want: validation("role")},
		{Name: "admins: create refuses an unknown field", Method: post, Path: adminsPath, Token: "{root}",
			Body: M{"email": "extra.field@example.com", "tenant_id": "ten_x"}, Status: 400, Want: code("BAD_REQUEST")},
		{Name: "admins: create needs users:role", Method: post, Path: adminsPath, Token: "{adm_tok}",
			Setup: func(f *fix) { f.op("adm", steward.RoleAdmin) },
			Body:  M{"email": "by.admin.op@example.com", "role": "support"}, Status: 403,
			Want: M{"code": "FORBIDDEN", "details.required_permission": "users:role"}},
		{Name: "admins: create above your own role", Method: post, Path: adminsPath, Token: "{own_tok}",
			Setup: func(f *fix) { f.op("own", steward.RoleOwner) },
			Body:  M{"email": "escalate.op@example.com", "role": "super_admin"}, Status: 403, Want: code("CANNOT_ESCALATE")},
		{Name: "admins: create a taken email", Method: post, Path: adminsPath, Token: "{root}",
			Setup: func(f *fix) { f.user("target", steward.RoleUser) },
			Body:  M{"email": "{target_email}"}, Status: 409, Want: fieldErr(409, "ALREADY_EXISTS", "email")},

		// --- GET
		{Name: "admins: get an operator", Method: get, Path: one, Token: "{sup_tok}",
			Setup: func(f *fix) { f.op("sup", steward.RoleSupport); f.user("target", steward.RoleOwner) }, Status: 200,
			Want: M{"id": "{target}", "role": "owner"}},
		{Name: "admins: get a plain user is 404", Method: get, Path: one, Token: "{root}",
			Setup: func(f *fix) { f.user("target", steward.RoleUser) }, Status: 404, Want: code("NOT_FOUND")},
		{Name: "admins: get unknown is 404", Method: get, Path: adminsPath + "/{unknown}", Token: "{root}", Status: 404, Want: code("NOT_FOUND")},

		// --- PATCH
		{Name: "admins: patch profile", Method: patch, Path: one, Token: "{root}",
			Setup: func(f *fix) { f.user("target", steward.RoleAdmin) },
			Body:  M{"username": "renamed-op", "email": "Renamed.Op@example.com"}, Status: 200,
			Want: M{"username": "renamed-op", "email": "renamed.op@example.com", "role": "admin"},
			After: func(f *fix, r *apptest.Response) {
				if a := actions(f.entries(f.e["target"])); a["user.update"] != 1 || len(a) != 2 {
					f.t.Errorf("entries: %v, want user.create and one user.update", a)
				}
			}},
		{Name: "admins: patch a plain user is 404 and changes nothing", Method: patch, Path: one, Token: "{root}",
			Setup: func(f *fix) { f.user("target", steward.RoleUser) },
			Body:  M{"username": "not-an-op", "is_active": false}, Status: 404, Want: code("NOT_FOUND"),
			After: func(f *fix, r *apptest.Response) {
				g := f.must(200, get, usersPath+"/{target}", "{root}", nil)
				f.checkField(g, "username", "{target_username}")
				f.checkField(g, "status", "active")
			}},
		{Name: "admins: patch validation", Method: patch, Path: one, Token: "{root}",
			Setup: func(f *fix) { f.user("target", steward.RoleAdmin) },
			Body:  M{"role": "user", "email": nil, "password": "short", "is_active": nil}, Status: 422,
			Want: validation("role", "email", "password", "is_active")},
		{Name: "admins: patch bad username changes nothing", Method: patch, Path: one, Token: "{root}",
			Setup: func(f *fix) { f.user("target", steward.RoleAdmin) },
			Body:  M{"username": "Bad Name!", "role": "support"}, Status: 422, Want: validation("username"),
			After: unchanged("target", steward.RoleAdmin, 1)},
		{Name: "admins: a refused role change changes nothing else", Method: patch, Path: one, Token: "{own_tok}",
			Setup: func(f *fix) {
				f.op("own", steward.RoleOwner)
				f.op("target", steward.RoleAdmin)
			},
			Body: M{"username": "should-not-stick", "email": "should.not@example.com", "password": newPassword,
				"is_active": false, "role": "super_admin"},
			Status: 403, Want: code("CANNOT_ESCALATE"),
			After: func(f *fix, r *apptest.Response) {
				unchanged("target", steward.RoleAdmin, 1)(f, r)
				f.must(200, get, "/api/v1/auth/me", "{target_tok}", nil) // the session survived
			}},
		{Name: "admins: patch an operator of your rank", Method: patch, Path: one, Token: "{own_tok}",
			Setup: func(f *fix) { f.op("own", steward.RoleOwner); f.user("target", steward.RoleOwner) },
			Body:  M{"username": "peer-renamed"}, Status: 403, Want: code("INSUFFICIENT_ROLE"),
			After: unchanged("target", steward.RoleOwner, 1)},
		{Name: "admins: patch role needs users:role", Method: patch, Path: one, Token: "{adm_tok}",
			Setup: func(f *fix) { f.op("adm", steward.RoleAdmin); f.user("target", steward.RoleSupport) },
			Body:  M{"role": "admin"}, Status: 403, Want: M{"code": "FORBIDDEN", "details.required_permission": "users:role"}},
		{Name: "admins: deactivating yourself", Method: patch, Path: adminsPath + "/{target}", Token: "{target_tok}",
			Setup: func(f *fix) { f.op("target", steward.RoleOwner) },
			Body:  M{"username": "self-renamed", "is_active": false}, Status: 422, Want: code("CANNOT_TARGET_SELF"),
			After: unchanged("target", steward.RoleOwner, 1)},
		{Name: "admins: demoting yourself", Method: patch, Path: adminsPath + "/{target}", Token: "{target_tok}",
			Setup: func(f *fix) { f.op("target", steward.RoleOwner) },
			Body:  M{"role": "admin"}, Status: 422, Want: code("CANNOT_TARGET_SELF"),
			After: unchanged("target", steward.RoleOwner, 1)},
		{Name: "admins: is_active false suspends and true unsuspends", Method: patch, Path: one, Token: "{own_tok}",
			Setup: func(f *fix) { f.op("own", steward.RoleOwner); f.op("target", steward.RoleAdmin) },
			Body:  M{"is_active": false}, Status: 200, Want: M{"status": "suspended", "token_version": 1},
			After: func(f *fix, r *apptest.Response) {
				f.expectErr(f.do(get, "/api/v1/auth/me", "{target_tok}", nil), 401, "UNAUTHENTICATED")
				again := f.must(200, patch, one, "{own_tok}", M{"is_active": false}) // already: no change
				f.checkField(again, "status", "suspended")
				back := f.must(200, patch, one, "{own_tok}", M{"is_active": true})
				f.checkField(back, "status", "active")
				f.must(200, post, "/api/v1/auth/login", "", M{"email": "{target_email}", "password": apptest.Password})
				a := actions(f.entries(f.e["target"]))
				if a["user.suspend"] != 1 || a["user.unsuspend"] != 1 || len(a) != 3 {
					f.t.Errorf("entries: %v, want user.create, user.suspend, user.unsuspend once each", a)
				}
			}},
		{Name: "admins: is_active true on a banned operator", Method: patch, Path: one, Token: "{root}",
			Setup: func(f *fix) {
				f.user("target", steward.RoleAdmin)
				_, err := f.a.Svc.Users.BanUser(apptest.System(), f.e["target"], steward.BanInput{Reason: "x"})
				f.ok(err)
			},
			Body: M{"is_active": true}, Status: 409, Want: M{"code": "INVALID_STATE", "details.status": "banned"}},
		{Name: "admins: one patch, every part audited under its own action", Method: patch, Path: one, Token: "{root}",
			Setup: func(f *fix) { f.op("target", steward.RoleAdmin) },
			Body:  M{"username": "all-at-once", "password": newPassword, "role": "support", "is_active": false}, Status: 200,
			Want: M{"username": "all-at-once", "role": "support", "status": "suspended"},
			After: func(f *fix, r *apptest.Response) {
				a := actions(f.entries(f.e["target"]))
				for _, want := range []string{"user.create", "user.update", "user.password_change", "user.role_change", "user.suspend"} {
					if a[want] != 1 {
						f.t.Errorf("entries: %v, want one %s", a, want)
					}
				}
				pc := f.audit(f.e["target"], "user.password_change")
				if len(pc) == 1 {
					ch, _ := pc[0]["changes"].(map[string]any)
					if pw, _ := ch["password"].(map[string]any); pw["after"] != "[redacted]" {
						f.t.Errorf("password change entry: %v", pc[0])
					}
				}
				f.expectErr(f.do(get, "/api/v1/auth/me", "{target_tok}", nil), 401, "UNAUTHENTICATED")
			}},
		{Name: "admins: patch a deleted operator", Method: patch, Path: one, Token: "{root}",
			Setup: func(f *fix) {
				f.user("target", steward.RoleAdmin)
				_, err := f.a.Svc.Users.DeleteUser(apptest.System(), f.e["target"], "")
				f.ok(err)
			},
			Body: M{"username": "ghost-op"}, Status: 409, Want: code("INVALID_STATE")},
		// Through HTTP the actor is itself an active top operator, so the
		// last one is reached as the system (the CLI and sweepers act so).
		{Name: "admins: LAST_ACTIVE_OWNER covers deactivation", Fresh: true, Method: patch, Path: adminsPath + "/{root_id}", Token: "{sa2_tok}",
			Setup: func(f *fix) { f.op("sa2", steward.RoleSuperAdmin) },
			Body:  M{"is_active": false}, Status: 200, Want: M{"status": "suspended"},
			After: func(f *fix, r *apptest.Response) {
				sys, id := apptest.System(), f.e["sa2"]
				name := "kept-name"
				for what, p := range map[string]*steward.AdminPatch{
					"deactivate":            {IsActive: steward.Optional[bool]{Set: true, Value: false}},
					"demote":                {Role: steward.Optional[steward.Role]{Set: true, Value: steward.RoleAdmin}},
					"rename and deactivate": {Username: steward.Optional[string]{Set: true, Value: name}, IsActive: steward.Optional[bool]{Set: true}},
				} {
					if _, err := f.a.Svc.Users.UpdateAdmin(sys, id, p); steward.ErrorCode(err) != steward.CodeLastActiveOwner {
						f.t.Errorf("%s of the last active top operator: %v, want LAST_ACTIVE_OWNER", what, err)
					}
				}
				if _, err := f.a.Svc.Users.DeleteAdmin(sys, id, "", false); steward.ErrorCode(err) != steward.CodeLastActiveOwner {
					f.t.Errorf("delete of the last active top operator: %v, want LAST_ACTIVE_OWNER", err)
				}
				g := f.must(200, get, adminsPath+"/{sa2}", "{sa2_tok}", nil)
				f.checkField(g, "status", "active")
				f.checkField(g, "role", "super_admin")
				f.checkField(g, "username", "{sa2_username}")
				// Reactivating root makes sa2 one of two: now it may go.
				f.must(200, patch, adminsPath+"/{root_id}", "{sa2_tok}", M{"is_active": true})
				if _, err := f.a.Svc.Users.UpdateAdmin(sys, id, &steward.AdminPatch{IsActive: steward.Optional[bool]{Set: true}}); err != nil {
					f.t.Errorf("deactivating one of two top operators: %v", err)
				}
			}},

		// --- DELETE
		{Name: "admins: delete soft-deletes an operator", Method: del, Path: one, Token: "{own_tok}",
			Setup: func(f *fix) { f.op("own", steward.RoleOwner); f.op("target", steward.RoleAdmin) },
			Body:  M{"reason": "left the team"}, Status: 200, Want: M{"status": "deleted", "deleted_at": present()},
			After: func(f *fix, r *apptest.Response) {
				f.expectErr(f.do(get, "/api/v1/auth/me", "{target_tok}", nil), 401, "UNAUTHENTICATED")
				if e := f.audit(f.e["target"], "user.delete"); len(e) != 1 || e[0]["reason"] != "left the team" {
					f.t.Errorf("user.delete entries: %v", e)
				}
				f.must(200, post, usersPath+"/{target}/restore", "{own_tok}", nil)
			}},
		{Name: "admins: delete a plain user is 404", Method: del, Path: one, Token: "{root}",
			Setup: func(f *fix) { f.user("target", steward.RoleUser) }, Status: 404, Want: code("NOT_FOUND"),
			After: func(f *fix, r *apptest.Response) {
				f.checkField(f.must(200, get, usersPath+"/{target}", "{root}", nil), "status", "active")
			}},
		{Name: "admins: purge a plain user is 404", Method: del, Path: one + "?purge=true&confirm=true", Token: "{root}",
			Setup: func(f *fix) { f.user("target", steward.RoleUser) }, Status: 404, Want: code("NOT_FOUND"),
			After: func(f *fix, r *apptest.Response) { f.must(200, get, usersPath+"/{target}", "{root}", nil) }},
		{Name: "admins: purge erases an operator", Method: del, Path: one + "?purge=true&confirm=true", Token: "{root}",
			Setup: func(f *fix) { f.user("target", steward.RoleSupport) }, Status: 200, Want: M{"id": "{target}", "purged": true},
			After: func(f *fix, r *apptest.Response) {
				f.expectErr(f.do(get, usersPath+"/{target}", "{root}", nil), 404, "NOT_FOUND")
			}},
		{Name: "admins: purge needs confirm", Method: del, Path: one + "?purge=true", Token: "{root}",
			Setup: func(f *fix) { f.user("target", steward.RoleSupport) }, Status: 400, Want: code("CONFIRMATION_REQUIRED")},
		{Name: "admins: delete yourself", Method: del, Path: adminsPath + "/{own}", Token: "{own_tok}",
			Setup: func(f *fix) { f.op("own", steward.RoleOwner) }, Status: 422, Want: code("CANNOT_TARGET_SELF")},
		{Name: "admins: delete a peer", Method: del, Path: one, Token: "{own_tok}",
			Setup:  func(f *fix) { f.op("own", steward.RoleOwner); f.user("target", steward.RoleOwner) },
			Status: 403, Want: code("INSUFFICIENT_ROLE")},
	}
}

// TestConcurrentMutualDeactivation: the only two top operators deactivate
// each other through PATCH /admins at the same moment, round after round.
// The actor's standing and LAST_ACTIVE_OWNER are checked inside the
// transaction of the change, so exactly one may win and one active top
// operator always remains.
func TestConcurrentMutualDeactivation(t *testing.T) {
	const rounds = 10
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		sys := apptest.System()
		topA, topB := createUser(t, a, steward.RoleSuperAdmin), createUser(t, a, steward.RoleSuperAdmin)
		if _, err := a.Svc.Users.ChangeRole(sys, a.Root.ID, steward.RoleAdmin); err != nil {
			t.Fatal(err)
		}
		off := []byte(`{"is_active":false}`)
		for round := 0; round < rounds; round++ {
			tokA, tokB := svcLogin(t, a, topA.Email), svcLogin(t, a, topB.Email)
			res := together(a, [2]func() (*apptest.Response, error){
				func() (*apptest.Response, error) { return send(a, patch, adminsPath+"/"+topB.ID, tokA, off, true, nil) },
				func() (*apptest.Response, error) { return send(a, patch, adminsPath+"/"+topA.ID, tokB, off, true, nil) },
			})
			won := 0
			for i, s := range res {
				if s.err != nil {
					t.Fatalf("round %d, request %d: %v", round, i, s.err)
				}
				checkCommon(t, s.r, "")
				switch c, _ := s.r.Get("code").(string); {
				case s.r.Status == 200:
					won++
				case c == steward.CodeUnauthenticated, c == steward.CodeLastActiveOwner:
					// the loser was deactivated first, or the guard fired
				default:
					t.Errorf("round %d, request %d: %d %s", round, i, s.r.Status, s.r.Raw)
				}
			}
			if n := activeTops(t, a); won != 1 || n != 1 {
				t.Fatalf("round %d: %d deactivations passed, %d active top operators left", round, won, n)
			}
			for _, u := range []*steward.User{topA, topB} {
				g, err := a.Svc.Users.GetAdmin(sys, u.ID)
				if err != nil {
					t.Fatal(err)
				}
				if g.Status == steward.StatusSuspended {
					if _, err := a.Svc.Users.UpdateAdmin(sys, u.ID, &steward.AdminPatch{IsActive: steward.Optional[bool]{Set: true, Value: true}}); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	})
}
