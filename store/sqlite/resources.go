package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

var (
	_ store.ResourceQueries = (*Store)(nil)
	_ store.ResourceTx      = (*tx)(nil)
)

const resourceCols = "id, kind, tenant_id, user_id, name, status, metadata, last_seen_at, desired_status, " +
	"desired_at, desired_by, held_by_tenant, restart_id, restart_requested_at, created_at, updated_at"

func scanResource(sc scanner) (*steward.Resource, error) {
	var (
		r                                 steward.Resource
		user                              sql.NullString
		meta                              string
		seen, desiredAt, created, updated int64
		restartAt                         sql.NullInt64
	)
	err := sc.Scan(&r.ID, &r.Kind, &r.TenantID, &user, &r.Name, &r.Status, &meta, &seen, &r.DesiredStatus,
		&desiredAt, &r.DesiredBy, &r.HeldByTenant, &r.RestartID, &restartAt, &created, &updated)
	if err != nil {
		return nil, err
	}
	r.UserID = user.String
	if err := json.Unmarshal([]byte(meta), &r.Metadata); err != nil {
		return nil, fmt.Errorf("resource %s metadata: %w", r.ID, err)
	}
	if r.Metadata == nil {
		r.Metadata = map[string]any{}
	}
	r.LastSeenAt, r.DesiredAt = fromMicros(seen), fromMicros(desiredAt)
	r.RestartRequestedAt = timePtr(restartAt)
	r.CreatedAt, r.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &r, nil
}

func (q queries) GetResource(ctx context.Context, id string) (*steward.Resource, error) {
	r, err := scanResource(q.db.QueryRowContext(ctx, "SELECT "+resourceCols+" FROM resources WHERE id = ?", id))
	if err == sql.ErrNoRows {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get resource: %w", err)
	}
	return r, nil
}

func (q queries) ListResources(ctx context.Context, f steward.ResourceFilter, after string, limit int) ([]*steward.Resource, error) {
	var where []string
	var args []any
	for _, c := range []struct{ col, v string }{{"tenant_id", f.TenantID}, {"status", string(f.Status)}, {"kind", f.Kind}} {
		if c.v != "" {
			where, args = append(where, c.col+" = ?"), append(args, c.v)
		}
	}
	if after != "" {
		where, args = append(where, "id > ?"), append(args, after)
	}
	query := "SELECT " + resourceCols + " FROM resources"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	list, err := queryAll(ctx, q.db, scanResource, query+" ORDER BY id LIMIT ?", append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list resources: %w", err)
	}
	return list, nil
}

// countStaleResourcesSQL reads resources_last_seen's stale entries only.
const countStaleResourcesSQL = "SELECT count(*) FROM resources WHERE last_seen_at < ?"

func (q queries) CountStaleResources(ctx context.Context, cutoff time.Time) (int64, error) {
	var n int64
	if err := q.db.QueryRowContext(ctx, countStaleResourcesSQL, micros(cutoff)).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count stale resources: %w", err)
	}
	return n, nil
}

func (t *tx) PutResource(ctx context.Context, r *steward.Resource) error {
	meta := r.Metadata
	if meta == nil {
		meta = map[string]any{}
	}
	b, err := json.Marshal(meta)
	if err != nil {
		return fmt.Errorf("sqlite: resource metadata: %w", err)
	}
	var user any
	if r.UserID != "" {
		user = r.UserID
	}
	_, err = t.tx.ExecContext(ctx, "INSERT INTO resources ("+resourceCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET
		kind = excluded.kind, tenant_id = excluded.tenant_id, user_id = excluded.user_id, name = excluded.name,
		status = excluded.status, metadata = excluded.metadata, last_seen_at = excluded.last_seen_at,
		desired_status = excluded.desired_status, desired_at = excluded.desired_at, desired_by = excluded.desired_by,
		held_by_tenant = excluded.held_by_tenant, restart_id = excluded.restart_id,
		restart_requested_at = excluded.restart_requested_at, created_at = excluded.created_at,
		updated_at = excluded.updated_at`,
		r.ID, r.Kind, r.TenantID, user, r.Name, string(r.Status), string(b), micros(r.LastSeenAt),
		string(r.DesiredStatus), micros(r.DesiredAt), r.DesiredBy, r.HeldByTenant, r.RestartID,
		nullMicros(r.RestartRequestedAt), micros(r.CreatedAt), micros(r.UpdatedAt))
	if err != nil {
		return fmt.Errorf("sqlite: put resource: %w", mapError(err))
	}
	return nil
}

func (t *tx) PurgeStaleResources(ctx context.Context, cutoff time.Time, limit int) ([]*steward.Resource, error) {
	rs, err := queryAll(ctx, t.tx, scanResource, "SELECT "+resourceCols+
		" FROM resources WHERE last_seen_at < ? ORDER BY last_seen_at, id LIMIT ?", micros(cutoff), limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: stale resources: %w", err)
	}
	for _, r := range rs {
		if _, err := t.tx.ExecContext(ctx, "DELETE FROM resources WHERE id = ?", r.ID); err != nil {
			return nil, fmt.Errorf("sqlite: purge resource: %w", err)
		}
	}
	return rs, nil
}

func (t *tx) HoldTenantResources(ctx context.Context, tenantID, by string, now time.Time) (int64, error) {
	res, err := t.tx.ExecContext(ctx, `UPDATE resources SET desired_status = ?, held_by_tenant = 1,
		desired_at = ?, desired_by = ?, updated_at = ? WHERE tenant_id = ? AND desired_status = ?`,
		string(steward.DesiredSuspended), micros(now), by, micros(now), tenantID, string(steward.DesiredRunning))
	if err != nil {
		return 0, fmt.Errorf("sqlite: hold tenant resources: %w", err)
	}
	return res.RowsAffected()
}

func (t *tx) ReleaseTenantResources(ctx context.Context, tenantID, by string, now time.Time) (int64, error) {
	res, err := t.tx.ExecContext(ctx, `UPDATE resources SET desired_status = ?, held_by_tenant = 0,
		desired_at = ?, desired_by = ?, updated_at = ? WHERE tenant_id = ? AND held_by_tenant = 1 AND desired_status = ?`,
		string(steward.DesiredRunning), micros(now), by, micros(now), tenantID, string(steward.DesiredSuspended))
	if err != nil {
		return 0, fmt.Errorf("sqlite: release tenant resources: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, err
	}
	if _, err := t.tx.ExecContext(ctx, "UPDATE resources SET held_by_tenant = 0 WHERE tenant_id = ? AND held_by_tenant = 1",
		tenantID); err != nil {
		return 0, fmt.Errorf("sqlite: release tenant resources: %w", err)
	}
	return n, nil
}
