package postgres

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

const apiKeyCols = `id, name, key_type, purpose, coalesce(tenant_id, ''), user_id, scopes, rate_limit_rpm,
	expires_at, allowed_ips, status, revoked_at, revoked_reason, rotated_from, key_prefix, last_four,
	last_used_at, last_used_ip, created_by, created_at, updated_at, secret_hash`

const (
	getAPIKeySQL       = "SELECT " + apiKeyCols + " FROM api_keys WHERE id = $1"
	getAPIKeyByHashSQL = "SELECT " + apiKeyCols + " FROM api_keys WHERE secret_hash = $1"
	// The key's columns from a subselect, then its owner's state and their
	// tenant's status: one round trip.
	getAPIKeyForVerifySQL = "SELECT k.*, u.id, u.role, u.status, u.ban_expires_at, coalesce(u.tenant_id, ''), " +
		"coalesce(t.status, '') FROM (" + getAPIKeyByHashSQL + ") k LEFT JOIN users u ON u.id = k.user_id " +
		"LEFT JOIN tenants t ON t.id = u.tenant_id"
)

// extraScan scans a row's leading columns with the caller's destinations
// and the trailing ones into extra.
type extraScan struct {
	row   pgx.Row
	extra []any
}

func (e extraScan) Scan(dest ...any) error { return e.row.Scan(append(dest, e.extra...)...) }

// GetAPIKeyForVerify is one query: the key by its hash and its owner's state.
func (q *queries) GetAPIKeyForVerify(ctx context.Context, hash []byte) (_ *steward.APIKey, _ *steward.KeyOwner, err error) {
	defer wrapErr(&err, "get api key for verify")
	var (
		id, role, status, tenant, tenantStatus *string
		banExpires                             *time.Time
	)
	k, err := scanAPIKey(extraScan{q.q.QueryRow(ctx, getAPIKeyForVerifySQL, hash),
		[]any{&id, &role, &status, &banExpires, &tenant, &tenantStatus}})
	if err != nil {
		return nil, nil, err
	}
	if id == nil {
		return k, nil, nil
	}
	o := &steward.KeyOwner{ID: *id, Role: steward.Role(*role), Status: steward.UserStatus(*status), BanExpiresAt: utcPtr(banExpires)}
	if tenant != nil {
		o.TenantID = *tenant
	}
	if tenantStatus != nil {
		o.TenantStatus = steward.TenantStatus(*tenantStatus)
	}
	return k, o, nil
}

func scanAPIKey(row pgx.Row) (*steward.APIKey, error) {
	var (
		k           steward.APIKey
		typ, status string
	)
	err := row.Scan(&k.ID, &k.Name, &typ, &k.Purpose, &k.TenantID, &k.UserID, &k.Scopes, &k.RateLimitRPM,
		&k.ExpiresAt, &k.AllowedIPs, &status, &k.RevokedAt, &k.RevokedReason, &k.RotatedFrom, &k.KeyPrefix,
		&k.LastFour, &k.LastUsedAt, &k.LastUsedIP, &k.CreatedBy, &k.CreatedAt, &k.UpdatedAt, &k.SecretHash)
	if err != nil {
		return nil, mapErr(err)
	}
	k.Type, k.Status = steward.KeyType(typ), steward.KeyStatus(status)
	if k.Scopes == nil {
		k.Scopes = []steward.Permission{}
	}
	if k.AllowedIPs == nil {
		k.AllowedIPs = []string{}
	}
	k.ExpiresAt, k.RevokedAt, k.LastUsedAt = utcPtr(k.ExpiresAt), utcPtr(k.RevokedAt), utcPtr(k.LastUsedAt)
	k.CreatedAt, k.UpdatedAt = k.CreatedAt.UTC(), k.UpdatedAt.UTC()
	return &k, nil
}

func (q *queries) GetAPIKey(ctx context.Context, id string) (_ *steward.APIKey, err error) {
	defer wrapErr(&err, "get api key")
	return scanAPIKey(q.q.QueryRow(ctx, getAPIKeySQL+q.forUpdate(), id))
}

// GetAPIKeyByHash is one lookup in the unique index on secret_hash.
func (q *queries) GetAPIKeyByHash(ctx context.Context, hash []byte) (_ *steward.APIKey, err error) {
	defer wrapErr(&err, "get api key by hash")
	return scanAPIKey(q.q.QueryRow(ctx, getAPIKeyByHashSQL+q.forUpdate(), hash))
}

// apiKeyWhere holds the conditions of f, Before and Limit aside: the list
// adds its keyset condition, a count does not.
func apiKeyWhere(f steward.KeyFilter) *where {
	w := &where{}
	eq := func(col, v string) {
		if v != "" {
			w.add(col + " = " + w.arg(v))
		}
	}
	eq("tenant_id", f.TenantID)
	eq("user_id", f.UserID)
	if f.Status != "" {
		// The key's own state at Now, as steward.APIKey.State computes it.
		now := w.arg(f.Now)
		live := "(revoked_at IS NULL OR revoked_at > " + now + ") AND status <> 'revoked'"
		switch f.Status {
		case steward.KeyRevoked:
			w.add("(status = 'revoked' OR revoked_at <= " + now + ")")
		case steward.KeyExpired:
			w.add(live + " AND expires_at <= " + now)
		default: // active, disabled
			w.add("status = " + w.arg(string(f.Status)) + " AND " + live +
				" AND (expires_at IS NULL OR expires_at > " + now + ")")
		}
	}
	eq("key_type", string(f.Type))
	return w
}

func (q *queries) ListAPIKeys(ctx context.Context, f steward.KeyFilter) (_ []*steward.APIKey, err error) {
	defer wrapErr(&err, "list api keys")
	w := apiKeyWhere(f)
	if f.Before != "" {
		w.add("id < " + w.arg(f.Before))
	}
	rows, err := q.q.Query(ctx, "SELECT "+apiKeyCols+" FROM api_keys"+w.String()+
		" ORDER BY id DESC LIMIT "+w.arg(pageLimit(f.Limit)), w.args...)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	keys := []*steward.APIKey{}
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, mapErr(rows.Err())
}

func (q *queries) CountAPIKeys(ctx context.Context, f steward.KeyFilter) (_ int64, err error) {
	defer wrapErr(&err, "count api keys")
	w := apiKeyWhere(f)
	var n int64
	err = q.q.QueryRow(ctx, "SELECT count(*) FROM api_keys"+w.String(), w.args...).Scan(&n)
	return n, mapErr(err)
}

// apiKeyRecentSQL counts keys created and used in the last 24 h ($2) and
// 30 days ($3) up to $1 through the created_at and last_used_at indexes
// (migration 00011): the cost is the keys in the window, not the table.
const apiKeyRecentSQL = `SELECT
    (SELECT count(*) FROM api_keys WHERE created_at BETWEEN $2 AND $1),
    (SELECT count(*) FROM api_keys WHERE created_at BETWEEN $3 AND $1),
    (SELECT count(*) FROM api_keys WHERE last_used_at BETWEEN $2 AND $1),
    (SELECT count(*) FROM api_keys WHERE last_used_at BETWEEN $3 AND $1)`

// APIKeyStats reads the states and types from the stat counters (with
// their time corrections, as GET /admin/stats does) and the recent
// windows through indexes; it never scans the keys.
func (q *queries) APIKeyStats(ctx context.Context, now time.Time) (_ *steward.KeyStats, err error) {
	defer wrapErr(&err, "api key stats")
	g, err := q.ReadGauges(ctx, now)
	if err != nil {
		return nil, err
	}
	st := store.KeyStatsFrom(g)
	if err := q.q.QueryRow(ctx, apiKeyRecentSQL, now, now.Add(-24*time.Hour), now.Add(-30*24*time.Hour)).
		Scan(&st.Created24, &st.Created30, &st.Used24, &st.Used30); err != nil {
		return nil, mapErr(err)
	}
	return st, nil
}

// apiKeyArgs are k's column values in the order of the INSERT and UPDATE below.
func apiKeyArgs(k *steward.APIKey) []any {
	scopes := k.Scopes
	if scopes == nil {
		scopes = []steward.Permission{}
	}
	ips := k.AllowedIPs
	if ips == nil {
		ips = []string{}
	}
	return []any{
		k.ID, k.Name, string(k.Type), k.Purpose, nullIfEmpty(k.TenantID), k.UserID, scopes, k.RateLimitRPM,
		k.ExpiresAt, ips, string(k.Status), k.RevokedAt, k.RevokedReason, k.RotatedFrom, k.KeyPrefix,
		k.LastFour, k.LastUsedAt, k.LastUsedIP, k.CreatedBy, k.CreatedAt, k.UpdatedAt, k.SecretHash,
	}
}

func (t *tx) CreateAPIKey(ctx context.Context, k *steward.APIKey) (err error) {
	defer wrapErr(&err, "create api key")
	_, err = t.q.Exec(ctx, `INSERT INTO api_keys (id, name, key_type, purpose, tenant_id, user_id,
		scopes, rate_limit_rpm, expires_at, allowed_ips, status, revoked_at, revoked_reason,
		rotated_from, key_prefix, last_four, last_used_at, last_used_ip, created_by, created_at,
		updated_at, secret_hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
		$19, $20, $21, $22)`, apiKeyArgs(k)...)
	return mapErr(err)
}

func (t *tx) UpdateAPIKey(ctx context.Context, k *steward.APIKey) (err error) {
	defer wrapErr(&err, "update api key")
	tag, err := t.q.Exec(ctx, `UPDATE api_keys SET name = $2, key_type = $3, purpose = $4,
		tenant_id = $5, user_id = $6, scopes = $7, rate_limit_rpm = $8, expires_at = $9,
		allowed_ips = $10, status = $11, revoked_at = $12, revoked_reason = $13, rotated_from = $14,
		key_prefix = $15, last_four = $16, last_used_at = $17, last_used_ip = $18, created_by = $19,
		created_at = $20, updated_at = $21, secret_hash = $22
		WHERE id = $1`, apiKeyArgs(k)...)
	if err != nil {
		return mapErr(err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

const recordKeyUseSQL = `UPDATE api_keys SET last_used_at = $2, last_used_ip = $3
	WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2)`

// batcher is what a pgx.Tx offers beyond querier.
type batcher interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// RecordKeyUses sends one UPDATE a key in a single round trip. Keys are
// updated in id order, so two replicas flushing at once lock rows in the same
// order and do not deadlock.
func (t *tx) RecordKeyUses(ctx context.Context, uses []steward.KeyUse) (err error) {
	defer wrapErr(&err, "record key uses")
	uses = latestUses(uses)
	if len(uses) == 0 {
		return nil
	}
	bt, ok := t.q.(batcher)
	if !ok {
		return errors.New("postgres: record key uses: transaction cannot send batches")
	}
	b := &pgx.Batch{}
	for _, u := range uses {
		b.Queue(recordKeyUseSQL, u.KeyID, u.At, u.IP)
	}
	return mapErr(bt.SendBatch(ctx, b).Close())
}

// latestUses keeps the newest use of each key, in id order: what applying
// every use in turn would leave, with one UPDATE a key.
func latestUses(uses []steward.KeyUse) []steward.KeyUse {
	sorted := slices.Clone(uses)
	slices.SortStableFunc(sorted, func(a, b steward.KeyUse) int {
		return cmp.Or(strings.Compare(a.KeyID, b.KeyID), b.At.Compare(a.At))
	})
	return slices.CompactFunc(sorted, func(a, b steward.KeyUse) bool { return a.KeyID == b.KeyID })
}
