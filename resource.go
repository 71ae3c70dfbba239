package steward

import (
	"context"
	"time"
)

// PermResourcesWrite lets a platform key report resources (PUT
// /platform/resources/{id}) and read their desired state back (GET).
const PermResourcesWrite Permission = "resources:write"

// ResourceStatus is the state a product reports for one of its resources.
type ResourceStatus string

// The reported status vocabulary (docs/resources.md).
const (
	ResourceProvisioning ResourceStatus = "provisioning"
	ResourceRunning      ResourceStatus = "running"
	ResourceStopped      ResourceStatus = "stopped"
	ResourceSuspended    ResourceStatus = "suspended"
	ResourceRestarting   ResourceStatus = "restarting"
	ResourceError        ResourceStatus = "error"
	ResourceTerminated   ResourceStatus = "terminated"
)

// ResourceStatuses lists the reported statuses, in lifecycle order.
var ResourceStatuses = []ResourceStatus{ResourceProvisioning, ResourceRunning, ResourceStopped,
	ResourceSuspended, ResourceRestarting, ResourceError, ResourceTerminated}

// Valid reports whether s is in the vocabulary.
func (s ResourceStatus) Valid() bool {
	for _, v := range ResourceStatuses {
		if s == v {
			return true
		}
	}
	return false
}

// ResourceDesired is the state Steward's operators (or a tenant cascade)
// want a resource in; the product reads it and acts.
type ResourceDesired string

// Desired states.
const (
	DesiredRunning   ResourceDesired = "running"
	DesiredSuspended ResourceDesired = "suspended"
	DesiredDeleted   ResourceDesired = "deleted"
)

// Resource is one of the product's resources (Miosa's computers): what the
// product reported last, and beside it what Steward wants.
type Resource struct {
	ID         string         `json:"id"`
	Kind       string         `json:"kind"`
	TenantID   string         `json:"tenant_id"`
	UserID     string         `json:"user_id"` // "" when none
	Name       string         `json:"name"`
	Status     ResourceStatus `json:"status"` // reported
	Metadata   map[string]any `json:"metadata"`
	LastSeenAt time.Time      `json:"last_seen_at"`

	DesiredStatus ResourceDesired `json:"desired_status"`
	DesiredAt     time.Time       `json:"desired_at"`
	DesiredBy     string          `json:"desired_by"` // actor id; "" for the tenant cascade's first value
	// HeldByTenant: the tenant's suspension or deletion set the desired
	// state to suspended; unsuspending or restoring the tenant sets it
	// back to running. A resource an operator suspended is never held.
	HeldByTenant bool `json:"held_by_tenant"`
	// A restart is a request with its own id and time: the product acts
	// on a restart_id it has not seen yet.
	RestartID          string     `json:"restart_id"`
	RestartRequestedAt *time.Time `json:"restart_requested_at"`

	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// ResourceStats is GET /admin/stats' resources: every stored resource by
// reported and by desired status (every value present, 0 where none), those
// held by their tenant's suspension, and those not reported for StaleAfter
// (STEWARD_RESOURCE_STALE_AFTER, a Go duration), which a stale purge with
// no older_than would erase.
type ResourceStats struct {
	Total        int64                     `json:"total"`
	ByStatus     map[ResourceStatus]int64  `json:"by_status"`
	ByDesired    map[ResourceDesired]int64 `json:"by_desired_status"`
	HeldByTenant int64                     `json:"held_by_tenant"`
	Stale        int64                     `json:"stale"`
	StaleAfter   string                    `json:"stale_after"`
}

// ResourceReport is the body of PUT /platform/resources/{id}.
type ResourceReport struct {
	Kind     string         `json:"kind"`
	TenantID string         `json:"tenant_id"`
	UserID   string         `json:"user_id"`
	Name     string         `json:"name"`
	Status   ResourceStatus `json:"status"`
	Metadata map[string]any `json:"metadata"`
}

// ResourceFilter selects resources for the admin list.
type ResourceFilter struct {
	Status   ResourceStatus // reported
	TenantID string
	Kind     string
}

// ResourcePurge is the body of POST /admin/computers/purge-stale.
type ResourcePurge struct {
	OlderThan string `json:"older_than"` // a Go duration; "" for the configured default
}

// ResourcePurgeResult is what a stale purge erased.
type ResourcePurgeResult struct {
	Purged int      `json:"purged"`
	IDs    []string `json:"ids"`
}

// Resource field bounds.
const (
	MaxResourceIDLen   = 128
	MaxResourceKindLen = 64
	MaxResourceNameLen = 200
	// MaxResourcePurge bounds one stale purge: the answer lists every id.
	MaxResourcePurge = 1000
)

// ValidResourceID reports whether id is 1 to 128 of [A-Za-z0-9._:-]: the
// product's own ids, safe in a path segment.
func ValidResourceID(id string) bool {
	if id == "" || len(id) > MaxResourceIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '.' || c == '_' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

// ValidResourceKind reports whether k is 1 to 64 of [a-z0-9._-].
func ValidResourceKind(k string) bool {
	if k == "" || len(k) > MaxResourceKindLen {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// ResourceService records the product's resources and the desired state
// operators set on them (docs/resources.md). The platform half needs
// resources:write; the admin half tenants:read to read, tenants:write to
// suspend, resume, restart or delete, tenants:delete to purge.
type ResourceService interface {
	// ReportResource records what the product reports (a heartbeat):
	// created on first report, updated after, last_seen_at now.
	ReportResource(ctx context.Context, id string, in *ResourceReport) (*Resource, error)
	// PlatformResource is the resource as the product reads it back, with
	// its desired state, for a product that missed a webhook.
	PlatformResource(ctx context.Context, id string) (*Resource, error)
	ListResources(ctx context.Context, f ResourceFilter, p ListParams) (*Page[*Resource], error)
	GetResource(ctx context.Context, id string) (*Resource, error)
	SuspendResource(ctx context.Context, id string) (*Resource, error)
	ResumeResource(ctx context.Context, id string) (*Resource, error)
	RestartResource(ctx context.Context, id string) (*Resource, error)
	DeleteResource(ctx context.Context, id string) (*Resource, error)
	// PurgeStaleResources erases resources not seen for olderThan (a Go
	// duration, "" for the configured default), at most MaxResourcePurge.
	PurgeStaleResources(ctx context.Context, olderThan string) (*ResourcePurgeResult, error)
}
