package service_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
	"github.com/stewardhq/steward/internal/testdb"
	"github.com/stewardhq/steward/service"
)

// TestPlatformSwitches: with a switch off, every path of its capability
// answers 403 PLATFORM_SWITCH_OFF naming the switch to an owner (the
// highest role below super_admin) and changes nothing, while a super_admin
// goes through; with the switch back on the owner goes through too.
// Paths: impersonation (both endpoints), user creation (POST /admin/users,
// POST /admin/admins, an external issuer's provisioning), deletion (DELETE
// and purge of users and operators, bulk delete, the purge of a tenant that
// still has users).
func TestPlatformSwitches(t *testing.T) {
	for _, b := range testdb.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			idp := newFakeIdP(t)
			a := apptest.New(t, b, apptest.Options{Service: func(c *service.Config) {
				c.TrustedIssuers = []service.TrustedIssuer{{Issuer: provIssuer, Audience: corpAud, JWKSURL: idp.srv.URL,
					EmailClaim: "upn", RoleClaim: "steward_role", MaxRole: steward.RoleSuperAdmin, Provision: true}}
			}})
			_, owner := a.Operator(steward.RoleOwner)
			root := a.RootToken
			n := 0
			uniq := func() int { n++; return n }
			sso := func(role string) string {
				now := a.Clock.Now()
				return idp.sign(t, "k1", map[string]any{"iss": provIssuer, "aud": corpAud, "sub": fmt.Sprint("sso-", uniq()),
					"upn": fmt.Sprintf("sso%d@example.com", uniq()), "steward_role": role,
					"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()})
			}
			tenantWithUser := func() string {
				tn, err := a.Svc.Tenants.CreateTenant(apptest.System(), &steward.TenantCreate{Name: fmt.Sprint("Sw ", uniq()), Plan: "scale"})
				if err != nil {
					t.Fatal(err)
				}
				a.User(steward.RoleUser, func(in *steward.UserCreate) { in.TenantID = tn.ID })
				return tn.ID
			}
			type request struct {
				method, path string
				token        string
				body         any
			}
			for _, c := range []struct {
				name, sw string
				ok       int
				req      func(token string) request // a fresh target each call
			}{
				{"impersonate", service.SwitchImpersonation, 201, func(tok string) request {
					return request{"POST", "/api/v1/admin/users/" + a.User(steward.RoleUser).ID + "/impersonate", tok,
						map[string]any{"reason": "support ticket"}}
				}},
				{"impersonate (alias)", service.SwitchImpersonation, 201, func(tok string) request {
					return request{"POST", "/api/v1/admin/impersonate", tok,
						map[string]any{"external_user_id": a.User(steward.RoleUser).ID, "reason": "support ticket"}}
				}},
				{"create a user", service.SwitchUserCreation, 201, func(tok string) request {
					return request{"POST", "/api/v1/admin/users", tok, map[string]any{"email": fmt.Sprintf("new%d@example.com", uniq())}}
				}},
				{"create an operator", service.SwitchUserCreation, 201, func(tok string) request {
					return request{"POST", "/api/v1/admin/admins", tok, map[string]any{"email": fmt.Sprintf("op%d@example.com", uniq()), "role": "support"}}
				}},
				{"provisioning by an external issuer", service.SwitchUserCreation, 200, func(tok string) request {
					role := "owner"
					if tok == root {
						role = "super_admin"
					}
					return request{"GET", "/api/v1/admin/users?limit=1", sso(role), nil}
				}},
				{"delete a user", service.SwitchUserDeletion, 200, func(tok string) request {
					return request{"DELETE", "/api/v1/admin/users/" + a.User(steward.RoleUser).ID, tok, nil}
				}},
				{"purge a user", service.SwitchUserDeletion, 200, func(tok string) request {
					return request{"DELETE", "/api/v1/admin/users/" + a.User(steward.RoleUser).ID + "?purge=true&confirm=true", tok, nil}
				}},
				{"delete an operator", service.SwitchUserDeletion, 200, func(tok string) request {
					return request{"DELETE", "/api/v1/admin/admins/" + a.User(steward.RoleSupport).ID, tok, nil}
				}},
				{"purge an operator", service.SwitchUserDeletion, 200, func(tok string) request {
					return request{"DELETE", "/api/v1/admin/admins/" + a.User(steward.RoleSupport).ID + "?purge=true&confirm=true", tok, nil}
				}},
				{"bulk delete", service.SwitchUserDeletion, 200, func(tok string) request {
					return request{"POST", "/api/v1/admin/users/bulk", tok,
						map[string]any{"action": "delete", "user_ids": []string{a.User(steward.RoleUser).ID}}}
				}},
				{"purge a tenant with users", service.SwitchUserDeletion, 200, func(tok string) request {
					return request{"DELETE", "/api/v1/admin/tenants/" + tenantWithUser() + "?purge=true&confirm=true", tok, nil}
				}},
			} {
				t.Run(c.name, func(t *testing.T) {
					do := func(r request) *apptest.Response { return a.Do(r.method, r.path, r.token, r.body) }
					if err := putConfig(t, a, `{"switches": {"`+c.sw+`": false}}`); err != nil {
						t.Fatal(err)
					}
					req := c.req(owner)
					before := auditCount(t, a)
					r := do(req)
					if r.Status != 403 || r.Body["code"] != steward.CodePlatformSwitchOff {
						t.Fatalf("owner with %s off: %d %s", c.sw, r.Status, r.Raw)
					}
					if d, _ := r.Body["details"].(map[string]any); d["switch"] != c.sw {
						t.Fatalf("details %v, want switch %s", r.Body["details"], c.sw)
					}
					if got := auditCount(t, a); got != before {
						t.Fatalf("a refused request wrote %d audit entries", got-before)
					}
					if r := do(c.req(root)); r.Status != c.ok {
						t.Fatalf("super_admin with %s off: %d %s", c.sw, r.Status, r.Raw)
					}
					if err := putConfig(t, a, `{"switches": {"`+c.sw+`": null}}`); err != nil {
						t.Fatal(err)
					}
					if r := do(c.req(owner)); r.Status != c.ok {
						t.Fatalf("owner with %s back on: %d %s", c.sw, r.Status, r.Raw)
					}
				})
			}

			// Off for deletion, a tenant without users still purges: it
			// erases no user.
			if err := putConfig(t, a, `{"switches": {"allow_user_deletion": false}}`); err != nil {
				t.Fatal(err)
			}
			empty, err := a.Svc.Tenants.CreateTenant(apptest.System(), &steward.TenantCreate{Name: "Empty"})
			if err != nil {
				t.Fatal(err)
			}
			if r := a.Do("DELETE", "/api/v1/admin/tenants/"+empty.ID+"?purge=true&confirm=true", owner, nil); r.Status != 200 {
				t.Fatalf("purging a tenant without users: %d %s", r.Status, r.Raw)
			}
		})
	}
}
