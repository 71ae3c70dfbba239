package service

import (
	"context"
	"fmt"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/id"
	"github.com/stewardhq/steward/store"
)

// DefaultResourceStaleAfter is how long a resource may go unseen before
// POST /admin/computers/purge-stale without older_than erases it.
const DefaultResourceStaleAfter = 7 * 24 * time.Hour

// minResourceStaleAfter keeps a purge from erasing resources that are merely
// between two heartbeats.
const minResourceStaleAfter = time.Minute

// Resources implements steward.ResourceService: the product's resources,
// reported by it, and the desired state operators and tenant cascades set
// beside what it reports (docs/resources.md).
type Resources struct{ *core }

var _ steward.ResourceService = (*Resources)(nil)

func (s *Resources) staleAfter() time.Duration { return resourceStaleAfter(s.cfg) }

// resourceStaleAfter is the configured stale age: a stale purge's default
// older_than, and what GET /admin/stats counts as stale.
func resourceStaleAfter(cfg Config) time.Duration {
	if cfg.ResourceStaleAfter > 0 {
		return cfg.ResourceStaleAfter
	}
	return DefaultResourceStaleAfter
}

func resourceNotFound(rid string) error {
	return steward.Errorf(steward.CodeNotFound, "resource %q not found", rid)
}

// validReport checks every field of a report, naming each bad one.
func validReport(rid string, in *steward.ResourceReport) error {
	fe := steward.FieldErrors{}
	if !steward.ValidResourceID(rid) {
		fe.Add("id", "must be 1 to 128 of A-Z a-z 0-9 . _ : -")
	}
	if !steward.ValidResourceKind(in.Kind) {
		fe.Add("kind", "must be 1 to 64 of a-z 0-9 . _ -")
	}
	if in.TenantID == "" {
		fe.Add("tenant_id", "is required")
	} else if msg := steward.CheckText(in.TenantID, false); msg != "" || len(in.TenantID) > 128 {
		fe.Add("tenant_id", "names no tenant")
	}
	if in.UserID != "" {
		if msg := steward.CheckText(in.UserID, false); msg != "" || len(in.UserID) > 128 {
			fe.Add("user_id", "names no user")
		}
	}
	if len([]rune(in.Name)) > steward.MaxResourceNameLen {
		fe.Add("name", fmt.Sprintf("must be at most %d characters", steward.MaxResourceNameLen))
	} else if msg := steward.CheckText(in.Name, false); msg != "" {
		fe.Add("name", msg)
	}
	if in.Status == "" {
		fe.Add("status", "is required")
	} else if !in.Status.Valid() {
		fe.Add("status", "must be one of provisioning, running, stopped, suspended, restarting, error, terminated")
	}
	if in.Metadata != nil {
		if msg := steward.CheckJSON(in.Metadata); msg != "" {
			fe.Add("metadata", msg)
		}
	}
	return fe.Err()
}

// ReportResource implements steward.ResourceService. The tenant row is
// locked before the resource, the order of the tenant cascade, so a
// resource first reported while its tenant is being suspended is either
// held by the cascade or created held.
func (s *Resources) ReportResource(ctx context.Context, rid string, in *steward.ResourceReport) (*steward.Resource, error) {
	if _, err := authorize(ctx, steward.PermResourcesWrite); err != nil {
		return nil, err
	}
	if err := validReport(rid, in); err != nil {
		return nil, err
	}
	var out *steward.Resource
	err := s.update(ctx, func(tx store.Tx) error {
		t, err := getTenant(ctx, tx, in.TenantID)
		if steward.ErrorCode(err) == steward.CodeNotFound {
			return steward.FieldError("tenant_id", "names no tenant")
		} else if err != nil {
			return err
		}
		if in.UserID != "" {
			u, err := tx.GetUser(ctx, in.UserID)
			if err != nil && !isNotFound(err) {
				return err
			}
			if err != nil || u.TenantID != t.ID || u.Status == steward.StatusDeleted {
				return steward.FieldError("user_id", "must name a member of the tenant")
			}
		}
		now := s.now()
		r, err := tx.GetResource(ctx, rid)
		created := isNotFound(err)
		if err != nil && !created {
			return err
		}
		if created {
			r = &steward.Resource{ID: rid, TenantID: t.ID, DesiredStatus: steward.DesiredRunning, DesiredAt: now,
				CreatedAt: now, UpdatedAt: now}
			// A tenant that is not active holds what it gets, as its
			// cascade would have: releasing it starts the resource.
			if t.Status != steward.TenantActive {
				r.DesiredStatus, r.HeldByTenant = steward.DesiredSuspended, true
			}
		} else if r.TenantID != t.ID {
			return steward.FieldError("tenant_id", "cannot change: the resource belongs to tenant "+r.TenantID)
		}
		before := *r
		r.Kind, r.UserID, r.Name, r.Status, r.Metadata = in.Kind, in.UserID, in.Name, in.Status, in.Metadata
		if r.Metadata == nil {
			r.Metadata = map[string]any{}
		}
		r.LastSeenAt = now
		changes := reportChanges(&before, r)
		if len(changes) > 0 {
			r.UpdatedAt = now
		}
		if err := tx.PutResource(ctx, r); err != nil {
			return err
		}
		out = r
		// A heartbeat that changes nothing but last_seen_at and metadata
		// is not audited: it would flood the log (docs/resources.md).
		if !created && len(changes) == 0 {
			return nil
		}
		return s.audit(ctx, tx, event{Action: "resource.reported", TargetType: "resource", TargetID: r.ID,
			TenantID: r.TenantID, Changes: changes, Metadata: map[string]any{"created": created,
				"desired_status": r.DesiredStatus}})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// reportChanges are the reported fields an audit entry records.
func reportChanges(before, after *steward.Resource) map[string]change {
	out := map[string]change{}
	for k, v := range map[string][2]string{
		"kind": {before.Kind, after.Kind}, "user_id": {before.UserID, after.UserID},
		"name": {before.Name, after.Name}, "status": {string(before.Status), string(after.Status)},
	} {
		if v[0] != v[1] {
			out[k] = change{Before: v[0], After: v[1]}
		}
	}
	return out
}

// PlatformResource implements steward.ResourceService.
func (s *Resources) PlatformResource(ctx context.Context, rid string) (*steward.Resource, error) {
	if _, err := authorize(ctx, steward.PermResourcesWrite); err != nil {
		return nil, err
	}
	return s.get(ctx, rid)
}

// GetResource implements steward.ResourceService.
func (s *Resources) GetResource(ctx context.Context, rid string) (*steward.Resource, error) {
	if _, err := authorize(ctx, steward.PermTenantsRead); err != nil {
		return nil, err
	}
	return s.get(ctx, rid)
}

func (s *Resources) get(ctx context.Context, rid string) (*steward.Resource, error) {
	if !steward.ValidResourceID(rid) {
		return nil, resourceNotFound(rid)
	}
	r, err := s.store.GetResource(ctx, rid)
	if isNotFound(err) {
		return nil, resourceNotFound(rid)
	}
	return r, err
}

// ListResources implements steward.ResourceService.
func (s *Resources) ListResources(ctx context.Context, f steward.ResourceFilter, p steward.ListParams) (*steward.Page[*steward.Resource], error) {
	if _, err := authorize(ctx, steward.PermTenantsRead); err != nil {
		return nil, err
	}
	fe := steward.FieldErrors{}
	if f.Status != "" && !f.Status.Valid() {
		fe.Add("status", "must be one of provisioning, running, stopped, suspended, restarting, error, terminated")
	}
	if f.Kind != "" && !steward.ValidResourceKind(f.Kind) {
		fe.Add("kind", "must be 1 to 64 of a-z 0-9 . _ -")
	}
	if msg := steward.CheckText(f.TenantID, false); msg != "" || len(f.TenantID) > 128 {
		fe.Add("tenant_id", "names no tenant")
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	limit, after, err := keyset(p)
	if err != nil {
		return nil, err
	}
	rows, err := s.store.ListResources(ctx, f, after, limit+1)
	if err != nil {
		return nil, err
	}
	return page(rows, limit, func(r *steward.Resource) string { return encodeCursor(r.ID) }), nil
}

// mutateResource is the one path of an operator's request on a resource:
// the tenant row is locked first (the cascade's order), then the resource;
// apply sets the desired state and returns the audit action.
func (s *Resources) mutateResource(ctx context.Context, rid string, perm steward.Permission,
	apply func(a steward.Actor, t *steward.Tenant, r *steward.Resource, now time.Time) (string, error)) (*steward.Resource, error) {
	if _, err := authorize(ctx, perm); err != nil {
		return nil, err
	}
	cur, err := s.get(ctx, rid)
	if err != nil {
		return nil, err
	}
	var out *steward.Resource
	err = s.update(ctx, func(tx store.Tx) error {
		a, err := s.currentActor(ctx, tx, perm)
		if err != nil {
			return err
		}
		t, err := getTenant(ctx, tx, cur.TenantID)
		if err != nil {
			return err
		}
		r, err := tx.GetResource(ctx, rid)
		if isNotFound(err) || err == nil && r.TenantID != t.ID {
			return resourceNotFound(rid) // purged since the read above
		} else if err != nil {
			return err
		}
		before, now := *r, s.now()
		action, err := apply(a, t, r, now)
		if err != nil {
			return err
		}
		r.DesiredAt, r.DesiredBy, r.UpdatedAt = now, a.ID, now
		if err := tx.PutResource(ctx, r); err != nil {
			return err
		}
		out = r
		changes := map[string]change{"desired_status": {Before: before.DesiredStatus, After: r.DesiredStatus}}
		if before.HeldByTenant != r.HeldByTenant {
			changes["held_by_tenant"] = change{Before: before.HeldByTenant, After: r.HeldByTenant}
		}
		md := map[string]any{"status": r.Status}
		if r.RestartID != before.RestartID {
			md["restart_id"] = r.RestartID
		}
		return s.audit(ctx, tx, event{Action: action, TargetType: "resource", TargetID: r.ID, TenantID: r.TenantID,
			Changes: changes, Metadata: md})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func resourceState(r *steward.Resource, what string) error {
	return &steward.Error{Code: steward.CodeInvalidState,
		Message: fmt.Sprintf("resource %s is wanted %s and cannot %s", r.ID, r.DesiredStatus, what),
		Details: map[string]any{"resource_id": r.ID, "desired_status": string(r.DesiredStatus)}}
}

// SuspendResource implements steward.ResourceService. Suspending a
// resource its tenant holds makes the suspension the operator's own: it
// stays when the tenant is released.
func (s *Resources) SuspendResource(ctx context.Context, rid string) (*steward.Resource, error) {
	return s.mutateResource(ctx, rid, steward.PermTenantsWrite,
		func(_ steward.Actor, _ *steward.Tenant, r *steward.Resource, _ time.Time) (string, error) {
			if r.DesiredStatus == steward.DesiredDeleted ||
				r.DesiredStatus == steward.DesiredSuspended && !r.HeldByTenant {
				return "", resourceState(r, "be suspended")
			}
			r.DesiredStatus, r.HeldByTenant = steward.DesiredSuspended, false
			return "resource.suspend_requested", nil
		})
}

// ResumeResource implements steward.ResourceService. A resource of a
// tenant that is not active stays suspended: unsuspend the tenant.
func (s *Resources) ResumeResource(ctx context.Context, rid string) (*steward.Resource, error) {
	return s.mutateResource(ctx, rid, steward.PermTenantsWrite,
		func(_ steward.Actor, t *steward.Tenant, r *steward.Resource, _ time.Time) (string, error) {
			if r.DesiredStatus != steward.DesiredSuspended {
				return "", resourceState(r, "be resumed")
			}
			if t.Status != steward.TenantActive {
				return "", tenantInactive(t, "have its resources resumed")
			}
			r.DesiredStatus, r.HeldByTenant = steward.DesiredRunning, false
			return "resource.resume_requested", nil
		})
}

// RestartResource implements steward.ResourceService: a new restart
// request, with its own id and time, on a resource wanted running.
func (s *Resources) RestartResource(ctx context.Context, rid string) (*steward.Resource, error) {
	return s.mutateResource(ctx, rid, steward.PermTenantsWrite,
		func(_ steward.Actor, _ *steward.Tenant, r *steward.Resource, now time.Time) (string, error) {
			if r.DesiredStatus != steward.DesiredRunning {
				return "", resourceState(r, "be restarted")
			}
			r.RestartID, r.RestartRequestedAt = id.New("rst", now), &now
			return "resource.restart_requested", nil
		})
}

// DeleteResource implements steward.ResourceService: the desired state
// becomes deleted, for the product to act on; the row stays until a purge.
func (s *Resources) DeleteResource(ctx context.Context, rid string) (*steward.Resource, error) {
	return s.mutateResource(ctx, rid, steward.PermTenantsWrite,
		func(_ steward.Actor, _ *steward.Tenant, r *steward.Resource, _ time.Time) (string, error) {
			if r.DesiredStatus == steward.DesiredDeleted {
				return "", resourceState(r, "be deleted again")
			}
			r.DesiredStatus, r.HeldByTenant = steward.DesiredDeleted, false
			return "resource.delete_requested", nil
		})
}

// PurgeStaleResources implements steward.ResourceService. Each resource
// erased gets its own resource.purged entry, so each is announced.
func (s *Resources) PurgeStaleResources(ctx context.Context, olderThan string) (*steward.ResourcePurgeResult, error) {
	if _, err := authorize(ctx, steward.PermTenantsDelete); err != nil {
		return nil, err
	}
	d := s.staleAfter()
	if olderThan != "" {
		var err error
		if d, err = time.ParseDuration(olderThan); err != nil || d < minResourceStaleAfter {
			return nil, steward.FieldError("older_than", "must be a duration of at least 1m, such as \"168h\"")
		}
	}
	res := &steward.ResourcePurgeResult{IDs: []string{}}
	err := s.update(ctx, func(tx store.Tx) error {
		if _, err := s.currentActor(ctx, tx, steward.PermTenantsDelete); err != nil {
			return err
		}
		now := s.now()
		cutoff := now.Add(-d)
		gone, err := tx.PurgeStaleResources(ctx, cutoff, steward.MaxResourcePurge)
		if err != nil {
			return err
		}
		for _, r := range gone {
			res.IDs = append(res.IDs, r.ID)
			if err := s.audit(ctx, tx, event{Action: "resource.purged", TargetType: "resource", TargetID: r.ID,
				TenantID: r.TenantID, Metadata: map[string]any{"last_seen_at": r.LastSeenAt,
					"older_than": d.String(), "status": r.Status, "desired_status": r.DesiredStatus}}); err != nil {
				return err
			}
		}
		res.Purged = len(gone)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// holdResources is the tenant cascade's part for resources: every resource
// of t wanted running is wanted suspended, held by the tenant. The tenant's
// audit entry counts them (resources_suspended).
func holdResources(ctx context.Context, tx store.Tx, t *steward.Tenant, now time.Time, res *steward.TenantCascade) error {
	a, _ := steward.ActorFrom(ctx)
	var err error
	res.ResourcesSuspended, err = tx.HoldTenantResources(ctx, t.ID, a.ID, now)
	return err
}

// releaseResources undoes holdResources: exactly the held resources still
// wanted suspended are wanted running again.
func releaseResources(ctx context.Context, tx store.Tx, t *steward.Tenant, now time.Time, res *steward.TenantCascade) error {
	a, _ := steward.ActorFrom(ctx)
	var err error
	res.ResourcesRestored, err = tx.ReleaseTenantResources(ctx, t.ID, a.ID, now)
	return err
}
