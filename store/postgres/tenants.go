package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// tenantCols are the stored columns; EffectiveLimits is the service's.
const tenantCols = `id, name, slug, plan, status, owner_user_id, max_users, max_concurrent_tasks,
	max_daily_tasks, monthly_cap, daily_cap, alert_threshold_percent, features, notes,
	billing_period_start, suspension_reason, suspended_at, deleted_at, status_before_delete,
	created_at, updated_at, user_monthly_cap, user_daily_cap, user_session_cap`

func scanTenant(row pgx.Row) (*steward.Tenant, error) {
	var (
		t                     steward.Tenant
		status, before        string
		suspended, deleted    *time.Time
		billing, created, upd time.Time
		alertThresholdPercent int32
	)
	err := row.Scan(&t.ID, &t.Name, &t.Slug, &t.Plan, &status, &t.OwnerUserID, &t.Limits.MaxUsers,
		&t.Limits.MaxConcurrentTasks, &t.Limits.MaxDailyTasks, &t.Spending.MonthlyCap, &t.Spending.DailyCap,
		&alertThresholdPercent, &t.Features, &t.Notes, &billing, &t.SuspensionReason, &suspended,
		&deleted, &before, &created, &upd, &t.Spending.UserMonthlyCap, &t.Spending.UserDailyCap,
		&t.Spending.UserSessionCap)
	if err != nil {
		return nil, mapErr(err)
	}
	t.Status, t.StatusBeforeDelete = steward.TenantStatus(status), steward.TenantStatus(before)
	t.Spending.AlertThresholdPercent = int(alertThresholdPercent)
	if t.Features == nil {
		t.Features = map[string]any{}
	}
	t.BillingPeriodStart, t.CreatedAt, t.UpdatedAt = billing.UTC(), created.UTC(), upd.UTC()
	t.SuspendedAt, t.DeletedAt = utcPtr(suspended), utcPtr(deleted)
	return &t, nil
}

func (q *queries) GetTenant(ctx context.Context, id string) (_ *steward.Tenant, err error) {
	defer wrapErr(&err, "get tenant")
	return scanTenant(q.q.QueryRow(ctx, "SELECT "+tenantCols+" FROM tenants WHERE id = $1"+q.forUpdate(), id))
}

func (q *queries) GetTenantBySlug(ctx context.Context, slug string) (_ *steward.Tenant, err error) {
	defer wrapErr(&err, "get tenant by slug")
	return scanTenant(q.q.QueryRow(ctx, "SELECT "+tenantCols+" FROM tenants WHERE slug = $1"+q.forUpdate(), slug))
}

// tenantWhere holds the conditions of f, Before and Limit aside: the list
// adds its keyset condition, a count does not. Status and plan alone walk
// (status, id) and (plan, id); Q reads every row, which suits thousands of
// tenants. lower() folds case as the database's ctype does.
func tenantWhere(f steward.TenantFilter) *where {
	w := &where{}
	if f.Status != "" {
		w.add("status = " + w.arg(string(f.Status)))
	}
	if f.Plan != "" {
		w.add("plan = " + w.arg(f.Plan))
	}
	if f.Q != "" {
		id := w.arg(f.Q)
		p := w.arg("%" + likeEscaper.Replace(f.Q) + "%")
		w.add("(id = " + id + " OR lower(name) LIKE lower(" + p + `) ESCAPE '\'` +
			" OR lower(slug) LIKE lower(" + p + `) ESCAPE '\')`)
	}
	return w
}

func (q *queries) ListTenants(ctx context.Context, f steward.TenantFilter) (_ []*steward.Tenant, err error) {
	defer wrapErr(&err, "list tenants")
	w := tenantWhere(f)
	if f.Before != "" {
		w.add("id < " + w.arg(f.Before))
	}
	rows, err := q.q.Query(ctx, "SELECT "+tenantCols+" FROM tenants"+w.String()+
		" ORDER BY id DESC LIMIT "+w.arg(pageLimit(f.Limit)), w.args...)
	return collectAll(rows, err, scanTenant)
}

func (q *queries) CountTenants(ctx context.Context, f steward.TenantFilter) (_ int64, err error) {
	defer wrapErr(&err, "count tenants")
	w := tenantWhere(f)
	var n int64
	err = q.q.QueryRow(ctx, "SELECT count(*) FROM tenants"+w.String(), w.args...).Scan(&n)
	return n, mapErr(err)
}

// CountTenantMembers walks the tenant's range of users (tenant_id, id).
func (q *queries) CountTenantMembers(ctx context.Context, tenantID string) (_ map[steward.UserStatus]int64, err error) {
	defer wrapErr(&err, "count tenant members")
	rows, err := q.q.Query(ctx, "SELECT status, count(*) FROM users WHERE tenant_id = $1 GROUP BY status", tenantID)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	counts := map[steward.UserStatus]int64{}
	for rows.Next() {
		var (
			status string
			n      int64
		)
		if err := rows.Scan(&status, &n); err != nil {
			return nil, mapErr(err)
		}
		counts[steward.UserStatus(status)] = n
	}
	return counts, mapErr(rows.Err())
}

func (q *queries) CountTenantHolds(ctx context.Context, tenantID string) (_ steward.TenantHoldCounts, err error) {
	defer wrapErr(&err, "count tenant holds")
	var c steward.TenantHoldCounts
	err = q.q.QueryRow(ctx, `SELECT (SELECT count(*) FROM tenant_held_users WHERE tenant_id = $1),
		(SELECT count(*) FROM tenant_held_keys WHERE tenant_id = $1),
		(SELECT count(*) FROM resources WHERE tenant_id = $1 AND held_by_tenant)`, tenantID).Scan(&c.Users, &c.APIKeys, &c.Resources)
	if err != nil {
		return steward.TenantHoldCounts{}, mapErr(err)
	}
	return c, nil
}

const planChangeCols = "id, tenant_id, from_plan, to_plan, prorate, changed_by, changed_at"

func scanPlanChange(row pgx.Row) (*steward.PlanChange, error) {
	var c steward.PlanChange
	if err := row.Scan(&c.ID, &c.TenantID, &c.FromPlan, &c.ToPlan, &c.Prorate, &c.ChangedBy, &c.ChangedAt); err != nil {
		return nil, mapErr(err)
	}
	c.ChangedAt = c.ChangedAt.UTC()
	return &c, nil
}

// ListPlanChanges reads the tenant's range of (tenant_id, id) backwards.
func (q *queries) ListPlanChanges(ctx context.Context, tenantID, before string, limit int) (_ []*steward.PlanChange, err error) {
	defer wrapErr(&err, "list plan changes")
	w := &where{}
	w.add("tenant_id = " + w.arg(tenantID))
	if before != "" {
		w.add("id < " + w.arg(before))
	}
	rows, err := q.q.Query(ctx, "SELECT "+planChangeCols+" FROM tenant_plan_changes"+w.String()+
		" ORDER BY id DESC LIMIT "+w.arg(pageLimit(limit)), w.args...)
	return collectAll(rows, err, scanPlanChange)
}

// tenantArgs are t's column values in the order of the INSERT and UPDATE below.
func tenantArgs(t *steward.Tenant) []any {
	features := t.Features
	if features == nil {
		features = map[string]any{}
	}
	return []any{
		t.ID, t.Name, t.Slug, t.Plan, string(t.Status), t.OwnerUserID, t.Limits.MaxUsers,
		t.Limits.MaxConcurrentTasks, t.Limits.MaxDailyTasks, t.Spending.MonthlyCap, t.Spending.DailyCap,
		t.Spending.AlertThresholdPercent, features, t.Notes, t.BillingPeriodStart, t.SuspensionReason,
		t.SuspendedAt, t.DeletedAt, string(t.StatusBeforeDelete), t.CreatedAt, t.UpdatedAt,
		t.Spending.UserMonthlyCap, t.Spending.UserDailyCap, t.Spending.UserSessionCap,
	}
}

func (t *tx) CreateTenant(ctx context.Context, tn *steward.Tenant) (err error) {
	defer wrapErr(&err, "create tenant")
	_, err = t.q.Exec(ctx, `INSERT INTO tenants (`+tenantCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
		$19, $20, $21, $22, $23, $24)`, tenantArgs(tn)...)
	return mapErr(err)
}

func (t *tx) UpdateTenant(ctx context.Context, tn *steward.Tenant) (err error) {
	defer wrapErr(&err, "update tenant")
	tag, err := t.q.Exec(ctx, `UPDATE tenants SET name = $2, slug = $3, plan = $4, status = $5,
		owner_user_id = $6, max_users = $7, max_concurrent_tasks = $8, max_daily_tasks = $9,
		monthly_cap = $10, daily_cap = $11, alert_threshold_percent = $12, features = $13,
		notes = $14, billing_period_start = $15, suspension_reason = $16, suspended_at = $17,
		deleted_at = $18, status_before_delete = $19, created_at = $20, updated_at = $21,
		user_monthly_cap = $22, user_daily_cap = $23, user_session_cap = $24
		WHERE id = $1`, tenantArgs(tn)...)
	if err != nil {
		return mapErr(err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

func (t *tx) InsertPlanChange(ctx context.Context, c *steward.PlanChange) (err error) {
	defer wrapErr(&err, "insert plan change")
	_, err = t.q.Exec(ctx, "INSERT INTO tenant_plan_changes ("+planChangeCols+") VALUES ($1, $2, $3, $4, $5, $6, $7)",
		c.ID, c.TenantID, c.FromPlan, c.ToPlan, c.Prorate, c.ChangedBy, c.ChangedAt)
	return mapErr(err)
}

// The cascade statements. Each moves a set and holds exactly the rows it
// moved: a data-modifying WITH feeds the UPDATE's RETURNING to the INSERT of
// the holds, so a row committed by another transaction meanwhile cannot be
// moved without its hold, or held without being moved.
const (
	// liveKeyCond is a key neither revoked nor expired at $2.
	liveKeyCond = "status = 'active' AND (revoked_at IS NULL OR revoked_at > $2) AND (expires_at IS NULL OR expires_at > $2)"

	holdTenantUsersSQL = `WITH moved AS (
		UPDATE users SET status = 'suspended', suspension_reason = $2,
			token_version = token_version + 1, updated_at = $3
		WHERE tenant_id = $1 AND status = 'active' RETURNING id
	), held AS (
		INSERT INTO tenant_held_users (tenant_id, user_id) SELECT $1, id FROM moved ON CONFLICT DO NOTHING
	)
	SELECT count(*) FROM moved`

	revokeHeldSessionsSQL = `UPDATE sessions SET revoked_at = $2, revoked_reason = $3
		WHERE user_id IN (SELECT user_id FROM tenant_held_users WHERE tenant_id = $1)
		AND revoked_at IS NULL AND expires_at > $2`

	holdTenantKeysSQL = `WITH moved AS (
		UPDATE api_keys SET status = 'disabled', updated_at = $2
		WHERE tenant_id = $1 AND ` + liveKeyCond + ` RETURNING id
	), held AS (
		INSERT INTO tenant_held_keys (tenant_id, key_id) SELECT $1, id FROM moved ON CONFLICT DO NOTHING
	)
	SELECT count(*) FROM moved`

	// releaseTenantSQL moves back the held rows still in the held state and
	// drops the holds, all at once: every part sees the same holds. The
	// updates read the hold tables, not the deletes' RETURNING, so that the
	// planner joins through an index even when it has no statistics for
	// holds written moments ago (a nested loop over a CTE would compare
	// every held row with every candidate).
	releaseTenantSQL = `WITH users_back AS (
		UPDATE users SET status = 'active', suspension_reason = '', updated_at = $2
		WHERE id IN (SELECT user_id FROM tenant_held_users WHERE tenant_id = $1) AND status = 'suspended'
		RETURNING 1
	), keys_back AS (
		UPDATE api_keys SET status = 'active', updated_at = $2
		WHERE id IN (SELECT key_id FROM tenant_held_keys WHERE tenant_id = $1) AND status = 'disabled'
		RETURNING 1
	), user_holds AS (
		DELETE FROM tenant_held_users WHERE tenant_id = $1
	), key_holds AS (
		DELETE FROM tenant_held_keys WHERE tenant_id = $1
	)
	SELECT (SELECT count(*) FROM users_back), (SELECT count(*) FROM keys_back)`

	// purgeCountsSQL locks the tenant and counts what PurgeTenant is about
	// to delete; no row when the tenant does not exist. Keys are those of
	// the tenant's users (whatever their tenant_id) and those with its
	// tenant_id.
	purgeCountsSQL = `SELECT
		(SELECT count(*) FROM users WHERE tenant_id = $1),
		(SELECT count(*) FROM sessions WHERE user_id IN (SELECT id FROM users WHERE tenant_id = $1)),
		(SELECT count(*) FROM api_keys k WHERE k.tenant_id = $1
			OR k.user_id IN (SELECT id FROM users WHERE tenant_id = $1)),
		(SELECT count(*) FROM tenant_plan_changes WHERE tenant_id = $1),
		(SELECT count(*) FROM credit_entries WHERE tenant_id = $1),
		(SELECT count(*) FROM usage_events WHERE tenant_id = $1),
		(SELECT count(*) FROM resources WHERE tenant_id = $1)
	FROM tenants WHERE id = $1 FOR UPDATE`
)

// HoldTenantUsers is one statement: suspend the active members and hold them.
func (t *tx) HoldTenantUsers(ctx context.Context, tenantID, reason string, now time.Time) (_ int64, err error) {
	defer wrapErr(&err, "hold tenant users")
	var n int64
	err = t.q.QueryRow(ctx, holdTenantUsersSQL, tenantID, reason, now).Scan(&n)
	return n, mapErr(err)
}

// RevokeHeldSessions is one statement over the held users' sessions.
func (t *tx) RevokeHeldSessions(ctx context.Context, tenantID string, now time.Time, reason string) (_ int64, err error) {
	defer wrapErr(&err, "revoke held sessions")
	tag, err := t.q.Exec(ctx, revokeHeldSessionsSQL, tenantID, now, reason)
	if err != nil {
		return 0, mapErr(err)
	}
	return tag.RowsAffected(), nil
}

// HoldTenantKeys is one statement: disable the live keys and hold them.
func (t *tx) HoldTenantKeys(ctx context.Context, tenantID string, now time.Time) (_ int64, err error) {
	defer wrapErr(&err, "hold tenant keys")
	var n int64
	err = t.q.QueryRow(ctx, holdTenantKeysSQL, tenantID, now).Scan(&n)
	return n, mapErr(err)
}

func (t *tx) HoldUser(ctx context.Context, tenantID, userID string) (err error) {
	defer wrapErr(&err, "hold user")
	_, err = t.q.Exec(ctx, `INSERT INTO tenant_held_users (tenant_id, user_id) VALUES ($1, $2)
		ON CONFLICT DO NOTHING`, tenantID, userID)
	return mapErr(err)
}

// ReleaseTenant is one statement (see releaseTenantSQL).
func (t *tx) ReleaseTenant(ctx context.Context, tenantID string, now time.Time) (users, keys int64, err error) {
	defer wrapErr(&err, "release tenant")
	err = t.q.QueryRow(ctx, releaseTenantSQL, tenantID, now).Scan(&users, &keys)
	if err != nil {
		return 0, 0, mapErr(err)
	}
	return users, keys, nil
}

// PurgeTenant is four statements: lock the tenant and count what goes, then
// delete its users (their sessions, keys and holds go by ON DELETE
// CASCADE), the keys with its tenant_id that remain, and the tenant (its
// plan changes, remaining holds, credit account, blocks, ledger entries
// with their draws, and usage events go by ON DELETE CASCADE).
func (t *tx) PurgeTenant(ctx context.Context, tenantID string) (_ steward.TenantPurgeCounts, err error) {
	defer wrapErr(&err, "purge tenant")
	var c steward.TenantPurgeCounts
	err = t.q.QueryRow(ctx, purgeCountsSQL, tenantID).Scan(&c.Users, &c.Sessions, &c.APIKeys, &c.PlanChanges,
		&c.LedgerEntries, &c.UsageEvents, &c.Resources)
	if err != nil {
		return steward.TenantPurgeCounts{}, mapErr(err) // ErrNotFound without the tenant
	}
	for _, sql := range []string{
		"DELETE FROM users WHERE tenant_id = $1",
		"DELETE FROM api_keys WHERE tenant_id = $1",
		"DELETE FROM tenants WHERE id = $1",
	} {
		if _, err := t.q.Exec(ctx, sql, tenantID); err != nil {
			return steward.TenantPurgeCounts{}, mapErr(err)
		}
	}
	return c, nil
}
