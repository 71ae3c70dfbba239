package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

var (
	_ store.ResourceQueries = (*Store)(nil)
	_ store.ResourceTx      = (*tx)(nil)
)

const resourceCols = `id, kind, tenant_id, user_id, name, status, metadata, last_seen_at, desired_status,
	desired_at, desired_by, held_by_tenant, restart_id, restart_requested_at, created_at, updated_at`

func scanResource(row pgx.Row) (*steward.Resource, error) {
	var (
		r                                 steward.Resource
		user                              *string
		status, desired, meta             string
		seen, desiredAt, created, updated time.Time
		restartAt                         *time.Time
	)
	err := row.Scan(&r.ID, &r.Kind, &r.TenantID, &user, &r.Name, &status, &meta, &seen, &desired,
		&desiredAt, &r.DesiredBy, &r.HeldByTenant, &r.RestartID, &restartAt, &created, &updated)
	if err != nil {
		return nil, mapErr(err)
	}
	if user != nil {
		r.UserID = *user
	}
	r.Status, r.DesiredStatus = steward.ResourceStatus(status), steward.ResourceDesired(desired)
	if err := json.Unmarshal([]byte(meta), &r.Metadata); err != nil {
		return nil, fmt.Errorf("resource %s metadata: %w", r.ID, err)
	}
	if r.Metadata == nil {
		r.Metadata = map[string]any{}
	}
	r.LastSeenAt, r.DesiredAt, r.CreatedAt, r.UpdatedAt = seen.UTC(), desiredAt.UTC(), created.UTC(), updated.UTC()
	r.RestartRequestedAt = utcPtr(restartAt)
	return &r, nil
}

func (q *queries) GetResource(ctx context.Context, id string) (_ *steward.Resource, err error) {
	defer wrapErr(&err, "get resource")
	return scanResource(q.q.QueryRow(ctx, "SELECT "+resourceCols+" FROM resources WHERE id = $1"+q.forUpdate(), id))
}

func (q *queries) ListResources(ctx context.Context, f steward.ResourceFilter, after string, limit int) (_ []*steward.Resource, err error) {
	defer wrapErr(&err, "list resources")
	var where []string
	var args []any
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	for _, c := range []struct{ col, v string }{{"tenant_id", f.TenantID}, {"status", string(f.Status)}, {"kind", f.Kind}} {
		if c.v != "" {
			where = append(where, c.col+" = "+arg(c.v))
		}
	}
	if after != "" {
		where = append(where, "id > "+arg(after))
	}
	query := "SELECT " + resourceCols + " FROM resources"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	rows, err := q.q.Query(ctx, query+" ORDER BY id LIMIT "+arg(limit), args...)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*steward.Resource, error) { return scanResource(r) })
	if out == nil {
		out = []*steward.Resource{}
	}
	return out, err
}

func (q *queries) CountStaleResources(ctx context.Context, cutoff time.Time) (n int64, err error) {
	defer wrapErr(&err, "count stale resources")
	err = q.q.QueryRow(ctx, "SELECT count(*) FROM resources WHERE last_seen_at < $1", cutoff).Scan(&n)
	return n, err
}

func (t *tx) PutResource(ctx context.Context, r *steward.Resource) (err error) {
	defer wrapErr(&err, "put resource")
	meta := r.Metadata
	if meta == nil {
		meta = map[string]any{}
	}
	b, err := json.Marshal(meta)
	if err != nil {
		return err
	}
	var user *string
	if r.UserID != "" {
		user = &r.UserID
	}
	_, err = t.q.Exec(ctx, "INSERT INTO resources ("+resourceCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) ON CONFLICT (id) DO UPDATE SET
		kind = excluded.kind, tenant_id = excluded.tenant_id, user_id = excluded.user_id, name = excluded.name,
		status = excluded.status, metadata = excluded.metadata, last_seen_at = excluded.last_seen_at,
		desired_status = excluded.desired_status, desired_at = excluded.desired_at, desired_by = excluded.desired_by,
		held_by_tenant = excluded.held_by_tenant, restart_id = excluded.restart_id,
		restart_requested_at = excluded.restart_requested_at, created_at = excluded.created_at,
		updated_at = excluded.updated_at`,
		r.ID, r.Kind, r.TenantID, user, r.Name, string(r.Status), string(b), r.LastSeenAt,
		string(r.DesiredStatus), r.DesiredAt, r.DesiredBy, r.HeldByTenant, r.RestartID,
		r.RestartRequestedAt, r.CreatedAt, r.UpdatedAt)
	return err
}

func (t *tx) PurgeStaleResources(ctx context.Context, cutoff time.Time, limit int) (_ []*steward.Resource, err error) {
	defer wrapErr(&err, "purge stale resources")
	// The subquery locks the rows it picks; the answer keeps its order.
	rows, err := t.q.Query(ctx, `WITH picked AS (
			SELECT id FROM resources WHERE last_seen_at < $1 ORDER BY last_seen_at, id LIMIT $2 FOR UPDATE),
		gone AS (DELETE FROM resources r USING picked p WHERE r.id = p.id RETURNING r.*)
		SELECT `+resourceCols+` FROM gone ORDER BY last_seen_at, id`, cutoff, limit)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*steward.Resource, error) { return scanResource(r) })
	if out == nil {
		out = []*steward.Resource{}
	}
	return out, err
}

func (t *tx) HoldTenantResources(ctx context.Context, tenantID, by string, now time.Time) (_ int64, err error) {
	defer wrapErr(&err, "hold tenant resources")
	tag, err := t.q.Exec(ctx, `UPDATE resources SET desired_status = $1, held_by_tenant = true,
		desired_at = $2, desired_by = $3, updated_at = $2 WHERE tenant_id = $4 AND desired_status = $5`,
		string(steward.DesiredSuspended), now, by, tenantID, string(steward.DesiredRunning))
	return tag.RowsAffected(), err
}

func (t *tx) ReleaseTenantResources(ctx context.Context, tenantID, by string, now time.Time) (_ int64, err error) {
	defer wrapErr(&err, "release tenant resources")
	tag, err := t.q.Exec(ctx, `UPDATE resources SET desired_status = $1, held_by_tenant = false,
		desired_at = $2, desired_by = $3, updated_at = $2
		WHERE tenant_id = $4 AND held_by_tenant AND desired_status = $5`,
		string(steward.DesiredRunning), now, by, tenantID, string(steward.DesiredSuspended))
	if err != nil {
		return 0, err
	}
	if _, err := t.q.Exec(ctx, "UPDATE resources SET held_by_tenant = false WHERE tenant_id = $1 AND held_by_tenant",
		tenantID); err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}
