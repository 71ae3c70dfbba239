package steward

import "slices"

// Role is a platform role. Roles are ranked; an operator is any role ranked
// at least support.
type Role string

const (
	RoleUser       Role = "user"
	RoleSupport    Role = "support"
	RoleAdmin      Role = "admin"
	RoleOwner      Role = "owner"
	RoleSuperAdmin Role = "super_admin"
)

// Roles lists every role from lowest to highest rank.
var Roles = []Role{RoleUser, RoleSupport, RoleAdmin, RoleOwner, RoleSuperAdmin}

// Rank is the role's position in Roles, or -1 for an unknown role.
func (r Role) Rank() int { return slices.Index(Roles, r) }

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r.Rank() >= 0 }

// IsOperator reports whether r may use the admin surface at all.
func (r Role) IsOperator() bool { return r.Rank() >= RoleSupport.Rank() }

// IsTop reports whether r counts for the last-active-owner guard.
func (r Role) IsTop() bool { return r == RoleOwner || r == RoleSuperAdmin }

// Permission is a "resource:action" string.
type Permission string

const (
	PermAll              Permission = "*"
	PermUsersRead        Permission = "users:read"
	PermUsersWrite       Permission = "users:write"
	PermUsersBan         Permission = "users:ban"
	PermUsersDelete      Permission = "users:delete"
	PermUsersRole        Permission = "users:role"
	PermUsersImpersonate Permission = "users:impersonate"
	PermSessionsRead     Permission = "sessions:read"
	PermSessionsRevoke   Permission = "sessions:revoke"
	PermKeysRead         Permission = "keys:read"
	PermKeysWrite        Permission = "keys:write"
	PermKeysVerify       Permission = "keys:verify"
	PermTenantsRead      Permission = "tenants:read"
	PermTenantsWrite     Permission = "tenants:write"
	PermTenantsDelete    Permission = "tenants:delete"
	PermCreditsRead      Permission = "credits:read"
	PermCreditsWrite     Permission = "credits:write"
	PermCreditsAdjust    Permission = "credits:adjust"
	PermUsageRead        Permission = "usage:read"
	PermUsageWrite       Permission = "usage:write"
	PermConfigRead       Permission = "config:read"
	PermConfigWrite      Permission = "config:write"
	PermAuditRead        Permission = "audit:read"
	PermAuditExport      Permission = "audit:export"
	PermAuditCheckpoint  Permission = "audit:checkpoint" // sign the chain head now: only adds evidence
	PermRetentionRun     Permission = "retention:run"
	PermStatsRead        Permission = "stats:read"  // the overview: stats, dashboard, billing
	PermHealthRead       Permission = "health:read" // GET /admin/health/detailed
)

// PermUsersImpersonateWrite lets an impersonation allow writes (owner and up).
const PermUsersImpersonateWrite Permission = "users:impersonate_write"

// The permission table. support reads everything but secrets; admin adds the
// day-to-day writes; owner adds deletes, role grants, impersonation,
// configuration and retention; super_admin holds everything.
var (
	supportPerms = []Permission{
		PermUsersRead, PermSessionsRead, PermKeysRead, PermTenantsRead,
		PermCreditsRead, PermUsageRead, PermConfigRead, PermAuditRead,
		PermStatsRead, PermHealthRead, PermDataRead,
	}
	adminPerms = append(slices.Clone(supportPerms),
		PermUsersWrite, PermUsersBan, PermSessionsRevoke, PermKeysWrite, PermKeysVerify, PermSessionsVerify,
		PermTenantsWrite, PermCreditsWrite, PermUsageWrite, PermAuditExport,
		PermAuditCheckpoint, PermFeaturesRead, PermResourcesWrite,
		PermModelsRead, PermDataWrite)
	ownerPerms = append(slices.Clone(adminPerms),
		PermUsersDelete, PermUsersRole, PermUsersImpersonate, PermUsersImpersonateWrite, PermTenantsDelete,
		PermCreditsAdjust, PermConfigWrite, PermRetentionRun)
	rolePermissions = map[Role][]Permission{
		RoleUser:       nil,
		RoleSupport:    supportPerms,
		RoleAdmin:      adminPerms,
		RoleOwner:      ownerPerms,
		RoleSuperAdmin: {PermAll},
	}
)

// AllPermissions lists every concrete permission (not "*").
func AllPermissions() []Permission { return slices.Clone(ownerPerms) }

// Permissions returns the permissions r holds.
func (r Role) Permissions() []Permission { return slices.Clone(rolePermissions[r]) }

// Can reports whether r holds p.
func (r Role) Can(p Permission) bool {
	perms := rolePermissions[r]
	return slices.Contains(perms, PermAll) || slices.Contains(perms, p)
}
