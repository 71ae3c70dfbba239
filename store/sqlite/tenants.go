package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// tenantWriteCols is the column order of tenantArgs, which puts id last so
// the INSERT and the UPDATE share the arguments. EffectiveLimits is not
// stored: the service computes it.
var tenantWriteCols = []string{
	"name", "slug", "plan", "status", "owner_user_id", "max_users", "max_concurrent_tasks",
	"max_daily_tasks", "monthly_cap", "daily_cap", "alert_threshold_percent", "features", "notes",
	"billing_period_start", "suspension_reason", "suspended_at", "deleted_at", "status_before_delete",
	"created_at", "updated_at", "user_monthly_cap", "user_daily_cap", "user_session_cap",
}

var (
	tenantColumns      = "id, " + strings.Join(tenantWriteCols, ", ")
	insertTenantStmt   = "INSERT INTO tenants (" + strings.Join(tenantWriteCols, ", ") + ", id) VALUES (?" + strings.Repeat(", ?", len(tenantWriteCols)) + ")"
	updateTenantStmt   = "UPDATE tenants SET " + strings.Join(tenantWriteCols, " = ?, ") + " = ? WHERE id = ?"
	getTenantSQL       = "SELECT " + tenantColumns + " FROM tenants WHERE id = ?"
	getTenantBySlugSQL = "SELECT " + tenantColumns + " FROM tenants WHERE slug = ?"
)

func tenantArgs(t *steward.Tenant) ([]any, error) {
	features := t.Features
	if features == nil {
		features = map[string]any{}
	}
	featuresJSON, err := json.Marshal(features)
	if err != nil {
		return nil, fmt.Errorf("sqlite: tenant features: %w", err)
	}
	return []any{
		t.Name, t.Slug, t.Plan, string(t.Status), t.OwnerUserID, t.Limits.MaxUsers,
		t.Limits.MaxConcurrentTasks, t.Limits.MaxDailyTasks, t.Spending.MonthlyCap, t.Spending.DailyCap,
		t.Spending.AlertThresholdPercent, string(featuresJSON), t.Notes, micros(t.BillingPeriodStart),
		t.SuspensionReason, nullMicros(t.SuspendedAt), nullMicros(t.DeletedAt),
		string(t.StatusBeforeDelete), micros(t.CreatedAt), micros(t.UpdatedAt), t.Spending.UserMonthlyCap,
		t.Spending.UserDailyCap, t.Spending.UserSessionCap, t.ID,
	}, nil
}

// scanTenant reads the columns of tenantColumns.
func scanTenant(sc scanner) (*steward.Tenant, error) {
	var (
		t                                         steward.Tenant
		maxUsers, maxTasks, maxDaily, monthly, dc sql.NullInt64
		suspended, deleted                        sql.NullInt64
		billing, created, updated                 int64
		features                                  string
		userMonthly, userDaily, userSession       sql.NullInt64
	)
	err := sc.Scan(&t.ID, &t.Name, &t.Slug, &t.Plan, &t.Status, &t.OwnerUserID, &maxUsers, &maxTasks,
		&maxDaily, &monthly, &dc, &t.Spending.AlertThresholdPercent, &features, &t.Notes, &billing,
		&t.SuspensionReason, &suspended, &deleted, &t.StatusBeforeDelete, &created, &updated,
		&userMonthly, &userDaily, &userSession)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, store.ErrNotFound
		}
		return nil, err
	}
	t.Limits = steward.TenantLimits{MaxUsers: int64Ptr(maxUsers), MaxConcurrentTasks: int64Ptr(maxTasks),
		MaxDailyTasks: int64Ptr(maxDaily)}
	t.Spending.MonthlyCap, t.Spending.DailyCap = int64Ptr(monthly), int64Ptr(dc)
	t.Spending.UserMonthlyCap, t.Spending.UserDailyCap = int64Ptr(userMonthly), int64Ptr(userDaily)
	t.Spending.UserSessionCap = int64Ptr(userSession)
	if err := json.Unmarshal([]byte(features), &t.Features); err != nil {
		return nil, fmt.Errorf("sqlite: tenant %s features: %w", t.ID, err)
	}
	if t.Features == nil {
		t.Features = map[string]any{}
	}
	t.BillingPeriodStart = fromMicros(billing)
	t.SuspendedAt, t.DeletedAt = timePtr(suspended), timePtr(deleted)
	t.CreatedAt, t.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &t, nil
}

// int64Ptr is nil for NULL: a limit or cap that is not set.
func int64Ptr(v sql.NullInt64) *int64 {
	if !v.Valid {
		return nil
	}
	return &v.Int64
}

func (q queries) getTenant(ctx context.Context, query, arg string) (*steward.Tenant, error) {
	t, err := scanTenant(q.db.QueryRowContext(ctx, query, arg))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("sqlite: get tenant: %w", err)
	}
	return t, err
}

func (q queries) GetTenant(ctx context.Context, id string) (*steward.Tenant, error) {
	return q.getTenant(ctx, getTenantSQL, id)
}

func (q queries) GetTenantBySlug(ctx context.Context, slug string) (*steward.Tenant, error) {
	return q.getTenant(ctx, getTenantBySlugSQL, slug)
}

// tenantWhere returns the WHERE clause and arguments for f; list adds the
// page's keyset condition (Before), which a count leaves out. Status and
// plan alone are range scans of (status, id) and (plan, id), already in page
// order. Q is a LIKE over every row: tenants are thousands, not millions.
// LIKE folds the case of ASCII letters only.
func tenantWhere(f steward.TenantFilter, list bool) (string, []any) {
	var (
		where []string
		args  []any
	)
	if f.Status != "" {
		where = append(where, "status = ?")
		args = append(args, string(f.Status))
	}
	if f.Plan != "" {
		where = append(where, "plan = ?")
		args = append(args, f.Plan)
	}
	if f.Q != "" {
		p := "%" + likeEscape(f.Q) + "%"
		where = append(where, `(id = ? OR name LIKE ? ESCAPE '\' OR slug LIKE ? ESCAPE '\')`)
		args = append(args, f.Q, p, p)
	}
	if list && f.Before != "" {
		where = append(where, "id < ?")
		args = append(args, f.Before)
	}
	return whereClause(where), args
}

func listTenantsSQL(f steward.TenantFilter) (string, []any) {
	where, args := tenantWhere(f, true)
	return "SELECT " + tenantColumns + " FROM tenants" + where + " ORDER BY id DESC LIMIT ?",
		append(args, limit(f.Limit))
}

func (q queries) ListTenants(ctx context.Context, f steward.TenantFilter) ([]*steward.Tenant, error) {
	query, args := listTenantsSQL(f)
	list, err := queryAll(ctx, q.db, scanTenant, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list tenants: %w", err)
	}
	return list, nil
}

func (q queries) CountTenants(ctx context.Context, f steward.TenantFilter) (int64, error) {
	where, args := tenantWhere(f, false)
	var n int64
	if err := q.db.QueryRowContext(ctx, "SELECT count(*) FROM tenants"+where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count tenants: %w", err)
	}
	return n, nil
}

// countTenantMembersSQL walks the tenant's range of users (tenant_id, id).
const countTenantMembersSQL = "SELECT status, count(*) FROM users WHERE tenant_id = ? GROUP BY status"

func (q queries) CountTenantMembers(ctx context.Context, tenantID string) (map[steward.UserStatus]int64, error) {
	rows, err := q.db.QueryContext(ctx, countTenantMembersSQL, tenantID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: count tenant members: %w", err)
	}
	defer rows.Close()
	counts := map[steward.UserStatus]int64{}
	for rows.Next() {
		var (
			status steward.UserStatus
			n      int64
		)
		if err := rows.Scan(&status, &n); err != nil {
			return nil, fmt.Errorf("sqlite: count tenant members: %w", err)
		}
		counts[status] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: count tenant members: %w", err)
	}
	return counts, nil
}

// countTenantHoldsSQL counts both kinds of hold in their primary keys.
const countTenantHoldsSQL = "SELECT (SELECT count(*) FROM tenant_held_users WHERE tenant_id = ?1), " +
	"(SELECT count(*) FROM tenant_held_keys WHERE tenant_id = ?1), " +
	"(SELECT count(*) FROM resources WHERE tenant_id = ?1 AND held_by_tenant)"

func (q queries) CountTenantHolds(ctx context.Context, tenantID string) (steward.TenantHoldCounts, error) {
	var c steward.TenantHoldCounts
	if err := q.db.QueryRowContext(ctx, countTenantHoldsSQL, tenantID).Scan(&c.Users, &c.APIKeys, &c.Resources); err != nil {
		return steward.TenantHoldCounts{}, fmt.Errorf("sqlite: count tenant holds: %w", err)
	}
	return c, nil
}

const planChangeColumns = "id, tenant_id, from_plan, to_plan, prorate, changed_by, changed_at"

func scanPlanChange(sc scanner) (*steward.PlanChange, error) {
	var (
		c       steward.PlanChange
		changed int64
	)
	if err := sc.Scan(&c.ID, &c.TenantID, &c.FromPlan, &c.ToPlan, &c.Prorate, &c.ChangedBy, &changed); err != nil {
		return nil, err
	}
	c.ChangedAt = fromMicros(changed)
	return &c, nil
}

// listPlanChangesSQL reads the tenant's range of (tenant_id, id) backwards.
func listPlanChangesSQL(tenantID, before string, n int) (string, []any) {
	where, args := " WHERE tenant_id = ?", []any{tenantID}
	if before != "" {
		where += " AND id < ?"
		args = append(args, before)
	}
	return "SELECT " + planChangeColumns + " FROM tenant_plan_changes" + where + " ORDER BY id DESC LIMIT ?",
		append(args, limit(n))
}

func (q queries) ListPlanChanges(ctx context.Context, tenantID, before string, n int) ([]*steward.PlanChange, error) {
	query, args := listPlanChangesSQL(tenantID, before, n)
	list, err := queryAll(ctx, q.db, scanPlanChange, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list plan changes: %w", err)
	}
	return list, nil
}

func (t *tx) CreateTenant(ctx context.Context, tn *steward.Tenant) error {
	args, err := tenantArgs(tn)
	if err != nil {
		return err
	}
	if _, err := t.tx.ExecContext(ctx, insertTenantStmt, args...); err != nil {
		return fmt.Errorf("sqlite: create tenant: %w", mapError(err))
	}
	return nil
}

func (t *tx) UpdateTenant(ctx context.Context, tn *steward.Tenant) error {
	args, err := tenantArgs(tn)
	if err != nil {
		return err
	}
	if err := exactlyOne(t.tx.ExecContext(ctx, updateTenantStmt, args...)); err != nil {
		return fmt.Errorf("sqlite: update tenant: %w", err)
	}
	return nil
}

func (t *tx) InsertPlanChange(ctx context.Context, c *steward.PlanChange) error {
	_, err := t.tx.ExecContext(ctx, "INSERT INTO tenant_plan_changes ("+planChangeColumns+") VALUES (?, ?, ?, ?, ?, ?, ?)",
		c.ID, c.TenantID, c.FromPlan, c.ToPlan, c.Prorate, c.ChangedBy, micros(c.ChangedAt))
	if err != nil {
		return fmt.Errorf("sqlite: insert plan change: %w", mapError(err))
	}
	return nil
}

// The cascade statements. Each walks one index range, and none names a
// column of users' search or tag triggers, which fire only on UPDATE OF
// email, username, name, id or tags. A unary + on status keeps the planner
// off the (status, id) indexes, which hold every active user or key of every
// tenant. SQLite has one writer, so the two statements of a hold see the
// same rows.
const (
	// liveKeySQL is a key neither revoked nor expired at ?2.
	liveKeySQL = "+status = 'active' AND (revoked_at IS NULL OR revoked_at > ?2) AND (expires_at IS NULL OR expires_at > ?2)"

	holdTenantUsersSQL = "INSERT INTO tenant_held_users (tenant_id, user_id) " +
		"SELECT ?1, id FROM users WHERE tenant_id = ?1 AND +status = 'active' ON CONFLICT DO NOTHING"
	suspendTenantUsersSQL = "UPDATE users SET status = 'suspended', suspension_reason = ?2, " +
		"token_version = token_version + 1, updated_at = ?3 WHERE tenant_id = ?1 AND +status = 'active'"

	revokeHeldSessionsSQL = "UPDATE sessions SET revoked_at = ?2, revoked_reason = ?3 " +
		"WHERE user_id IN (SELECT user_id FROM tenant_held_users WHERE tenant_id = ?1) " +
		"AND revoked_at IS NULL AND expires_at > ?2"

	holdTenantKeysSQL = "INSERT INTO tenant_held_keys (tenant_id, key_id) " +
		"SELECT ?1, id FROM api_keys WHERE tenant_id = ?1 AND " + liveKeySQL + " ON CONFLICT DO NOTHING"
	disableTenantKeysSQL = "UPDATE api_keys SET status = 'disabled', updated_at = ?2 WHERE tenant_id = ?1 AND " + liveKeySQL

	holdUserSQL = "INSERT INTO tenant_held_users (tenant_id, user_id) VALUES (?, ?) ON CONFLICT DO NOTHING"

	releaseUsersSQL = "UPDATE users SET status = 'active', suspension_reason = '', updated_at = ?2 " +
		"WHERE id IN (SELECT user_id FROM tenant_held_users WHERE tenant_id = ?1) AND +status = 'suspended'"
	releaseKeysSQL = "UPDATE api_keys SET status = 'active', updated_at = ?2 " +
		"WHERE id IN (SELECT key_id FROM tenant_held_keys WHERE tenant_id = ?1) AND +status = 'disabled'"
	dropUserHoldsSQL = "DELETE FROM tenant_held_users WHERE tenant_id = ?"
	dropKeyHoldsSQL  = "DELETE FROM tenant_held_keys WHERE tenant_id = ?"

	// purgeCountsSQL is what PurgeTenant is about to delete, and no row
	// when the tenant does not exist. Keys are those of the tenant's users
	// (whatever their tenant_id) and those with its tenant_id.
	purgeCountsSQL = "SELECT " +
		"(SELECT count(*) FROM users WHERE tenant_id = ?1), " +
		"(SELECT count(*) FROM sessions WHERE user_id IN (SELECT id FROM users WHERE tenant_id = ?1)), " +
		"(SELECT count(*) FROM api_keys WHERE user_id IN (SELECT id FROM users WHERE tenant_id = ?1)) + " +
		"(SELECT count(*) FROM api_keys k WHERE k.tenant_id = ?1 AND NOT EXISTS " +
		"(SELECT 1 FROM users u WHERE u.id = k.user_id AND u.tenant_id = ?1)), " +
		"(SELECT count(*) FROM tenant_plan_changes WHERE tenant_id = ?1), " +
		"(SELECT count(*) FROM credit_entries WHERE tenant_id = ?1), " +
		"(SELECT count(*) FROM usage_events WHERE tenant_id = ?1), " +
		"(SELECT count(*) FROM resources WHERE tenant_id = ?1) " +
		"FROM tenants WHERE id = ?1"
	// Sessions, keys and holds of the users go by ON DELETE CASCADE; the
	// search index and user_tags by the users' delete triggers.
	purgeTenantUsersSQL = "DELETE FROM users WHERE tenant_id = ?"
	purgeTenantKeysSQL  = "DELETE FROM api_keys WHERE tenant_id = ?"
	// Plan changes, the remaining holds, the credit account, blocks, ledger
	// entries (their draws with them) and usage events go by ON DELETE
	// CASCADE.
	purgeTenantSQL = "DELETE FROM tenants WHERE id = ?"
)

// exec runs one statement and returns how many rows it changed.
func (t *tx) exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := t.tx.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, mapError(err)
	}
	return res.RowsAffected()
}

// HoldTenantUsers is two statements: hold the active members, then suspend
// them.
func (t *tx) HoldTenantUsers(ctx context.Context, tenantID, reason string, now time.Time) (int64, error) {
	if _, err := t.exec(ctx, holdTenantUsersSQL, tenantID); err != nil {
		return 0, fmt.Errorf("sqlite: hold tenant users: %w", err)
	}
	n, err := t.exec(ctx, suspendTenantUsersSQL, tenantID, reason, micros(now))
	if err != nil {
		return 0, fmt.Errorf("sqlite: hold tenant users: %w", err)
	}
	return n, nil
}

// RevokeHeldSessions is one statement: the held users' sessions, found by
// (user_id, id).
func (t *tx) RevokeHeldSessions(ctx context.Context, tenantID string, now time.Time, reason string) (int64, error) {
	n, err := t.exec(ctx, revokeHeldSessionsSQL, tenantID, micros(now), reason)
	if err != nil {
		return 0, fmt.Errorf("sqlite: revoke held sessions: %w", err)
	}
	return n, nil
}

// HoldTenantKeys is two statements: hold the live keys, then disable them.
func (t *tx) HoldTenantKeys(ctx context.Context, tenantID string, now time.Time) (int64, error) {
	if _, err := t.exec(ctx, holdTenantKeysSQL, tenantID, micros(now)); err != nil {
		return 0, fmt.Errorf("sqlite: hold tenant keys: %w", err)
	}
	n, err := t.exec(ctx, disableTenantKeysSQL, tenantID, micros(now))
	if err != nil {
		return 0, fmt.Errorf("sqlite: hold tenant keys: %w", err)
	}
	return n, nil
}

func (t *tx) HoldUser(ctx context.Context, tenantID, userID string) error {
	if _, err := t.exec(ctx, holdUserSQL, tenantID, userID); err != nil {
		return fmt.Errorf("sqlite: hold user: %w", err)
	}
	return nil
}

// ReleaseTenant is four statements: activate the held users and keys still
// in the held state, then drop both kinds of hold.
func (t *tx) ReleaseTenant(ctx context.Context, tenantID string, now time.Time) (users, keys int64, err error) {
	if users, err = t.exec(ctx, releaseUsersSQL, tenantID, micros(now)); err != nil {
		return 0, 0, fmt.Errorf("sqlite: release tenant users: %w", err)
	}
	if keys, err = t.exec(ctx, releaseKeysSQL, tenantID, micros(now)); err != nil {
		return 0, 0, fmt.Errorf("sqlite: release tenant keys: %w", err)
	}
	for _, query := range []string{dropUserHoldsSQL, dropKeyHoldsSQL} {
		if _, err := t.exec(ctx, query, tenantID); err != nil {
			return 0, 0, fmt.Errorf("sqlite: release tenant: %w", err)
		}
	}
	return users, keys, nil
}

// PurgeTenant is four statements: count what goes (which also finds the
// tenant), then delete its users, the keys with its tenant_id that remain,
// and the tenant, which takes its credit and usage rows with it.
func (t *tx) PurgeTenant(ctx context.Context, tenantID string) (steward.TenantPurgeCounts, error) {
	var c steward.TenantPurgeCounts
	err := t.tx.QueryRowContext(ctx, purgeCountsSQL, tenantID).Scan(&c.Users, &c.Sessions, &c.APIKeys, &c.PlanChanges,
		&c.LedgerEntries, &c.UsageEvents, &c.Resources)
	if errors.Is(err, sql.ErrNoRows) {
		return c, store.ErrNotFound
	}
	if err != nil {
		return c, fmt.Errorf("sqlite: purge tenant: %w", err)
	}
	for _, query := range []string{purgeTenantUsersSQL, purgeTenantKeysSQL, purgeTenantSQL} {
		if _, err := t.exec(ctx, query, tenantID); err != nil {
			return steward.TenantPurgeCounts{}, fmt.Errorf("sqlite: purge tenant: %w", err)
		}
	}
	return c, nil
}
