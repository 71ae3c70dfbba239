package service

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/id"
	"github.com/stewardhq/steward/store"
)

const (
	maxNotesLen     = 10_000
	maxSlugAttempts = 50
	recentAuditLen  = 20
	recentChanges   = 5
)

var _ steward.TenantService = (*Tenants)(nil)

// plan returns the catalogue entry for id, or nil.
func (s *Tenants) plan(id string) *steward.Plan {
	for _, p := range s.cfg.Plans {
		if p.ID == id {
			return p
		}
	}
	return nil
}

func (s *Tenants) planIDs() []string {
	ids := make([]string, len(s.cfg.Plans))
	for i, p := range s.cfg.Plans {
		ids[i] = p.ID
	}
	return ids
}

func (s *Tenants) unknownPlan(field string) error {
	ids := s.planIDs()
	return &steward.Error{Code: steward.CodeValidation, Message: "invalid " + field,
		Details: map[string]any{"fields": map[string]any{field: "must be one of " + strings.Join(ids, ", ")},
			"plans": ids}}
}

// effectiveLimits is the platform's quotas under the plan's limits under
// the tenant's overrides (configlimits.go). A plan gone from the catalogue
// leaves the platform's and the tenant's.
func (s *Tenants) effectiveLimits(d *platformDefaults, t *steward.Tenant) steward.TenantLimits {
	return d.limitsFor(s.plan(t.Plan), t)
}

// presentTenant fills in what the tenant row does not store.
func (s *Tenants) presentTenant(d *platformDefaults, t *steward.Tenant) *steward.Tenant {
	c := *t
	c.EffectiveLimits = s.effectiveLimits(d, t)
	c.EffectiveSpending = d.spendingFor(t)
	if c.Spending.AlertThresholdPercent == 0 {
		c.Spending.AlertThresholdPercent = c.EffectiveSpending.AlertThresholdPercent
	}
	if c.Features == nil {
		c.Features = map[string]any{}
	}
	return &c
}

// ListPlans implements steward.TenantService.
func (s *Tenants) ListPlans(ctx context.Context) ([]*steward.Plan, error) {
	if _, err := authorize(ctx, steward.PermTenantsRead); err != nil {
		return nil, err
	}
	return s.cfg.Plans, nil
}

// ListTenants implements steward.TenantService.
func (s *Tenants) ListTenants(ctx context.Context, f steward.TenantFilter, p steward.ListParams) (*steward.Page[*steward.Tenant], error) {
	if _, err := authorize(ctx, steward.PermTenantsRead); err != nil {
		return nil, err
	}
	fe := steward.FieldErrors{}
	if f.Status != "" && !f.Status.Valid() {
		fe.Add("status", "must be one of active, suspended, deleted")
	}
	f.Q = strings.TrimSpace(f.Q)
	if utf8.RuneCountInString(f.Q) > 200 {
		fe.Add("q", "must be at most 200 characters")
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	limit, before, err := keyset(p)
	if err != nil {
		return nil, err
	}
	f.Before = before
	f.Limit = limit + 1
	rows, err := s.store.ListTenants(ctx, f)
	if err != nil {
		return nil, err
	}
	d, err := loadPlatformDefaults(ctx, s.store)
	if err != nil {
		return nil, err
	}
	for i, t := range rows {
		rows[i] = s.presentTenant(d, t)
	}
	pg := page(rows, limit, func(t *steward.Tenant) string { return encodeCursor(t.ID) })
	if p.IncludeTotal {
		n, err := s.store.CountTenants(ctx, f)
		if err != nil {
			return nil, err
		}
		pg.Total = &n
	}
	return pg, nil
}

// getTenant reads a tenant by id, then by slug. Ids are tried first even
// without the ten_ prefix: tenants made by the upgrade migration kept ids
// from before tenants existed. Slugs cannot contain '_', so a ten_ id never
// reads as someone else's slug.
func getTenant(ctx context.Context, q store.Queries, idOrSlug string) (*steward.Tenant, error) {
	t, err := q.GetTenant(ctx, idOrSlug)
	if errors.Is(err, store.ErrNotFound) && !strings.HasPrefix(idOrSlug, "ten_") {
		t, err = q.GetTenantBySlug(ctx, idOrSlug)
	}
	return t, notFound(err, "tenant", idOrSlug)
}

// GetTenant implements steward.TenantService.
func (s *Tenants) GetTenant(ctx context.Context, idOrSlug string) (*steward.Tenant, error) {
	if _, err := authorize(ctx, steward.PermTenantsRead); err != nil {
		return nil, err
	}
	t, err := getTenant(ctx, s.store, idOrSlug)
	if err != nil {
		return nil, err
	}
	return s.present(ctx, t)
}

// validateTenant checks the fields an operator sets on create and update.
func (s *Tenants) validateTenant(t *steward.Tenant, fe steward.FieldErrors) {
	if t.Name == "" || utf8.RuneCountInString(t.Name) > maxNameLen {
		fe.Add("name", "is required, at most 200 characters")
	}
	steward.ValidateLimits("limits", t.Limits, fe)
	for name, v := range map[string]*int64{"spending.monthly_cap": t.Spending.MonthlyCap, "spending.daily_cap": t.Spending.DailyCap,
		"spending.user_monthly_cap": t.Spending.UserMonthlyCap, "spending.user_daily_cap": t.Spending.UserDailyCap,
		"spending.user_session_cap": t.Spending.UserSessionCap} {
		if v != nil && (*v < 0 || *v > steward.MaxLimitValue) {
			fe.Add(name, "must be between 0 and 1000000000000")
		}
	}
	if p := t.Spending.AlertThresholdPercent; p < 0 || p > 100 {
		fe.Add("spending.alert_threshold_percent", "must be between 1 and 100")
	}
	if msg := steward.ValidateFeatureKeys(t.Features); msg != "" {
		fe.Add("features", msg)
	}
	if utf8.RuneCountInString(t.Notes) > maxNotesLen {
		fe.Add("notes", "must be at most 10000 characters")
	}
}

// CreateTenant implements steward.TenantService.
func (s *Tenants) CreateTenant(ctx context.Context, in *steward.TenantCreate) (*steward.Tenant, error) {
	if _, err := authorize(ctx, steward.PermTenantsWrite); err != nil {
		return nil, err
	}
	now := s.now()
	t := &steward.Tenant{ID: id.New("ten", now), Name: strings.TrimSpace(in.Name),
		Slug: strings.ToLower(strings.TrimSpace(in.Slug)), Plan: strings.TrimSpace(in.Plan),
		Status: steward.TenantActive, OwnerUserID: strings.TrimSpace(in.OwnerUserID),
		Features: in.Features, Notes: strings.TrimSpace(in.Notes),
		BillingPeriodStart: now, CreatedAt: now, UpdatedAt: now}
	if in.Limits != nil {
		t.Limits = *in.Limits
	}
	if in.Spending != nil {
		t.Spending = *in.Spending // an alert threshold of 0 follows the platform's
	}
	if t.Features == nil {
		t.Features = map[string]any{}
	}
	if t.Plan == "" {
		t.Plan = s.cfg.Plans[0].ID
	}
	fe := steward.FieldErrors{}
	s.validateTenant(t, fe)
	s.checkFeatureChanges(steward.TierTenant, nil, t.Features, fe)
	derived := t.Slug == ""
	if !derived {
		if msg := steward.ValidateSlug(t.Slug); msg != "" {
			fe.Add("slug", msg)
		}
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	if s.plan(t.Plan) == nil {
		return nil, s.unknownPlan("plan")
	}
	err := s.update(ctx, func(tx store.Tx) error {
		a, err := s.currentActor(ctx, tx, steward.PermTenantsWrite)
		if err != nil {
			return err
		}
		if derived {
			if t.Slug, err = freeSlug(ctx, tx, t.Name); err != nil {
				return err
			}
		}
		if err := tx.CreateTenant(ctx, t); err != nil {
			return duplicate(err)
		}
		if err := s.audit(ctx, tx, event{Action: "tenant.create", TargetType: "tenant", TargetID: t.ID,
			TenantID: t.ID, Changes: diff(&steward.Tenant{}, t)}); err != nil {
			return err
		}
		if t.OwnerUserID != "" {
			return s.joinAsOwner(ctx, tx, a, t)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.present(ctx, t)
}

// slugify derives a slug from a name: accents dropped (é → e), ASCII
// letters and digits kept and lower-cased, every other run of characters
// one '-', at most MaxSlugLen long. It may return "".
func slugify(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range norm.NFD.String(strings.ToLower(name)) {
		switch {
		case unicode.Is(unicode.Mn, r):
			continue // a combining accent of the letter before
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			sep := dash && b.Len() > 0
			if sep && b.Len()+2 > steward.MaxSlugLen || b.Len()+1 > steward.MaxSlugLen {
				return b.String()
			}
			if sep {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
		default:
			dash = true
		}
	}
	return b.String()
}

// freeSlug derives a slug from name that no tenant holds yet: the name's
// slug, then -2, -3, … Inside the write transaction, so on SQLite nothing
// can take it meanwhile; on PostgreSQL a concurrent create of the same name
// fails the insert with ALREADY_EXISTS, which the client may retry.
func freeSlug(ctx context.Context, tx store.Tx, name string) (string, error) {
	base := slugify(name)
	if base == "" {
		base = "tenant"
	}
	for i := 1; i <= maxSlugAttempts; i++ {
		cand := base
		if i > 1 {
			suffix := fmt.Sprintf("-%d", i)
			cand = strings.TrimRight(base[:min(len(base), steward.MaxSlugLen-len(suffix))], "-") + suffix
		}
		_, err := tx.GetTenantBySlug(ctx, cand)
		if errors.Is(err, store.ErrNotFound) {
			return cand, nil
		}
		if err != nil {
			return "", err
		}
	}
	return "", &steward.Error{Code: steward.CodeAlreadyExists, Message: "no free slug near " + base + "; give one",
		Details: map[string]any{"fields": map[string]any{"slug": "is already taken"}}}
}

// joinAsOwner makes t.OwnerUserID a member of t with tenant_role owner. The
// user must exist, not be deleted, and belong to no other tenant.
func (s *Tenants) joinAsOwner(ctx context.Context, tx store.Tx, a steward.Actor, t *steward.Tenant) error {
	u, err := tx.GetUser(ctx, t.OwnerUserID)
	if errors.Is(err, store.ErrNotFound) {
		return steward.FieldError("owner_user_id", "no such user")
	}
	if err != nil {
		return err
	}
	switch {
	case u.Status == steward.StatusDeleted:
		return steward.FieldError("owner_user_id", "the user is deleted")
	case u.TenantID != "" && u.TenantID != t.ID:
		return steward.FieldError("owner_user_id", "the user belongs to tenant "+u.TenantID)
	}
	if err := guardRank(a, u); err != nil {
		return err
	}
	before := cloneUser(u)
	if u.TenantID != t.ID {
		if err := s.admitMember(ctx, tx, t); err != nil {
			return err
		}
	}
	u.TenantID, u.TenantRole = t.ID, steward.TenantOwner
	changes := userDiff(before, u)
	if len(changes) == 0 {
		return nil
	}
	u.UpdatedAt = s.now()
	if err := tx.UpdateUser(ctx, u); err != nil {
		return err
	}
	return s.audit(ctx, tx, event{Action: "user.update", TargetType: "user", TargetID: u.ID,
		TenantID: t.ID, Changes: changes, Metadata: map[string]any{"via": "tenant owner"}})
}

// admitMember checks that t may take one more member: it must be active
// and below its max_users (deleted members do not count). The caller holds
// t's row lock, so two admissions cannot both take the last seat.
func (s *Tenants) admitMember(ctx context.Context, tx store.Tx, t *steward.Tenant) error {
	if t.Status != steward.TenantActive {
		return tenantInactive(t, "take new members")
	}
	d, err := loadPlatformDefaults(ctx, tx)
	if err != nil {
		return err
	}
	maxUsers := s.effectiveLimits(d, t).MaxUsers
	if maxUsers == nil {
		return nil
	}
	counts, err := tx.CountTenantMembers(ctx, t.ID)
	if err != nil {
		return err
	}
	n := memberTotal(counts)
	if n >= *maxUsers {
		return &steward.Error{Code: steward.CodeTenantUserLimit,
			Message: fmt.Sprintf("tenant %s has %d of its %d users; raise max_users or change the plan", t.ID, n, *maxUsers),
			Details: map[string]any{"tenant_id": t.ID, "max_users": *maxUsers, "members": n}}
	}
	return nil
}

// memberTotal counts members that hold a seat: every status but deleted.
func memberTotal(counts map[steward.UserStatus]int64) int64 {
	var n int64
	for st, c := range counts {
		if st != steward.StatusDeleted {
			n += c
		}
	}
	return n
}

func tenantInactive(t *steward.Tenant, what string) error {
	return &steward.Error{Code: steward.CodeInvalidState,
		Message: fmt.Sprintf("tenant %s is %s and cannot %s", t.ID, t.Status, what),
		Details: map[string]any{"tenant_id": t.ID, "tenant_status": string(t.Status)}}
}

// lockTenant reads and locks the tenant a user refers to, inside tx. It is
// nil when tid is empty or names no tenant (rows older than tenants).
func lockTenant(ctx context.Context, tx store.Tx, tid string) (*steward.Tenant, error) {
	if tid == "" {
		return nil, nil
	}
	t, err := tx.GetTenant(ctx, tid)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return t, err
}

// tenantActive reports whether tenant tid lets its members act: true when
// there is no tenant (or no row for it, as for data older than tenants).
// The row comes from the auth cache.
func (s *Tenants) tenantActive(ctx context.Context, tid string) (bool, error) {
	if tid == "" {
		return true, nil
	}
	t, err := s.cachedTenant(ctx, tid)
	if errors.Is(err, store.ErrNotFound) {
		return true, nil
	}
	return err == nil && t.Status == steward.TenantActive, err
}

// UpdateTenant implements steward.TenantService.
func (s *Tenants) UpdateTenant(ctx context.Context, tid string, p *steward.TenantPatch) (*steward.Tenant, error) {
	if _, err := authorize(ctx, steward.PermTenantsWrite); err != nil {
		return nil, err
	}
	var out *steward.Tenant
	err := s.update(ctx, func(tx store.Tx) error {
		a, err := s.currentActor(ctx, tx, steward.PermTenantsWrite)
		if err != nil {
			return err
		}
		t, err := getTenant(ctx, tx, tid)
		if err != nil {
			return err
		}
		if t.Status == steward.TenantDeleted {
			return tenantInactive(t, "be updated; restore it first")
		}
		before := *t
		before.Features = maps.Clone(t.Features)
		fe := steward.FieldErrors{}
		applyTenantPatch(t, p, fe)
		s.validateTenant(t, fe)
		s.checkFeatureChanges(steward.TierTenant, before.Features, t.Features, fe)
		if p.Slug.Set && t.Slug != before.Slug {
			if msg := steward.ValidateSlug(t.Slug); msg != "" {
				fe.Add("slug", msg)
			}
		}
		if err := fe.Err(); err != nil {
			return err
		}
		changes := diff(&before, t)
		if len(changes) == 0 {
			out = t
			return nil
		}
		t.UpdatedAt = s.now()
		if err := tx.UpdateTenant(ctx, t); err != nil {
			return duplicate(err)
		}
		if err := s.audit(ctx, tx, event{Action: "tenant.update", TargetType: "tenant", TargetID: t.ID,
			TenantID: t.ID, Changes: changes}); err != nil {
			return err
		}
		out = t
		if t.OwnerUserID != "" && t.OwnerUserID != before.OwnerUserID {
			return s.joinAsOwner(ctx, tx, a, t)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.present(ctx, out)
}

// applyTenantPatch changes t in place; problems go to fe.
func applyTenantPatch(t *steward.Tenant, p *steward.TenantPatch, fe steward.FieldErrors) {
	if p.Name.Set {
		t.Name = strings.TrimSpace(p.Name.Value)
	}
	if p.Slug.Set {
		if p.Slug.Null {
			fe.Add("slug", "cannot be cleared")
		}
		t.Slug = strings.ToLower(strings.TrimSpace(p.Slug.Value))
	}
	if p.OwnerUserID.Set {
		t.OwnerUserID = strings.TrimSpace(p.OwnerUserID.Value)
	}
	if p.Limits.Set {
		if p.Limits.Null {
			t.Limits = steward.TenantLimits{}
		} else {
			l := p.Limits.Value
			setOpt(&t.Limits.MaxUsers, l.MaxUsers)
			setOpt(&t.Limits.MaxConcurrentTasks, l.MaxConcurrentTasks)
			setOpt(&t.Limits.MaxDailyTasks, l.MaxDailyTasks)
		}
	}
	if p.Spending.Set {
		if p.Spending.Null {
			t.Spending = steward.SpendingCaps{}
		} else {
			sp := p.Spending.Value
			setOpt(&t.Spending.MonthlyCap, sp.MonthlyCap)
			setOpt(&t.Spending.DailyCap, sp.DailyCap)
			setOpt(&t.Spending.UserMonthlyCap, sp.UserMonthlyCap)
			setOpt(&t.Spending.UserDailyCap, sp.UserDailyCap)
			setOpt(&t.Spending.UserSessionCap, sp.UserSessionCap)
			if sp.AlertThresholdPercent.Set {
				t.Spending.AlertThresholdPercent = sp.AlertThresholdPercent.Value
				if sp.AlertThresholdPercent.Null {
					t.Spending.AlertThresholdPercent = 0 // the platform's
				} else if sp.AlertThresholdPercent.Value == 0 {
					fe.Add("spending.alert_threshold_percent", "must be between 1 and 100")
				}
			}
		}
	}
	if p.Features.Set {
		merged, err := mergePatch(t.Features, p.Features.Value, p.Features.Null)
		if err != nil {
			fe.Add("features", "must be a JSON object")
		}
		t.Features = merged
	}
	if p.Notes.Set {
		t.Notes = strings.TrimSpace(p.Notes.Value)
	}
}

// setOpt applies one merge-patch field to a nullable number.
func setOpt(dst **int64, o steward.Optional[int64]) {
	switch {
	case !o.Set:
	case o.Null:
		*dst = nil
	default:
		v := o.Value
		*dst = &v
	}
}

// TenantDetail implements steward.TenantService.
func (s *Tenants) TenantDetail(ctx context.Context, tid string) (*steward.TenantDetail, error) {
	a, err := authorize(ctx, steward.PermTenantsRead)
	if err != nil {
		return nil, err
	}
	t, err := getTenant(ctx, s.store, tid)
	if err != nil {
		return nil, err
	}
	pt, err := s.present(ctx, t)
	if err != nil {
		return nil, err
	}
	d := &steward.TenantDetail{Tenant: pt, Plan: s.plan(t.Plan)}
	if d.Members, err = s.store.CountTenantMembers(ctx, t.ID); err != nil {
		return nil, err
	}
	d.MembersTotal = memberTotal(d.Members)
	if d.ActiveAPIKeys, err = s.store.CountAPIKeys(ctx, steward.KeyFilter{TenantID: t.ID,
		Status: steward.KeyActive, Now: s.now()}); err != nil {
		return nil, err
	}
	if d.Held, err = s.store.CountTenantHolds(ctx, t.ID); err != nil {
		return nil, err
	}
	if d.EffectiveFeatures, err = s.tenantEffective(ctx, t); err != nil {
		return nil, err
	}
	if a.Can(steward.PermCreditsRead) {
		if d.Credits, err = s.credits.balanceOf(ctx, t.ID); err != nil {
			return nil, err
		}
	}
	d.PeriodStart, d.PeriodEnd = t.PeriodAt(s.now())
	d.Usage = []steward.UsageRow{}
	if a.Can(steward.PermUsageRead) {
		if d.Usage, err = s.store.AggregateUsage(ctx, steward.UsageQuery{Start: d.PeriodStart, End: d.PeriodEnd,
			GroupBy: steward.UsageByMetric, TenantID: t.ID}); err != nil {
			return nil, err
		}
		if d.Usage == nil {
			d.Usage = []steward.UsageRow{}
		}
	}
	if d.PlanChanges, err = s.store.ListPlanChanges(ctx, t.ID, "", recentChanges); err != nil {
		return nil, err
	}
	// The audit excerpt is shown only to those who may read the log: a
	// key scoped to tenants:read alone gets an empty list.
	if a.Can(steward.PermAuditRead) {
		if d.RecentAudit, err = s.store.ListAudit(ctx, steward.AuditFilter{TenantID: t.ID, Limit: recentAuditLen}); err != nil {
			return nil, err
		}
	}
	if d.PlanChanges == nil {
		d.PlanChanges = []*steward.PlanChange{}
	}
	if d.RecentAudit == nil {
		d.RecentAudit = []*steward.AuditEntry{}
	}
	return d, nil
}

// tenantOp is one lifecycle change of a tenant, run by mutateTenant.
type tenantOp struct {
	perm steward.Permission
	// apply changes t in place, may cascade through tx, and returns the
	// audit event and the answer.
	apply func(tx store.Tx, a steward.Actor, t *steward.Tenant, res *steward.TenantCascade) (event, error)
}

// mutateTenant is the one path of suspend, unsuspend, delete and restore:
// the operator lock first (the same order as every user change, so a
// member's own change and the cascade serialise instead of deadlocking),
// then the tenant row, then the change, the row and its audit entry.
func (s *Tenants) mutateTenant(ctx context.Context, tid string, op tenantOp) (*steward.TenantCascade, error) {
	if _, err := authorize(ctx, op.perm); err != nil {
		return nil, err
	}
	var res *steward.TenantCascade
	err := s.update(ctx, func(tx store.Tx) error {
		res = &steward.TenantCascade{}
		if err := tx.LockOperators(ctx); err != nil {
			return err
		}
		a, err := s.currentActor(ctx, tx, op.perm)
		if err != nil {
			return err
		}
		t, err := getTenant(ctx, tx, tid)
		if err != nil {
			return err
		}
		before := *t
		ev, err := op.apply(tx, a, t, res)
		if err != nil {
			return err
		}
		t.UpdatedAt = s.now()
		if err := tx.UpdateTenant(ctx, t); err != nil {
			return err
		}
		ev.TargetType, ev.TargetID, ev.TenantID = "tenant", t.ID, t.ID
		ev.Changes = diff(&before, t)
		res.Tenant = t
		return s.audit(ctx, tx, ev)
	})
	if err != nil {
		return nil, err
	}
	if res.Tenant, err = s.present(ctx, res.Tenant); err != nil {
		return nil, err
	}
	return res, nil
}

// guardMembers applies the user guards to the operators among the tenant's
// members that a cascade would take out (status "" means every member):
// no cascade over yourself, over someone ranked at or above you, or over the
// last active owner. The caller holds tx.LockOperators.
func (s *Tenants) guardMembers(ctx context.Context, tx store.Tx, a steward.Actor, t *steward.Tenant, status steward.UserStatus, verb string) error {
	ops, err := tx.ListUsers(ctx, steward.UserFilter{TenantID: t.ID, Status: status, Roles: steward.Roles[1:], Limit: 10_000})
	if err != nil {
		return err
	}
	for _, u := range ops {
		if a.ID == u.ID {
			return steward.Errorf(steward.CodeCannotTargetSelf, "you cannot %s your own tenant", verb)
		}
		if err := guardRank(a, u); err != nil {
			return err
		}
	}
	return s.guardLastOwner(ctx, tx, ops...)
}

// holdReason is the suspension reason a tenant's cascade gives its members.
func holdReason(t *steward.Tenant) string {
	if t.Status == steward.TenantDeleted {
		return "tenant deleted"
	}
	if t.SuspensionReason != "" {
		return "tenant suspended: " + t.SuspensionReason
	}
	return "tenant suspended"
}

// cascade takes the tenant's active members and keys out, holding each row
// it moves. t.Status is already the new status.
func (s *Tenants) cascade(ctx context.Context, tx store.Tx, t *steward.Tenant, res *steward.TenantCascade) error {
	now, why := s.now(), holdReason(t)
	var err error
	if res.UsersSuspended, err = tx.HoldTenantUsers(ctx, t.ID, why, now); err != nil {
		return err
	}
	if res.SessionsRevoked, err = tx.RevokeHeldSessions(ctx, t.ID, now, why); err != nil {
		return err
	}
	ender := endedTenantSuspend
	if t.Status == steward.TenantDeleted {
		ender = endedTenantDelete
	}
	if err := s.endImpersonationsFor(ctx, tx, store.ImpersonationEnd{TenantID: t.ID}, now, ender); err != nil {
		return err
	}
	if res.APIKeysDisabled, err = tx.HoldTenantKeys(ctx, t.ID, now); err != nil {
		return err
	}
	return holdResources(ctx, tx, t, now, res)
}

func cascadeCounts(res *steward.TenantCascade) map[string]any {
	return map[string]any{"users_suspended": res.UsersSuspended, "sessions_revoked": res.SessionsRevoked,
		"api_keys_disabled": res.APIKeysDisabled, "users_restored": res.UsersRestored,
		"api_keys_restored": res.APIKeysRestored, "resources_suspended": res.ResourcesSuspended,
		"resources_restored": res.ResourcesRestored}
}

// beforeCascade authorizes a suspend or delete and checks its reason. It
// then lifts lapsed bans: they already count as active, and the cascade
// reads stored statuses, so it takes those members too.
func (s *Tenants) beforeCascade(ctx context.Context, perm steward.Permission, reason string) (string, error) {
	if _, err := authorize(ctx, perm); err != nil {
		return "", err
	}
	reason, err := validReason(reason, false)
	if err != nil {
		return "", err
	}
	_, err = s.users.SweepExpiredBans(ctx)
	return reason, err
}

// SuspendTenant implements steward.TenantService.
func (s *Tenants) SuspendTenant(ctx context.Context, tid, reason string) (*steward.TenantCascade, error) {
	reason, err := s.beforeCascade(ctx, steward.PermTenantsWrite, reason)
	if err != nil {
		return nil, err
	}
	return s.mutateTenant(ctx, tid, tenantOp{perm: steward.PermTenantsWrite,
		apply: func(tx store.Tx, a steward.Actor, t *steward.Tenant, res *steward.TenantCascade) (event, error) {
			if t.Status != steward.TenantActive {
				return event{}, tenantInactive(t, "be suspended")
			}
			if err := s.guardMembers(ctx, tx, a, t, steward.StatusActive, "suspend"); err != nil {
				return event{}, err
			}
			now := s.now()
			t.Status, t.SuspensionReason, t.SuspendedAt = steward.TenantSuspended, reason, &now
			err := s.cascade(ctx, tx, t, res)
			return event{Action: "tenant.suspend", Reason: reason, Metadata: cascadeCounts(res)}, err
		}})
}

// UnsuspendTenant implements steward.TenantService.
func (s *Tenants) UnsuspendTenant(ctx context.Context, tid string) (*steward.TenantCascade, error) {
	return s.mutateTenant(ctx, tid, tenantOp{perm: steward.PermTenantsWrite,
		apply: func(tx store.Tx, a steward.Actor, t *steward.Tenant, res *steward.TenantCascade) (event, error) {
			if t.Status != steward.TenantSuspended {
				return event{}, tenantInactive(t, "be unsuspended")
			}
			t.Status, t.SuspensionReason, t.SuspendedAt = steward.TenantActive, "", nil
			var err error
			if res.UsersRestored, res.APIKeysRestored, err = tx.ReleaseTenant(ctx, t.ID, s.now()); err != nil {
				return event{}, err
			}
			err = releaseResources(ctx, tx, t, s.now(), res)
			return event{Action: "tenant.unsuspend", Metadata: cascadeCounts(res)}, err
		}})
}

// DeleteTenant implements steward.TenantService. A suspended tenant keeps
// its suspension's holds; restore returns it to suspended.
func (s *Tenants) DeleteTenant(ctx context.Context, tid, reason string) (*steward.TenantCascade, error) {
	reason, err := s.beforeCascade(ctx, steward.PermTenantsDelete, reason)
	if err != nil {
		return nil, err
	}
	return s.mutateTenant(ctx, tid, tenantOp{perm: steward.PermTenantsDelete,
		apply: func(tx store.Tx, a steward.Actor, t *steward.Tenant, res *steward.TenantCascade) (event, error) {
			if t.Status == steward.TenantDeleted {
				return event{}, tenantInactive(t, "be deleted again")
			}
			now := s.now()
			t.StatusBeforeDelete, t.DeletedAt = t.Status, &now
			if t.Status == steward.TenantActive {
				if err := s.guardMembers(ctx, tx, a, t, steward.StatusActive, "delete"); err != nil {
					return event{}, err
				}
				t.Status = steward.TenantDeleted
				if err := s.cascade(ctx, tx, t, res); err != nil {
					return event{}, err
				}
			}
			t.Status = steward.TenantDeleted
			return event{Action: "tenant.delete", Reason: reason, Metadata: cascadeCounts(res)}, nil
		}})
}

// RestoreTenant implements steward.TenantService.
func (s *Tenants) RestoreTenant(ctx context.Context, tid string) (*steward.TenantCascade, error) {
	return s.mutateTenant(ctx, tid, tenantOp{perm: steward.PermTenantsDelete,
		apply: func(tx store.Tx, a steward.Actor, t *steward.Tenant, res *steward.TenantCascade) (event, error) {
			if t.Status != steward.TenantDeleted {
				return event{}, tenantInactive(t, "be restored")
			}
			t.Status, t.DeletedAt = t.StatusBeforeDelete, nil
			if t.Status != steward.TenantSuspended {
				t.Status = steward.TenantActive
			}
			t.StatusBeforeDelete = ""
			if t.Status == steward.TenantActive {
				var err error
				if res.UsersRestored, res.APIKeysRestored, err = tx.ReleaseTenant(ctx, t.ID, s.now()); err != nil {
					return event{}, err
				}
				if err := releaseResources(ctx, tx, t, s.now(), res); err != nil {
					return event{}, err
				}
			}
			return event{Action: "tenant.restore", Metadata: cascadeCounts(res)}, nil
		}})
}

// PurgeTenant implements steward.TenantService.
func (s *Tenants) PurgeTenant(ctx context.Context, tid, reason string) (*steward.TenantPurgeResult, error) {
	if _, err := authorize(ctx, steward.PermTenantsDelete); err != nil {
		return nil, err
	}
	reason, err := validReason(reason, false)
	if err != nil {
		return nil, err
	}
	res := &steward.TenantPurgeResult{Purged: true}
	err = s.update(ctx, func(tx store.Tx) error {
		if err := tx.LockOperators(ctx); err != nil {
			return err
		}
		a, err := s.currentActor(ctx, tx, steward.PermTenantsDelete)
		if err != nil {
			return err
		}
		t, err := getTenant(ctx, tx, tid)
		if err != nil {
			return err
		}
		if err := s.guardMembers(ctx, tx, a, t, "", "purge"); err != nil {
			return err
		}
		if err := s.purgeErasesUsers(ctx, tx, t); err != nil {
			return err
		}
		if res.TenantPurgeCounts, err = tx.PurgeTenant(ctx, t.ID); err != nil {
			return err
		}
		res.TenantID = t.ID
		// The entry keeps ids and counts only: a purge is how data leaves.
		return s.audit(ctx, tx, event{Action: "tenant.purge", TargetType: "tenant", TargetID: t.ID,
			TenantID: t.ID, Reason: reason, Metadata: res.TenantPurgeCounts})
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// ChangePlan implements steward.TenantService. Limits the tenant does not
// override follow the new plan at once (they are read through the plan).
func (s *Tenants) ChangePlan(ctx context.Context, tid string, in *steward.PlanChangeInput) (*steward.PlanChangeResult, error) {
	if _, err := authorize(ctx, steward.PermTenantsWrite); err != nil {
		return nil, err
	}
	to := strings.TrimSpace(in.Plan)
	if to == "" {
		return nil, steward.FieldError("plan", "is required")
	}
	if s.plan(to) == nil {
		return nil, s.unknownPlan("plan")
	}
	prorate := in.Prorate == nil || *in.Prorate
	res := &steward.PlanChangeResult{Warnings: []string{}}
	err := s.update(ctx, func(tx store.Tx) error {
		a, err := s.currentActor(ctx, tx, steward.PermTenantsWrite)
		if err != nil {
			return err
		}
		t, err := getTenant(ctx, tx, tid)
		if err != nil {
			return err
		}
		if t.Status == steward.TenantDeleted {
			return tenantInactive(t, "change plan; restore it first")
		}
		if t.Plan == to {
			return &steward.Error{Code: steward.CodeInvalidState, Message: "tenant " + t.ID + " is already on plan " + to,
				Details: map[string]any{"plan": to}}
		}
		now := s.now()
		c := &steward.PlanChange{ID: id.New("pch", now), TenantID: t.ID, FromPlan: t.Plan, ToPlan: to,
			Prorate: prorate, ChangedBy: a.ID, ChangedAt: now}
		before := *t
		defaults, err := loadPlatformDefaults(ctx, tx)
		if err != nil {
			return err
		}
		beforeLimits := s.effectiveLimits(defaults, t)
		t.Plan, t.UpdatedAt = to, now
		if err := tx.UpdateTenant(ctx, t); err != nil {
			return err
		}
		if err := tx.InsertPlanChange(ctx, c); err != nil {
			return err
		}
		if prorate {
			if res.Proration, err = s.credits.prorate(ctx, tx, t, s.plan(c.FromPlan), s.plan(to), c.ID); err != nil {
				return err
			}
		}
		after := s.effectiveLimits(defaults, t)
		if after.MaxUsers != nil {
			counts, err := tx.CountTenantMembers(ctx, t.ID)
			if err != nil {
				return err
			}
			if n := memberTotal(counts); n > *after.MaxUsers {
				res.Warnings = append(res.Warnings, fmt.Sprintf(
					"the tenant has %d users, above the new max_users of %d: no member is removed, none can be added", n, *after.MaxUsers))
			}
		}
		changes := diff(&before, t)
		changes["effective_limits"] = change{Before: beforeLimits, After: after}
		res.Tenant, res.Change = t, c
		return s.audit(ctx, tx, event{Action: "tenant.plan_change", TargetType: "tenant", TargetID: t.ID,
			TenantID: t.ID, Changes: changes,
			Metadata: map[string]any{"from": c.FromPlan, "to": c.ToPlan, "prorate": prorate, "change_id": c.ID,
				"prorated_credits": proratedCredits(res.Proration)}})
	})
	if err != nil {
		return nil, err
	}
	if res.Tenant, err = s.present(ctx, res.Tenant); err != nil {
		return nil, err
	}
	return res, nil
}

func proratedCredits(e *steward.LedgerEntry) int64 {
	if e == nil {
		return 0
	}
	return e.Amount
}

// ListPlanChanges implements steward.TenantService.
func (s *Tenants) ListPlanChanges(ctx context.Context, tid string, p steward.ListParams) (*steward.Page[*steward.PlanChange], error) {
	if _, err := authorize(ctx, steward.PermTenantsRead); err != nil {
		return nil, err
	}
	limit, before, err := keyset(p)
	if err != nil {
		return nil, err
	}
	t, err := getTenant(ctx, s.store, tid)
	if err != nil {
		return nil, err
	}
	rows, err := s.store.ListPlanChanges(ctx, t.ID, before, limit+1)
	if err != nil {
		return nil, err
	}
	return page(rows, limit, func(c *steward.PlanChange) string { return encodeCursor(c.ID) }), nil
}
