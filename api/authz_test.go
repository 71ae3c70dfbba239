package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
	"github.com/stewardhq/steward/internal/id"
	"github.com/stewardhq/steward/service"
	"github.com/stewardhq/steward/store"
	"github.com/stewardhq/steward/store/datatables"
)

// authzRoute is one admin endpoint, the permissions it needs (all of them),
// and how to build a valid request for it against a fresh target user.
type authzRoute struct {
	Method, Pattern string
	Perms           []steward.Permission
	// Build makes whatever the request needs and returns its path and body.
	Build func(f *fix) (path string, body any)
}

func (r authzRoute) key() string { return r.Method + " " + r.Pattern }

// authzTable is the expected permission of every admin route, read off the
// service: each method's authorize/mutateUser/mutateKey/mutateTenant
// permission. Reads of a user's sessions, audit log or API keys first load
// the user (users:read). Tenant routes act on a fresh tenant (on the free
// plan) put in the state the action needs; credit routes on a fresh tenant,
// funded first by the system when the request draws credits.
func authzTable() []authzRoute {
	const base = "/api/v1/admin"
	target := func(f *fix) string { return createUser(f.t, f.a, steward.RoleUser).ID }
	sys := apptest.System
	onTarget := func(suffix string, body any) func(f *fix) (string, any) {
		return func(f *fix) (string, any) { return base + "/users/" + target(f) + suffix, body }
	}
	operator := func(f *fix) string { return createUser(f.t, f.a, steward.RoleSupport).ID }
	onOperator := func(suffix string, body any) func(f *fix) (string, any) {
		return func(f *fix) (string, any) { return base + "/admins/" + operator(f) + suffix, body }
	}
	tenant := func(f *fix) string {
		t, err := f.a.Svc.Tenants.CreateTenant(sys(), &steward.TenantCreate{Name: fmt.Sprintf("Authz %d", uniq.Add(1))})
		f.ok(err)
		return t.ID
	}
	onTenant := func(suffix string, body any) func(f *fix) (string, any) {
		return func(f *fix) (string, any) { return base + "/tenants/" + tenant(f) + suffix, body }
	}
	onWebhook := func(suffix string, body any) func(f *fix) (string, any) {
		return func(f *fix) (string, any) {
			e, err := f.a.Svc.Webhooks.CreateWebhook(sys(), steward.WebhookEndpointCreate{
				URL: "https://receiver.example.com/hook", EventTypes: []string{"*"}})
			f.ok(err)
			return base + "/webhooks/" + e.ID + suffix, body
		}
	}
	// funded is a fresh tenant holding 100 credits, granted by the system.
	funded := func(f *fix) string {
		id := tenant(f)
		_, err := f.a.Svc.Credits.Grant(sys(), &steward.GrantInput{TenantID: id, Amount: 100, Description: "authz funds"})
		f.ok(err)
		return id
	}
	return []authzRoute{
		{"GET", base + "/users", []steward.Permission{steward.PermUsersRead},
			func(f *fix) (string, any) { return base + "/users?limit=5", nil }},
		{"POST", base + "/users", []steward.Permission{steward.PermUsersWrite},
			func(f *fix) (string, any) {
				return base + "/users", M{"email": fmt.Sprintf("authz-%d@example.com", uniq.Add(1)), "password": "long-enough-pw"}
			}},
		{"POST", base + "/users/bulk", []steward.Permission{steward.PermUsersWrite},
			func(f *fix) (string, any) {
				return base + "/users/bulk", M{"action": "suspend", "user_ids": []string{target(f)}}
			}},
		{"GET", base + "/users/{id}", []steward.Permission{steward.PermUsersRead}, onTarget("", nil)},
		{"PUT", base + "/users/{id}", []steward.Permission{steward.PermUsersWrite}, onTarget("", M{"name": "Renamed by PUT"})},
		{"PATCH", base + "/users/{id}", []steward.Permission{steward.PermUsersWrite}, onTarget("", M{"name": "Renamed by PATCH"})},
		{"DELETE", base + "/users/{id}", []steward.Permission{steward.PermUsersDelete}, onTarget("", nil)},
		{"POST", base + "/users/{id}/restore", []steward.Permission{steward.PermUsersDelete},
			func(f *fix) (string, any) {
				id := target(f)
				_, err := f.a.Svc.Users.DeleteUser(sys(), id, "")
				f.ok(err)
				return base + "/users/" + id + "/restore", nil
			}},
		{"POST", base + "/users/{id}/suspend", []steward.Permission{steward.PermUsersWrite}, onTarget("/suspend", M{"reason": "authz"})},
		{"POST", base + "/users/{id}/unsuspend", []steward.Permission{steward.PermUsersWrite},
			func(f *fix) (string, any) {
				id := target(f)
				_, err := f.a.Svc.Users.SuspendUser(sys(), id, "")
				f.ok(err)
				return base + "/users/" + id + "/unsuspend", nil
			}},
		{"POST", base + "/users/{id}/ban", []steward.Permission{steward.PermUsersBan}, onTarget("/ban", M{"reason": "authz"})},
		{"POST", base + "/users/{id}/unban", []steward.Permission{steward.PermUsersBan},
			func(f *fix) (string, any) {
				id := target(f)
				_, err := f.a.Svc.Users.BanUser(sys(), id, steward.BanInput{Reason: "authz"})
				f.ok(err)
				return base + "/users/" + id + "/unban", nil
			}},
		{"POST", base + "/users/{id}/force-logout", []steward.Permission{steward.PermSessionsRevoke},
			func(f *fix) (string, any) {
				u := createUser(f.t, f.a, steward.RoleUser)
				svcLogin(f.t, f.a, u.Email)
				return base + "/users/" + u.ID + "/force-logout", nil
			}},
		{"POST", base + "/users/{id}/change-password", []steward.Permission{steward.PermUsersWrite},
			onTarget("/change-password", M{"new_password": newPassword})},
		{"POST", base + "/users/{id}/role", []steward.Permission{steward.PermUsersRole}, onTarget("/role", M{"role": "support"})},
		{"GET", base + "/users/{id}/sessions", []steward.Permission{steward.PermUsersRead, steward.PermSessionsRead}, onTarget("/sessions", nil)},
		{"GET", base + "/users/{id}/audit-log", []steward.Permission{steward.PermUsersRead, steward.PermAuditRead}, onTarget("/audit-log", nil)},
		{"GET", base + "/users/{id}/spending", []steward.Permission{steward.PermUsersRead}, onTarget("/spending", nil)},
		{"PUT", base + "/users/{id}/spending", []steward.Permission{steward.PermUsersWrite},
			onTarget("/spending", M{"daily_cap": 100})},
		{"GET", base + "/admins", []steward.Permission{steward.PermUsersRead},
			func(f *fix) (string, any) { return base + "/admins", nil }},
		// Operator targets are support: ranked below every role that may write.
		{"POST", base + "/admins", []steward.Permission{steward.PermUsersWrite, steward.PermUsersRole},
			func(f *fix) (string, any) {
				return base + "/admins", M{"email": fmt.Sprintf("authz-op-%d@example.com", uniq.Add(1)), "role": "support"}
			}},
		{"GET", base + "/admins/{id}", []steward.Permission{steward.PermUsersRead}, onOperator("", nil)},
		{"PATCH", base + "/admins/{id}", []steward.Permission{steward.PermUsersWrite},
			func(f *fix) (string, any) {
				return base + "/admins/" + operator(f), M{"username": fmt.Sprintf("authz-op-%d", uniq.Add(1))}
			}},
		{"DELETE", base + "/admins/{id}", []steward.Permission{steward.PermUsersDelete}, onOperator("", nil)},
		{"POST", base + "/users/{id}/impersonate", []steward.Permission{steward.PermUsersImpersonate},
			onTarget("/impersonate", M{"reason": "authz"})},
		{"POST", base + "/impersonate", []steward.Permission{steward.PermUsersImpersonate},
			func(f *fix) (string, any) {
				return base + "/impersonate", M{"external_user_id": target(f), "ttl_sec": 60, "reason": "authz"}
			}},
		{"GET", base + "/impersonations", []steward.Permission{steward.PermAuditRead},
			func(f *fix) (string, any) { return base + "/impersonations?active=true", nil }},
		{"GET", base + "/impersonations/{id}", []steward.Permission{steward.PermAuditRead},
			func(f *fix) (string, any) { return base + "/impersonations/" + authzImpersonation(f), nil }},
		{"POST", base + "/impersonations/{id}/stop", []steward.Permission{steward.PermUsersImpersonate},
			func(f *fix) (string, any) { return base + "/impersonations/" + authzImpersonation(f) + "/stop", nil }},
		{"GET", base + "/sessions", []steward.Permission{steward.PermSessionsRead},
			func(f *fix) (string, any) { return base + "/sessions?status=active", nil }},
		{"DELETE", base + "/sessions/{id}", []steward.Permission{steward.PermSessionsRevoke},
			func(f *fix) (string, any) {
				u := createUser(f.t, f.a, steward.RoleUser)
				return base + "/sessions/" + f.sessionID(svcLogin(f.t, f.a, u.Email)), nil
			}},
		{"GET", base + "/users/{id}/api-keys", []steward.Permission{steward.PermUsersRead, steward.PermKeysRead},
			func(f *fix) (string, any) { return base + "/users/" + authzKey(f).UserID + "/api-keys", nil }},
		{"GET", base + "/api-keys", []steward.Permission{steward.PermKeysRead},
			func(f *fix) (string, any) { return base + "/api-keys?limit=5&type=user", nil }},
		{"POST", base + "/api-keys", []steward.Permission{steward.PermKeysWrite},
			func(f *fix) (string, any) {
				return base + "/api-keys", M{"name": "authz", "key_type": "user", "user_id": target(f), "scopes": []string{"read"}}
			}},
		{"GET", base + "/api-keys/stats", []steward.Permission{steward.PermKeysRead},
			func(f *fix) (string, any) { return base + "/api-keys/stats", nil }},
		{"GET", base + "/api-keys/usage", []steward.Permission{steward.PermKeysRead},
			func(f *fix) (string, any) { return base + "/api-keys/usage?granularity=day&code=REVOKED", nil }},
		{"GET", base + "/stats", []steward.Permission{steward.PermStatsRead},
			func(f *fix) (string, any) { return base + "/stats?tz=Europe/Paris", nil }},
		{"POST", base + "/api-keys/bulk-revoke", []steward.Permission{steward.PermKeysWrite},
			func(f *fix) (string, any) {
				return base + "/api-keys/bulk-revoke", M{"key_ids": []string{authzKey(f).ID, authzKey(f).ID}}
			}},
		{"GET", base + "/api-keys/{id}", []steward.Permission{steward.PermKeysRead},
			func(f *fix) (string, any) { return base + "/api-keys/" + authzKey(f).ID, nil }},
		{"PATCH", base + "/api-keys/{id}", []steward.Permission{steward.PermKeysWrite},
			func(f *fix) (string, any) {
				return base + "/api-keys/" + authzKey(f).ID, M{"name": "Renamed key", "allowed_ips": []string{"10.0.0.0/8"}, "rate_limit_rpm": 60}
			}},
		{"DELETE", base + "/api-keys/{id}", []steward.Permission{steward.PermKeysWrite},
			func(f *fix) (string, any) { return base + "/api-keys/" + authzKey(f).ID, M{"reason": "authz"} }},
		{"POST", base + "/api-keys/{id}/rotate", []steward.Permission{steward.PermKeysWrite},
			func(f *fix) (string, any) {
				return base + "/api-keys/" + authzKey(f).ID + "/rotate", M{"grace_period_seconds": 60}
			}},
		{"GET", base + "/api-keys/{id}/usage", []steward.Permission{steward.PermKeysRead},
			func(f *fix) (string, any) {
				return base + "/api-keys/" + authzKey(f).ID + "/usage?granularity=minute", nil
			}},
		{"GET", base + "/plans", []steward.Permission{steward.PermTenantsRead},
			func(f *fix) (string, any) { return base + "/plans", nil }},
		{"GET", base + "/tenants", []steward.Permission{steward.PermTenantsRead},
			func(f *fix) (string, any) { return base + "/tenants?limit=5&status=active", nil }},
		{"POST", base + "/tenants", []steward.Permission{steward.PermTenantsWrite},
			func(f *fix) (string, any) {
				return base + "/tenants", M{"name": fmt.Sprintf("Authz created %d", uniq.Add(1)), "plan": "starter"}
			}},
		{"GET", base + "/tenants/{id}", []steward.Permission{steward.PermTenantsRead}, onTenant("", nil)},
		{"PATCH", base + "/tenants/{id}", []steward.Permission{steward.PermTenantsWrite},
			onTenant("", M{"name": "Renamed by PATCH", "limits": M{"max_users": 5}})},
		{"DELETE", base + "/tenants/{id}", []steward.Permission{steward.PermTenantsDelete}, onTenant("", nil)},
		{"GET", base + "/tenants/{id}/detail", []steward.Permission{steward.PermTenantsRead}, onTenant("/detail", nil)},
		{"POST", base + "/tenants/{id}/suspend", []steward.Permission{steward.PermTenantsWrite}, onTenant("/suspend", M{"reason": "authz"})},
		{"POST", base + "/tenants/{id}/unsuspend", []steward.Permission{steward.PermTenantsWrite},
			func(f *fix) (string, any) {
				id := tenant(f)
				_, err := f.a.Svc.Tenants.SuspendTenant(sys(), id, "")
				f.ok(err)
				return base + "/tenants/" + id + "/unsuspend", nil
			}},
		{"POST", base + "/tenants/{id}/restore", []steward.Permission{steward.PermTenantsDelete},
			func(f *fix) (string, any) {
				id := tenant(f)
				_, err := f.a.Svc.Tenants.DeleteTenant(sys(), id, "")
				f.ok(err)
				return base + "/tenants/" + id + "/restore", nil
			}},
		{"POST", base + "/tenants/{id}/plan", []steward.Permission{steward.PermTenantsWrite}, onTenant("/plan", M{"plan": "pro"})},
		{"GET", base + "/tenants/{id}/plan-changes", []steward.Permission{steward.PermTenantsRead}, onTenant("/plan-changes", nil)},
		{"POST", base + "/credits/grant", []steward.Permission{steward.PermCreditsWrite},
			func(f *fix) (string, any) {
				return base + "/credits/grant", M{"tenant_id": tenant(f), "amount": 10, "description": "authz grant"}
			}},
		{"POST", base + "/credits/deduct", []steward.Permission{steward.PermCreditsWrite},
			func(f *fix) (string, any) {
				return base + "/credits/deduct", M{"tenant_id": funded(f), "amount": 10, "description": "authz deduct"}
			}},
		{"POST", base + "/credits/refund", []steward.Permission{steward.PermCreditsWrite},
			func(f *fix) (string, any) {
				id := funded(f)
				d, err := f.a.Svc.Credits.Deduct(sys(), &steward.DeductInput{TenantID: id, Amount: 10, Description: "authz spend"})
				f.ok(err)
				return base + "/credits/refund", M{"tenant_id": id, "amount": 10, "description": "authz refund",
					"transaction_id": d.Transaction.ID}
			}},
		{"POST", base + "/credits/adjust", []steward.Permission{steward.PermCreditsAdjust},
			func(f *fix) (string, any) {
				return base + "/credits/adjust", M{"tenant_id": funded(f), "amount": -10, "description": "authz adjust", "reason": "authz"}
			}},
		{"GET", base + "/credits/{tenant_id}/balance", []steward.Permission{steward.PermCreditsRead},
			func(f *fix) (string, any) { return base + "/credits/" + funded(f) + "/balance", nil }},
		{"GET", base + "/credits/{tenant_id}/history", []steward.Permission{steward.PermCreditsRead},
			func(f *fix) (string, any) { return base + "/credits/" + funded(f) + "/history?kind=grant&limit=5", nil }},
		{"GET", base + "/usage", []steward.Permission{steward.PermUsageRead},
			func(f *fix) (string, any) { return base + "/usage?period=month&group_by=metric", nil }},
		{"GET", base + "/health/detailed", []steward.Permission{steward.PermHealthRead},
			func(f *fix) (string, any) { return base + "/health/detailed", nil }},
		{"GET", base + "/dashboard", []steward.Permission{steward.PermStatsRead},
			func(f *fix) (string, any) { return base + "/dashboard?days=7&tz=Europe/Paris", nil }},
		{"GET", base + "/billing", []steward.Permission{steward.PermStatsRead},
			func(f *fix) (string, any) { return base + "/billing", nil }},
		{"GET", base + "/audit-log", []steward.Permission{steward.PermAuditRead},
			func(f *fix) (string, any) { return base + "/audit-log?limit=5", nil }},
		{"GET", base + "/audit-log/verify", []steward.Permission{steward.PermAuditRead},
			func(f *fix) (string, any) { return base + "/audit-log/verify", nil }},
		{"GET", base + "/audit-log/export", []steward.Permission{steward.PermAuditExport},
			func(f *fix) (string, any) { return base + "/audit-log/export?format=ndjson&action=user.ban", nil }},
		{"GET", base + "/audit-log/checkpoints", []steward.Permission{steward.PermAuditRead},
			func(f *fix) (string, any) { return base + "/audit-log/checkpoints?limit=5", nil }},
		{"POST", base + "/audit-log/checkpoints", []steward.Permission{steward.PermAuditCheckpoint},
			func(f *fix) (string, any) { return base + "/audit-log/checkpoints", nil }},
		{"GET", base + "/retention", []steward.Permission{steward.PermConfigRead},
			func(f *fix) (string, any) { return base + "/retention", nil }},
		{"PUT", base + "/retention", []steward.Permission{steward.PermConfigWrite},
			func(f *fix) (string, any) { return base + "/retention", map[string]any{"sessions": 30} }},
		{"POST", base + "/retention/run", []steward.Permission{steward.PermRetentionRun},
			func(f *fix) (string, any) { return base + "/retention/run", nil }},
		{"GET", base + "/tenants/{id}/features", []steward.Permission{steward.PermTenantsRead}, onTenant("/features", nil)},
		{"PUT", base + "/tenants/{id}/features", []steward.Permission{steward.PermTenantsWrite}, onTenant("/features", M{"sso": true})},
		{"GET", base + "/users/{id}/features", []steward.Permission{steward.PermUsersRead}, onTarget("/features", nil)},
		{"PUT", base + "/users/{id}/features", []steward.Permission{steward.PermUsersWrite}, onTarget("/features", M{"api_access": false})},
		{"GET", base + "/config", []steward.Permission{steward.PermConfigRead},
			func(f *fix) (string, any) { return base + "/config", nil }},
		{"PUT", base + "/config", []steward.Permission{steward.PermConfigWrite},
			func(f *fix) (string, any) { return base + "/config", map[string]any{} }},
		{"GET", base + "/webhooks/event-types", []steward.Permission{steward.PermConfigRead},
			func(f *fix) (string, any) { return base + "/webhooks/event-types", nil }},
		{"POST", base + "/webhooks", []steward.Permission{steward.PermConfigWrite},
			func(f *fix) (string, any) {
				return base + "/webhooks", M{"url": "https://receiver.example.com/hook", "event_types": []string{"*"}}
			}},
		{"GET", base + "/webhooks", []steward.Permission{steward.PermConfigRead},
			func(f *fix) (string, any) { return base + "/webhooks", nil }},
		{"GET", base + "/webhooks/{id}", []steward.Permission{steward.PermConfigRead}, onWebhook("", nil)},
		{"PATCH", base + "/webhooks/{id}", []steward.Permission{steward.PermConfigWrite}, onWebhook("", M{"description": "x"})},
		{"DELETE", base + "/webhooks/{id}", []steward.Permission{steward.PermConfigWrite}, onWebhook("", nil)},
		{"POST", base + "/webhooks/{id}/rotate-secret", []steward.Permission{steward.PermConfigWrite}, onWebhook("/rotate-secret", nil)},
		{"GET", base + "/webhooks/{id}/deliveries", []steward.Permission{steward.PermConfigRead}, onWebhook("/deliveries", nil)},
		{"POST", base + "/webhooks/{id}/replay", []steward.Permission{steward.PermConfigWrite},
			onWebhook("/replay", M{"since": "2026-01-01T00:00:00Z"})},
		{"POST", base + "/webhooks/deliveries/{id}/retry", []steward.Permission{steward.PermConfigWrite},
			func(f *fix) (string, any) {
				// An endpoint on loopback, stored as is: the retry's dial is
				// refused at once (no setting allows it), nothing is sent,
				// and the answer is the failed attempt.
				now := f.a.Clock.Now()
				e := &steward.WebhookEndpoint{ID: id.New("whk", now), URL: "http://127.0.0.1:1/hook", EventTypes: []string{"*"},
					Enabled: false, SigningSecret: "whsec_QUFBQUFBQUFBQUFBQUFBQQ==", CreatedAt: now, UpdatedAt: now}
				ev := &steward.WebhookEvent{ID: id.New("msg", now), Type: "user.created", Payload: []byte(`{}`), CreatedAt: now}
				f.ok(f.a.Store.Update(context.Background(), func(tx store.Tx) error {
					return tx.InsertWebhookEvent(context.Background(), ev)
				}))
				// On PostgreSQL the sequencer gives the event its seq, once
				// every transaction older than its writer has ended: the
				// other roles' requests run meanwhile, so a pass may leave
				// it pending; the next one seals it.
				for pass := 0; ev.Seq == 0; pass++ {
					if pass == 1000 {
						f.t.Fatalf("event %s still has no seq after %d sealing passes", ev.ID, pass)
					}
					f.a.Svc.Audit.SealNow(context.Background())
					last, err := f.a.Store.LastWebhookEventSeq(context.Background())
					f.ok(err)
					evs, err := f.a.Store.ListWebhookEvents(context.Background(), 0, int(last))
					f.ok(err)
					for _, x := range evs {
						if x.ID == ev.ID {
							ev.Seq = x.Seq
						}
					}
				}
				f.ok(f.a.Store.Update(context.Background(), func(tx store.Tx) error {
					if err := tx.CreateWebhookEndpoint(context.Background(), e); err != nil {
						return err
					}
					return tx.InsertWebhookDelivery(context.Background(), &steward.WebhookDelivery{
						ID: id.New("dlv", now), EndpointID: e.ID, EventID: ev.ID, EventSeq: ev.Seq,
						EventType: ev.Type, Attempt: 1, CreatedAt: now})
				}))
				d, err := f.a.Store.ListWebhookDeliveries(context.Background(), e.ID, "", 1)
				f.ok(err)
				return base + "/webhooks/deliveries/" + d[0].ID + "/retry", nil
			}},
		{"GET", base + "/computers", []steward.Permission{steward.PermTenantsRead},
			func(f *fix) (string, any) { return base + "/computers?limit=5", nil }},
		{"GET", base + "/computers/{resource_id}", []steward.Permission{steward.PermTenantsRead}, onComputer(tenant, "", "", nil)},
		{"DELETE", base + "/computers/{resource_id}", []steward.Permission{steward.PermTenantsWrite}, onComputer(tenant, "", "", nil)},
		{"POST", base + "/computers/{resource_id}/suspend", []steward.Permission{steward.PermTenantsWrite}, onComputer(tenant, "", "/suspend", nil)},
		{"POST", base + "/computers/{resource_id}/resume", []steward.Permission{steward.PermTenantsWrite}, onComputer(tenant, "suspend", "/resume", nil)},
		{"POST", base + "/computers/{resource_id}/restart", []steward.Permission{steward.PermTenantsWrite}, onComputer(tenant, "", "/restart", M{})},
		{"POST", base + "/computers/purge-stale", []steward.Permission{steward.PermTenantsDelete},
			func(f *fix) (string, any) { return base + "/computers/purge-stale", M{"older_than": "1h"} }},
		{"GET", base + "/optimal/status", []steward.Permission{steward.PermConfigRead},
			func(f *fix) (string, any) { return base + "/optimal/status", nil }},
		{"GET", base + "/optimal/models", []steward.Permission{steward.PermConfigRead},
			func(f *fix) (string, any) { return base + "/optimal/models", nil }},
		{"POST", base + "/optimal/models/switch", []steward.Permission{steward.PermConfigWrite},
			func(f *fix) (string, any) { return base + "/optimal/models/switch", M{"model_id": "small-1"} }},
		// Custom admin actions: users:read is the base permission, the
		// action's min_role the gate (authzActions: support).
		{"GET", base + "/actions", []steward.Permission{steward.PermUsersRead},
			func(f *fix) (string, any) { return base + "/actions", nil }},
		{"POST", base + "/actions/{name}", []steward.Permission{steward.PermUsersRead},
			func(f *fix) (string, any) { return base + "/actions/" + authzAction, M{"target_id": target(f)} }},
		{"GET", base + "/data/schema", []steward.Permission{steward.PermDataRead},
			func(f *fix) (string, any) { return base + "/data/schema", nil }},
		{"POST", base + "/data/reload", []steward.Permission{steward.PermConfigWrite},
			func(f *fix) (string, any) { return base + "/data/reload", nil }},
		{"GET", base + "/data/{table}", []steward.Permission{steward.PermDataRead},
			func(f *fix) (string, any) { return base + "/data/orders?limit=5", nil }},
		{"POST", base + "/data/{table}", []steward.Permission{steward.PermDataWrite},
			func(f *fix) (string, any) { return base + "/data/orders", order(int(uniq.Add(1))) }},
		{"GET", base + "/data/{table}/export", []steward.Permission{steward.PermDataRead},
			func(f *fix) (string, any) { return base + "/data/orders/export", nil }},
		{"GET", base + "/data/{table}/{pk}", []steward.Permission{steward.PermDataRead}, onDataRow("", nil)},
		{"PATCH", base + "/data/{table}/{pk}", []steward.Permission{steward.PermDataWrite}, onDataRow("", M{"note": "authz"})},
		{"DELETE", base + "/data/{table}/{pk}", []steward.Permission{steward.PermDataWrite}, onDataRow("", nil)},
	}
}

// authzData exposes datatest's tables, orders' deletes lowered to admin
// (data:write) so that the route's permission is its whole gate.
func authzData() apptest.Options {
	return withData(func(ts []*datatables.Table) { ts[0].Roles.Delete = steward.RoleAdmin })
}

// onDataRow inserts, as the system, a fresh orders row and builds the
// request on it.
func onDataRow(suffix string, body any) func(f *fix) (string, any) {
	return func(f *fix) (string, any) {
		vals := map[string]json.RawMessage{}
		for k, v := range order(int(uniq.Add(1))) {
			vals[k], _ = json.Marshal(v)
		}
		rec, err := f.a.Svc.Data.InsertRow(apptest.System(), "orders", vals)
		f.ok(err)
		return fmt.Sprintf("/api/v1/admin/data/orders/%v%s", rec.Row["id"], suffix), body
	}
}

// onComputer reports, as the system, a fresh resource of a fresh tenant,
// suspended first when state is "suspend", and builds the request on it.
func onComputer(tenant func(f *fix) string, state, suffix string, body any) func(f *fix) (string, any) {
	return func(f *fix) (string, any) {
		id := fmt.Sprintf("authz-vm-%d", uniq.Add(1))
		_, err := f.a.Svc.Resources.ReportResource(apptest.System(), id, &steward.ResourceReport{Kind: "computer",
			TenantID: tenant(f), Status: steward.ResourceRunning})
		f.ok(err)
		if state == "suspend" {
			_, err = f.a.Svc.Resources.SuspendResource(apptest.System(), id)
			f.ok(err)
		}
		return "/api/v1/admin/computers/" + id + suffix, body
	}
}

// authzKey mints, as the system, a user key for a fresh end user: a target
// every operator with keys:write outranks.
func authzKey(f *fix) *steward.CreatedKey {
	f.t.Helper()
	u := createUser(f.t, f.a, steward.RoleUser)
	k, err := f.a.Svc.Keys.CreateKey(apptest.System(), &steward.KeyCreate{Name: "authz target", Type: steward.KeyUser, UserID: u.ID})
	f.ok(err)
	return k
}

// routeLineRe matches one entry of the route table in routes.go:
// {http.MethodGet, "/api/v1/admin/users", authAdmin, s.listUsers},
var routeLineRe = regexp.MustCompile(`\{\s*http\.Method(\w+),\s*"([^"]+)",\s*(auth\w+),`)

// routesInSource parses api/routes.go, the one list of the surface, for its
// routes of one auth kind (authAdmin, authPlatform). Parsing the source keeps
// these tests honest without exporting the table: a route added there and not
// to the tables here fails them.
func routesInSource(t *testing.T, kind string) []string {
	t.Helper()
	src, err := os.ReadFile("routes.go")
	if err != nil {
		t.Fatalf("reading the route table: %v", err)
	}
	var found []string
	total := 0
	for _, m := range routeLineRe.FindAllStringSubmatch(string(src), -1) {
		total++
		if m[3] == kind {
			found = append(found, strings.ToUpper(m[1])+" "+m[2])
		}
	}
	if total < 10 || len(found) == 0 {
		t.Fatalf("found %d routes (%d %s) in routes.go: has its format changed?", total, len(found), kind)
	}
	return found
}

func TestAuthzTableCoversEveryAdminRoute(t *testing.T) {
	inSource := routesInSource(t, "authAdmin")
	inTable := map[string]bool{}
	for _, r := range authzTable() {
		if inTable[r.key()] {
			t.Errorf("%s is in the table twice", r.key())
		}
		inTable[r.key()] = true
		if len(r.Perms) == 0 {
			t.Errorf("%s has no permission", r.key())
		}
	}
	for _, k := range inSource {
		if !inTable[k] {
			t.Errorf("admin route %s is in api/routes.go but not in the authorization table", k)
		}
		delete(inTable, k)
	}
	var stale []string
	for k := range inTable {
		stale = append(stale, k)
	}
	sort.Strings(stale)
	for _, k := range stale {
		t.Errorf("%s is in the authorization table but is not an admin route in api/routes.go", k)
	}
}

// credential is one way of calling: a role, or no/bad credential.
type credential struct {
	Name  string
	Role  steward.Role // "" for none/bad
	Token string       // for none/bad
}

func TestAuthorizationMatrix(t *testing.T) {
	table := authzTable()
	creds := []credential{
		{Name: "none"},
		{Name: "bad", Token: "stw_s_this-is-not-a-real-session-token-at-all"},
		{Name: "user", Role: steward.RoleUser},
		{Name: "support", Role: steward.RoleSupport},
		{Name: "admin", Role: steward.RoleAdmin},
		{Name: "owner", Role: steward.RoleOwner},
		{Name: "super_admin", Role: steward.RoleSuperAdmin},
	}
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		tokens := map[string]string{}
		for _, c := range creds {
			tokens[c.Name] = c.Token
			if c.Role != "" {
				u := createUser(t, a, c.Role)
				tokens[c.Name] = svcLogin(t, a, u.Email)
			}
		}
		for _, rt := range table {
			t.Run(rt.Method+"_"+strings.TrimPrefix(rt.Pattern, "/api/v1/admin/"), func(t *testing.T) {
				f := newFix(t, a)
				for _, c := range creds {
					path, body := rt.Build(f)
					r := f.do(rt.Method, path, tokens[c.Name], body)
					var missing []steward.Permission
					for _, p := range rt.Perms {
						if !c.Role.Can(p) {
							missing = append(missing, p)
						}
					}
					holds := c.Role != "" && len(missing) == 0
					var want string
					switch {
					case c.Role == "":
						want = "401 UNAUTHENTICATED"
						if r.Status != 401 || r.Get("code") != steward.CodeUnauthenticated {
							t.Errorf("%s as %s: %d %s, want %s", rt.key(), c.Name, r.Status, r.Raw, want)
						}
					case !holds:
						// A plain user is refused at the door; an operator
						// for the missing permission. Either way FORBIDDEN.
						want = "403 FORBIDDEN"
						if r.Status != 403 || r.Get("code") != steward.CodeForbidden {
							t.Errorf("%s as %s: %d %s, want %s", rt.key(), c.Name, r.Status, r.Raw, want)
						}
						// An operator is told which permission it lacks, and
						// it must be one the table says the route needs.
						if c.Role.IsOperator() {
							got, _ := r.Get("details.required_permission").(string)
							if !slices.Contains(missing, steward.Permission(got)) {
								t.Errorf("%s as %s: required_permission %q, want one of %v", rt.key(), c.Name, got, missing)
							}
						}
					default:
						if r.Status < 200 || r.Status >= 300 {
							t.Errorf("%s as %s (holds %v): %d %s, want success", rt.key(), c.Name, rt.Perms, r.Status, r.Raw)
						}
					}
				}
			})
		}
		// The matrix must not have disturbed the operators: every role's
		// token still works.
		for _, c := range creds[2:] {
			if _, err := a.Svc.Auth.Authenticate(context.Background(), tokens[c.Name]); err != nil {
				t.Errorf("%s's session died during the matrix: %v", c.Name, err)
			}
		}
		outboxMatchesAudit(t, a)
	}, modelCatalogue(), authzActions(t), authzData())
}

// outboxMatchesAudit: after the matrix has made every kind of change the
// admin API offers, each audit entry of an announced action has exactly
// one outbox event, of its catalogued type, and each event announces an
// entry that is in the log: nothing announced that did not happen, nothing
// that happened unannounced.
func outboxMatchesAudit(t *testing.T, a *apptest.App) {
	t.Helper()
	ctx := context.Background()
	typeOf := map[string]string{}
	for _, et := range service.EventTypes() {
		typeOf[et.Action] = et.Type
	}
	// Entries and, on PostgreSQL, events are ordered by the sequencer:
	// everything committed is sealed first.
	a.Svc.Audit.SealNow(ctx)
	if p, err := a.Svc.Audit.AuditPending(apptest.System()); err != nil || p.Count != 0 {
		t.Fatalf("pending after sealing: %+v %v", p, err)
	}
	announced := map[string]string{} // audit id → the event type it needs
	for before := int64(0); ; {
		page, err := a.Store.ListAudit(ctx, steward.AuditFilter{BeforeSeq: before, Limit: 1000, SealedOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page {
			if typ := typeOf[e.Action]; typ != "" {
				announced[e.ID] = typ
			}
		}
		if len(page) < 1000 {
			break
		}
		before = page[len(page)-1].Seq
	}
	seen := map[string]int{}
	kinds := map[string]bool{}
	for after := int64(0); ; {
		evs, err := a.Store.ListWebhookEvents(ctx, after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			if string(ev.Payload) == "{}" {
				continue // the retry row's own fixture, written to the store directly
			}
			var p struct {
				Type string `json:"type"`
				Data struct {
					AuditID string `json:"audit_id"`
				} `json:"data"`
			}
			if err := json.Unmarshal(ev.Payload, &p); err != nil {
				t.Fatalf("event %s: %v", ev.ID, err)
			}
			seen[p.Data.AuditID]++
			if want, ok := announced[p.Data.AuditID]; !ok || want != ev.Type || p.Type != ev.Type {
				t.Errorf("event %s (%s) announces audit entry %s, which needs %q", ev.ID, ev.Type, p.Data.AuditID, want)
			}
			kinds[ev.Type] = true
		}
		if len(evs) < 1000 {
			break
		}
		after = evs[len(evs)-1].Seq
	}
	for aid, typ := range announced {
		if seen[aid] != 1 {
			t.Errorf("audit entry %s (%s) has %d outbox events, want 1", aid, typ, seen[aid])
		}
	}
	// The matrix must have exercised most of the catalogue, or this check
	// proves little.
	t.Logf("the matrix announced %d event types of %d", len(kinds), len(typeOf))
	if len(kinds) < len(typeOf)/2 {
		t.Errorf("the matrix announced %d event types of %d", len(kinds), len(typeOf))
	}
}

// platformRoute is one platform endpoint and the permission a platform key
// needs for it, in its scopes and in its operator's role.
type platformRoute struct {
	Method, Pattern string
	Perm            steward.Permission
	// Setup makes what the requests need, once per test.
	Setup func(f *fix) platformCall
}

func (r platformRoute) key() string { return r.Method + " " + r.Pattern }

// platformCall is how to call one platform route.
type platformCall struct {
	// Body is a valid body, fresh for each request.
	Body func() any
	// Path, when set, is the path to call instead of the pattern (one
	// with a query).
	Path string
	// Answered reports what is wrong with a success answer ("" for nothing).
	Answered func(r *apptest.Response) string
	// Done, when set, checks what the calls left behind, given how many
	// were answered: refused calls must have changed nothing.
	Done func(answered int)
}

// platformTable is every platform route with the permission the service
// checks: VerifyKey keys:verify, RecordUsage usage:write.
func platformTable() []platformRoute {
	const base = "/api/v1/platform"
	return []platformRoute{
		{"POST", base + "/keys/verify", steward.PermKeysVerify, func(f *fix) platformCall {
			end := createUser(f.t, f.a, steward.RoleUser)
			k, err := f.a.Svc.Keys.CreateKey(apptest.System(), &steward.KeyCreate{Name: "checked", Type: steward.KeyUser, UserID: end.ID})
			f.ok(err)
			return platformCall{
				Body: func() any { return M{"key": k.Key} },
				Answered: func(r *apptest.Response) string {
					if r.Status != 200 || r.Get("valid") != true || r.Get("code") != steward.VerifyValid {
						return "want 200 VALID"
					}
					return ""
				},
			}
		}},
		{"POST", base + "/sessions/verify", steward.PermSessionsVerify, func(f *fix) platformCall {
			end := createUser(f.t, f.a, steward.RoleUser)
			tok := svcLogin(f.t, f.a, end.Email)
			return platformCall{
				Body: func() any { return M{"token": tok, "method": "POST"} },
				Answered: func(r *apptest.Response) string {
					if r.Status != 200 || r.Get("valid") != true || r.Get("code") != steward.SessionVerifyValid || r.Get("user_id") != end.ID {
						return "want 200 VALID"
					}
					return ""
				},
			}
		}},
		{"GET", base + "/features", steward.PermFeaturesRead, func(f *fix) platformCall {
			end := createUser(f.t, f.a, steward.RoleUser)
			return platformCall{
				Body: func() any { return nil },
				Path: base + "/features?user_id=" + end.ID,
				Answered: func(r *apptest.Response) string {
					if r.Status != 200 || r.Get("user_id") != end.ID || r.Get("features.api_access") != true {
						return "want 200 with the user's flags"
					}
					return ""
				},
			}
		}},
		{"PUT", base + "/resources/{resource_id}", steward.PermResourcesWrite, func(f *fix) platformCall {
			t, err := f.a.Svc.Tenants.CreateTenant(apptest.System(), &steward.TenantCreate{Name: fmt.Sprintf("Platform %d", uniq.Add(1))})
			f.ok(err)
			id := fmt.Sprintf("platform-vm-%d", uniq.Add(1))
			return platformCall{
				Body: func() any { return M{"kind": "computer", "tenant_id": t.ID, "status": "running"} },
				Path: base + "/resources/" + id,
				Answered: func(r *apptest.Response) string {
					if r.Status != 200 || r.Get("id") != id || r.Get("desired_status") != "running" {
						return "want 200 with the resource recorded"
					}
					return ""
				},
				Done: func(answered int) {
					_, err := f.a.Svc.Resources.GetResource(apptest.System(), id)
					if (err == nil) != (answered > 0) {
						f.t.Errorf("after %d answered calls: resource %s: %v; refused calls must record nothing", answered, id, err)
					}
				},
			}
		}},
		{"GET", base + "/resources/{resource_id}", steward.PermResourcesWrite, func(f *fix) platformCall {
			t, err := f.a.Svc.Tenants.CreateTenant(apptest.System(), &steward.TenantCreate{Name: fmt.Sprintf("Platform %d", uniq.Add(1))})
			f.ok(err)
			id := fmt.Sprintf("platform-vm-%d", uniq.Add(1))
			_, err = f.a.Svc.Resources.ReportResource(apptest.System(), id, &steward.ResourceReport{Kind: "computer",
				TenantID: t.ID, Status: steward.ResourceRunning})
			f.ok(err)
			return platformCall{
				Body: func() any { return nil },
				Path: base + "/resources/" + id,
				Answered: func(r *apptest.Response) string {
					if r.Status != 200 || r.Get("id") != id || r.Get("desired_status") != "running" {
						return "want 200 with the desired state"
					}
					return ""
				},
			}
		}},
		{"GET", base + "/models/active", steward.PermModelsRead, func(f *fix) platformCall {
			return platformCall{
				Body: func() any { return nil },
				Answered: func(r *apptest.Response) string {
					if r.Status != 200 || r.Get("active.model_id") != "large-2" || r.Get("healthy") != true {
						return "want 200 with large-2 active"
					}
					return ""
				},
			}
		}},
		{"POST", base + "/usage", steward.PermUsageWrite, func(f *fix) platformCall {
			t, err := f.a.Svc.Tenants.CreateTenant(apptest.System(), &steward.TenantCreate{Name: fmt.Sprintf("Platform %d", uniq.Add(1))})
			f.ok(err)
			_, err = f.a.Svc.Credits.Grant(apptest.System(), &steward.GrantInput{TenantID: t.ID, Amount: 100, Description: "platform funds"})
			f.ok(err)
			return platformCall{
				Body: func() any {
					return M{"events": []M{{"id": fmt.Sprintf("platform-%d", uniq.Add(1)), "tenant_id": t.ID, "metric": "api_calls",
						"quantity": 3, "credits": 1, "occurred_at": f.a.Clock.Now().Format(time.RFC3339Nano)}}}
				},
				Answered: func(r *apptest.Response) string {
					if r.Status != 200 || num(r, "recorded") != 1 || str(r, "results.0.status") != steward.UsageRecorded ||
						!strings.HasPrefix(str(r, "results.0.transaction_id"), "txn_") {
						return "want 200 with the event recorded and paid for"
					}
					return ""
				},
				Done: func(answered int) {
					b, err := f.a.Svc.Credits.Balance(apptest.System(), t.ID)
					f.ok(err)
					now := f.a.Clock.Now()
					start, end := now.Add(-time.Hour), now.Add(time.Hour)
					rep, err := f.a.Svc.Credits.UsageReport(apptest.System(), &steward.UsageReportInput{Period: "custom", Start: &start, End: &end,
						GroupBy: steward.UsageByTenant, TenantID: t.ID})
					f.ok(err)
					if b.Balance != int64(100-answered) || rep.Totals.Events != int64(answered) {
						f.t.Errorf("after %d answered calls: balance %d, %d events recorded; refused calls must record and spend nothing",
							answered, b.Balance, rep.Totals.Events)
					}
				},
			}
		}},
	}
}

func TestPlatformTableCoversEveryPlatformRoute(t *testing.T) {
	inTable := map[string]bool{}
	for _, r := range platformTable() {
		if inTable[r.key()] {
			t.Errorf("%s is in the platform table twice", r.key())
		}
		inTable[r.key()] = true
	}
	for _, k := range routesInSource(t, "authPlatform") {
		if !inTable[k] {
			t.Errorf("platform route %s is in api/routes.go but not in the platform table", k)
		}
		delete(inTable, k)
	}
	var stale []string
	for k := range inTable {
		stale = append(stale, k)
	}
	sort.Strings(stale)
	for _, k := range stale {
		t.Errorf("%s is in the platform table but is not a platform route in api/routes.go", k)
	}
}

// TestPlatformRoutesTakeOnlyPlatformKeys puts every kind of credential to
// each platform route: only a platform key whose scopes and whose operator's
// role both hold the route's permission gets an answer. A platform key
// holding every other platform permission is refused too.
func TestPlatformRoutesTakeOnlyPlatformKeys(t *testing.T) {
	table := platformTable()
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		adm := createUser(t, a, steward.RoleAdmin)
		sup := createUser(t, a, steward.RoleSupport)
		end := createUser(t, a, steward.RoleUser)
		login, err := a.Svc.Auth.Login(context.Background(), steward.LoginInput{Email: adm.Email, Password: apptest.Password, IP: "192.0.2.10"})
		if err != nil {
			t.Fatal(err)
		}
		for _, rt := range table {
			t.Run(strings.TrimPrefix(rt.Pattern, "/api/v1/platform/"), func(t *testing.T) {
				f := newFix(t, a)
				mint := func(owner *steward.User, typ steward.KeyType, scopes ...steward.Permission) string {
					t.Helper()
					k, err := a.Svc.Keys.CreateKey(apptest.System(), &steward.KeyCreate{Name: "surface " + string(typ), Type: typ, UserID: owner.ID, Scopes: scopes})
					f.ok(err)
					return k.Key
				}
				revoked, err := a.Svc.Keys.CreateKey(apptest.System(), &steward.KeyCreate{Name: "revoked platform", Type: steward.KeyPlatform,
					UserID: adm.ID, Scopes: []steward.Permission{rt.Perm}})
				f.ok(err)
				_, err = a.Svc.Keys.RevokeKey(apptest.System(), revoked.ID, "")
				f.ok(err)
				// Every other platform route's permission, and reads.
				others := []steward.Permission{steward.PermUsersRead, steward.PermKeysRead}
				for _, o := range table {
					if o.Perm != rt.Perm && !slices.Contains(others, o.Perm) {
						others = append(others, o.Perm)
					}
				}
				call := rt.Setup(f)

				cases := []struct {
					name, token string
					status      int
					code        string
				}{
					{"no credential", "", 401, steward.CodeUnauthenticated},
					{"garbage", "garbage", 401, steward.CodeUnauthenticated},
					{"unknown platform key", "stw_p_" + strings.Repeat("A", 43), 401, steward.CodeUnauthenticated},
					{"revoked platform key", revoked.Key, 401, steward.CodeUnauthenticated},
					{"operator session token", login.SessionToken, 403, steward.CodeWrongSurface},
					{"operator access token", login.AccessToken, 403, steward.CodeWrongSurface},
					{"root session token", a.RootToken, 403, steward.CodeWrongSurface},
					{"end user's session token", svcLogin(t, a, end.Email), 403, steward.CodeWrongSurface},
					{"admin key", mint(adm, steward.KeyAdmin), 403, steward.CodeWrongSurface},
					{"root's admin key holding *", mint(a.Root, steward.KeyAdmin, steward.PermAll), 403, steward.CodeWrongSurface},
					{"user key", mint(end, steward.KeyUser), 403, steward.CodeWrongSurface},
					{"platform key without " + string(rt.Perm), mint(adm, steward.KeyPlatform, others...), 403, steward.CodeForbidden},
					{"platform key of a support operator", mint(sup, steward.KeyPlatform, rt.Perm), 403, steward.CodeForbidden},
					{"platform key with " + string(rt.Perm), mint(adm, steward.KeyPlatform, rt.Perm), 200, ""},
					{"platform key with *", mint(a.Root, steward.KeyPlatform, steward.PermAll), 200, ""},
				}
				answered := 0
				for _, c := range cases {
					path := rt.Pattern
					if call.Path != "" {
						path = call.Path
					}
					r := f.do(rt.Method, path, c.token, call.Body())
					if c.status == 200 {
						if problem := call.Answered(r); problem != "" {
							t.Errorf("%s: %d %s, %s", c.name, r.Status, r.Raw, problem)
						}
						answered++
						continue
					}
					if r.Status != c.status || r.Get("code") != c.code {
						t.Errorf("%s: %d %s, want %d %s", c.name, r.Status, r.Raw, c.status, c.code)
					}
					if c.code == steward.CodeForbidden && r.Get("details.required_permission") != string(rt.Perm) {
						t.Errorf("%s: required_permission %v, want %s", c.name, r.Get("details.required_permission"), rt.Perm)
					}
				}
				if call.Done != nil {
					call.Done(answered)
				}
			})
		}
	}, modelCatalogue())
}

// authzImpersonation starts an impersonation of a fresh user by root.
func authzImpersonation(f *fix) string {
	u := createUser(f.t, f.a, steward.RoleUser)
	res, err := f.a.Svc.Impersonations.StartImpersonation(apptest.As(f.a.Root),
		steward.ImpersonationStart{UserID: u.ID, Reason: "authz"})
	f.ok(err)
	return res.ImpersonationID
}
