package api

import "net/http"

type authKind int

const (
	authPublic   authKind = iota // no credential
	authUser                     // any live session (the auth surface)
	authAdmin                    // an operator, not under impersonation
	authPlatform                 // a platform key
)

// route is one endpoint. The OpenAPI test and the authorization test both
// walk this table, so an endpoint cannot be added without being documented
// and checked against every role.
type route struct {
	Method  string
	Pattern string
	Auth    authKind
	Handle  handler
}

// routes is the whole HTTP surface (plus GET /metrics, mounted beside it).
func (s *server) routes() []route {
	return []route{
		{http.MethodGet, "/healthz", authPublic, s.healthz},
		{http.MethodGet, "/readyz", authPublic, s.readyz},
		{http.MethodGet, "/.well-known/jwks.json", authPublic, s.jwks},
		{http.MethodGet, "/api/v1/openapi.json", authPublic, s.openapi},

		{http.MethodPost, "/api/v1/auth/login", authPublic, s.login},
		{http.MethodPost, "/api/v1/auth/refresh", authPublic, s.refresh},
		{http.MethodPost, "/api/v1/auth/logout", authUser, s.logout},
		{http.MethodGet, "/api/v1/auth/me", authUser, s.me},
		{http.MethodPatch, "/api/v1/auth/me", authUser, s.updateMe},
		{http.MethodPost, "/api/v1/auth/change-password", authUser, s.changeOwnPassword},
		{http.MethodGet, "/api/v1/auth/impersonations", authUser, s.myImpersonations},

		{http.MethodGet, "/api/v1/admin/users", authAdmin, s.listUsers},
		{http.MethodPost, "/api/v1/admin/users", authAdmin, s.createUser},
		{http.MethodPost, "/api/v1/admin/users/bulk", authAdmin, s.bulkUsers},
		{http.MethodGet, "/api/v1/admin/users/{id}", authAdmin, s.getUser},
		{http.MethodPut, "/api/v1/admin/users/{id}", authAdmin, s.updateUser},
		{http.MethodPatch, "/api/v1/admin/users/{id}", authAdmin, s.updateUser},
		{http.MethodDelete, "/api/v1/admin/users/{id}", authAdmin, s.deleteUser},
		{http.MethodPost, "/api/v1/admin/users/{id}/restore", authAdmin, s.restoreUser},
		{http.MethodPost, "/api/v1/admin/users/{id}/suspend", authAdmin, s.suspendUser},
		{http.MethodPost, "/api/v1/admin/users/{id}/unsuspend", authAdmin, s.unsuspendUser},
		{http.MethodPost, "/api/v1/admin/users/{id}/ban", authAdmin, s.banUser},
		{http.MethodPost, "/api/v1/admin/users/{id}/unban", authAdmin, s.unbanUser},
		{http.MethodPost, "/api/v1/admin/users/{id}/force-logout", authAdmin, s.forceLogout},
		{http.MethodPost, "/api/v1/admin/users/{id}/change-password", authAdmin, s.changePassword},
		{http.MethodPost, "/api/v1/admin/users/{id}/role", authAdmin, s.changeRole},
		{http.MethodGet, "/api/v1/admin/users/{id}/sessions", authAdmin, s.userSessions},
		{http.MethodGet, "/api/v1/admin/users/{id}/audit-log", authAdmin, s.userAudit},
		{http.MethodGet, "/api/v1/admin/admins", authAdmin, s.listAdmins},
		{http.MethodPost, "/api/v1/admin/admins", authAdmin, s.createAdmin},
		{http.MethodGet, "/api/v1/admin/admins/{id}", authAdmin, s.getAdmin},
		{http.MethodPatch, "/api/v1/admin/admins/{id}", authAdmin, s.updateAdmin},
		{http.MethodDelete, "/api/v1/admin/admins/{id}", authAdmin, s.deleteAdmin},

		{http.MethodPost, "/api/v1/admin/users/{id}/impersonate", authAdmin, s.impersonateUser},
		{http.MethodPost, "/api/v1/admin/impersonate", authAdmin, s.impersonateAlias},
		{http.MethodGet, "/api/v1/admin/impersonations", authAdmin, s.listImpersonations},
		{http.MethodGet, "/api/v1/admin/impersonations/{id}", authAdmin, s.getImpersonation},
		{http.MethodPost, "/api/v1/admin/impersonations/{id}/stop", authAdmin, s.stopImpersonation},

		{http.MethodGet, "/api/v1/admin/sessions", authAdmin, s.listSessions},
		{http.MethodDelete, "/api/v1/admin/sessions/{id}", authAdmin, s.revokeSession},

		{http.MethodGet, "/api/v1/admin/users/{id}/api-keys", authAdmin, s.userKeys},
		{http.MethodGet, "/api/v1/admin/api-keys", authAdmin, s.listKeys},
		{http.MethodPost, "/api/v1/admin/api-keys", authAdmin, s.idempotent(s.createKey)},
		{http.MethodGet, "/api/v1/admin/api-keys/stats", authAdmin, s.keyStats},
		{http.MethodGet, "/api/v1/admin/api-keys/usage", authAdmin, s.keysUsage},
		{http.MethodPost, "/api/v1/admin/api-keys/bulk-revoke", authAdmin, s.bulkRevokeKeys},
		{http.MethodGet, "/api/v1/admin/api-keys/{id}", authAdmin, s.getKey},
		{http.MethodPatch, "/api/v1/admin/api-keys/{id}", authAdmin, s.updateKey},
		{http.MethodDelete, "/api/v1/admin/api-keys/{id}", authAdmin, s.revokeKey},
		{http.MethodPost, "/api/v1/admin/api-keys/{id}/rotate", authAdmin, s.idempotent(s.rotateKey)},
		{http.MethodGet, "/api/v1/admin/api-keys/{id}/usage", authAdmin, s.keyUsage},

		{http.MethodPost, "/api/v1/platform/keys/verify", authPlatform, s.verifyKey},
		{http.MethodPost, "/api/v1/platform/sessions/verify", authPlatform, s.verifySession},

		{http.MethodGet, "/api/v1/admin/plans", authAdmin, s.listPlans},
		{http.MethodGet, "/api/v1/admin/tenants", authAdmin, s.listTenants},
		{http.MethodPost, "/api/v1/admin/tenants", authAdmin, s.idempotent(s.createTenant)},
		{http.MethodGet, "/api/v1/admin/tenants/{id}", authAdmin, s.getTenant},
		{http.MethodPatch, "/api/v1/admin/tenants/{id}", authAdmin, s.updateTenant},
		{http.MethodDelete, "/api/v1/admin/tenants/{id}", authAdmin, s.deleteTenant},
		{http.MethodGet, "/api/v1/admin/tenants/{id}/detail", authAdmin, s.tenantDetail},
		{http.MethodPost, "/api/v1/admin/tenants/{id}/suspend", authAdmin, s.suspendTenant},
		{http.MethodPost, "/api/v1/admin/tenants/{id}/unsuspend", authAdmin, s.unsuspendTenant},
		{http.MethodPost, "/api/v1/admin/tenants/{id}/restore", authAdmin, s.restoreTenant},
		{http.MethodPost, "/api/v1/admin/tenants/{id}/plan", authAdmin, s.idempotent(s.changePlan)},
		{http.MethodGet, "/api/v1/admin/tenants/{id}/plan-changes", authAdmin, s.listPlanChanges},

		{http.MethodPost, "/api/v1/admin/credits/grant", authAdmin, s.idempotent(s.grantCredits)},
		{http.MethodPost, "/api/v1/admin/credits/deduct", authAdmin, s.idempotent(s.deductCredits)},
		{http.MethodPost, "/api/v1/admin/credits/refund", authAdmin, s.idempotent(s.refundCredits)},
		{http.MethodPost, "/api/v1/admin/credits/adjust", authAdmin, s.idempotent(s.adjustCredits)},
		{http.MethodGet, "/api/v1/admin/credits/{tenant_id}/balance", authAdmin, s.creditBalance},
		{http.MethodGet, "/api/v1/admin/credits/{tenant_id}/history", authAdmin, s.creditHistory},
		{http.MethodGet, "/api/v1/admin/stats", authAdmin, s.stats},
		{http.MethodGet, "/api/v1/admin/usage", authAdmin, s.usageReport},
		{http.MethodGet, "/api/v1/admin/health/detailed", authAdmin, s.detailedHealth},
		{http.MethodPost, "/api/v1/platform/usage", authPlatform, s.recordUsage},
		{http.MethodGet, "/api/v1/admin/dashboard", authAdmin, s.dashboard},
		{http.MethodGet, "/api/v1/admin/billing", authAdmin, s.billing},

		{http.MethodGet, "/api/v1/admin/audit-log", authAdmin, s.listAudit},
		{http.MethodGet, "/api/v1/admin/audit-log/verify", authAdmin, s.longRead(s.verifyAudit)},
		{http.MethodGet, "/api/v1/admin/audit-log/export", authAdmin, s.longRead(s.exportAudit)},
		{http.MethodGet, "/api/v1/admin/audit-log/checkpoints", authAdmin, s.listAuditCheckpoints},
		{http.MethodPost, "/api/v1/admin/audit-log/checkpoints", authAdmin, s.createAuditCheckpoint},

		{http.MethodGet, "/api/v1/admin/retention", authAdmin, s.getRetention},
		{http.MethodPut, "/api/v1/admin/retention", authAdmin, s.putRetention},
		{http.MethodPost, "/api/v1/admin/retention/run", authAdmin, s.runRetention},
		{http.MethodGet, "/api/v1/admin/config", authAdmin, s.getPlatformConfig},
		{http.MethodPut, "/api/v1/admin/config", authAdmin, s.putPlatformConfig},
		{http.MethodGet, "/api/v1/admin/webhooks/event-types", authAdmin, s.listWebhookEventTypes},
		{http.MethodPost, "/api/v1/admin/webhooks", authAdmin, s.createWebhook},
		{http.MethodGet, "/api/v1/admin/webhooks", authAdmin, s.listWebhooks},
		{http.MethodGet, "/api/v1/admin/webhooks/{id}", authAdmin, s.getWebhook},
		{http.MethodPatch, "/api/v1/admin/webhooks/{id}", authAdmin, s.updateWebhook},
		{http.MethodDelete, "/api/v1/admin/webhooks/{id}", authAdmin, s.deleteWebhook},
		{http.MethodPost, "/api/v1/admin/webhooks/{id}/rotate-secret", authAdmin, s.rotateWebhookSecret},
		{http.MethodGet, "/api/v1/admin/webhooks/{id}/deliveries", authAdmin, s.listWebhookDeliveries},
		{http.MethodPost, "/api/v1/admin/webhooks/{id}/replay", authAdmin, s.replayWebhook},
		{http.MethodPost, "/api/v1/admin/webhooks/deliveries/{id}/retry", authAdmin, s.retryWebhookDelivery},
		{http.MethodGet, "/api/v1/admin/users/{id}/spending", authAdmin, s.getUserSpending},
		{http.MethodPut, "/api/v1/admin/users/{id}/spending", authAdmin, s.putUserSpending},

		{http.MethodGet, "/api/v1/admin/tenants/{id}/features", authAdmin, s.getTenantFeatures},
		{http.MethodPut, "/api/v1/admin/tenants/{id}/features", authAdmin, s.putTenantFeatures},
		{http.MethodGet, "/api/v1/admin/users/{id}/features", authAdmin, s.getUserFeatures},
		{http.MethodPut, "/api/v1/admin/users/{id}/features", authAdmin, s.putUserFeatures},
		{http.MethodGet, "/api/v1/platform/features", authPlatform, s.platformFeatures},

		{http.MethodPut, "/api/v1/platform/resources/{resource_id}", authPlatform, s.reportResource},
		{http.MethodGet, "/api/v1/platform/resources/{resource_id}", authPlatform, s.platformResource},
		{http.MethodGet, "/api/v1/admin/computers", authAdmin, s.listComputers},
		{http.MethodPost, "/api/v1/admin/computers/purge-stale", authAdmin, s.purgeStaleComputers},
		{http.MethodGet, "/api/v1/admin/computers/{resource_id}", authAdmin, s.getComputer},
		{http.MethodDelete, "/api/v1/admin/computers/{resource_id}", authAdmin, s.deleteComputer},
		{http.MethodPost, "/api/v1/admin/computers/{resource_id}/suspend", authAdmin, s.suspendComputer},
		{http.MethodPost, "/api/v1/admin/computers/{resource_id}/resume", authAdmin, s.resumeComputer},
		{http.MethodPost, "/api/v1/admin/computers/{resource_id}/restart", authAdmin, s.restartComputer},

		{http.MethodGet, "/api/v1/admin/data/schema", authAdmin, s.dataSchema},
		{http.MethodPost, "/api/v1/admin/data/reload", authAdmin, s.reloadData},
		{http.MethodGet, "/api/v1/admin/data/{table}", authAdmin, s.listData},
		{http.MethodPost, "/api/v1/admin/data/{table}", authAdmin, s.insertData},
		{http.MethodGet, "/api/v1/admin/data/{table}/export", authAdmin, s.longRead(s.exportData)},
		{http.MethodGet, "/api/v1/admin/data/{table}/{pk}", authAdmin, s.getData},
		{http.MethodPatch, "/api/v1/admin/data/{table}/{pk}", authAdmin, s.updateData},
		{http.MethodDelete, "/api/v1/admin/data/{table}/{pk}", authAdmin, s.deleteData},
		{http.MethodGet, "/api/v1/admin/optimal/status", authAdmin, s.modelStatus},
		{http.MethodGet, "/api/v1/admin/optimal/models", authAdmin, s.listModels},
		{http.MethodPost, "/api/v1/admin/optimal/models/switch", authAdmin, s.switchModel},
		{http.MethodGet, "/api/v1/admin/actions", authAdmin, s.listActions},
		{http.MethodPost, "/api/v1/admin/actions/{name}", authAdmin, s.runAction},
		{http.MethodGet, "/api/v1/platform/models/active", authPlatform, s.activeModel},
	}
}
