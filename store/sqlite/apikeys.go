package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// apiKeyWriteCols is the column order of apiKeyArgs, which puts id last so
// the INSERT and the UPDATE share the arguments.
var apiKeyWriteCols = []string{
	"name", "key_type", "purpose", "tenant_id", "user_id", "scopes", "rate_limit_rpm", "expires_at",
	"allowed_ips", "status", "revoked_at", "revoked_reason", "rotated_from", "key_prefix", "last_four",
	"last_used_at", "last_used_ip", "created_by", "created_at", "updated_at", "secret_hash",
}

var (
	apiKeyColumns      = "id, " + strings.Join(apiKeyWriteCols, ", ")
	insertAPIKeyStmt   = "INSERT INTO api_keys (" + strings.Join(apiKeyWriteCols, ", ") + ", id) VALUES (?" + strings.Repeat(", ?", len(apiKeyWriteCols)) + ")"
	updateAPIKeyStmt   = "UPDATE api_keys SET " + strings.Join(apiKeyWriteCols, " = ?, ") + " = ? WHERE id = ?"
	getAPIKeySQL       = "SELECT " + apiKeyColumns + " FROM api_keys WHERE id = ?"
	getAPIKeyByHashSQL = "SELECT " + apiKeyColumns + " FROM api_keys WHERE secret_hash = ?"
	// The key's columns, prefixed, then the owner's state and their
	// tenant's status: one lookup in the secret_hash index, one in users' id
	// index and one in tenants' primary key.
	getAPIKeyForVerifySQL = "SELECT k." + strings.ReplaceAll(apiKeyColumns, ", ", ", k.") +
		", u.id, u.role, u.status, u.ban_expires_at, u.tenant_id, t.status FROM api_keys k" +
		" LEFT JOIN users u ON u.id = k.user_id LEFT JOIN tenants t ON t.id = u.tenant_id WHERE k.secret_hash = ?"
)

// extraScan scans a row's leading columns with the inner scanner's caller
// and the trailing ones into extra.
type extraScan struct {
	row   scanner
	extra []any
}

func (e extraScan) Scan(dest ...any) error { return e.row.Scan(append(dest, e.extra...)...) }

// GetAPIKeyForVerify is one query: the key by its hash and its owner's state.
func (q queries) GetAPIKeyForVerify(ctx context.Context, hash []byte) (*steward.APIKey, *steward.KeyOwner, error) {
	var (
		id, role, status, tenant, tenantStatus sql.NullString
		banExpires                             sql.NullInt64
	)
	k, err := scanAPIKey(extraScan{q.db.QueryRowContext(ctx, getAPIKeyForVerifySQL, hash),
		[]any{&id, &role, &status, &banExpires, &tenant, &tenantStatus}})
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil, err
		}
		return nil, nil, fmt.Errorf("sqlite: get api key for verify: %w", err)
	}
	if !id.Valid {
		return k, nil, nil
	}
	return k, &steward.KeyOwner{ID: id.String, Role: steward.Role(role.String), Status: steward.UserStatus(status.String),
		BanExpiresAt: timePtr(banExpires), TenantID: tenant.String,
		TenantStatus: steward.TenantStatus(tenantStatus.String)}, nil
}

func apiKeyArgs(k *steward.APIKey) ([]any, error) {
	scopes, err := jsonList(k.Scopes)
	if err != nil {
		return nil, fmt.Errorf("sqlite: api key scopes: %w", err)
	}
	ips, err := jsonList(k.AllowedIPs)
	if err != nil {
		return nil, fmt.Errorf("sqlite: api key allowed_ips: %w", err)
	}
	return []any{
		k.Name, string(k.Type), k.Purpose, nullString(k.TenantID), k.UserID, scopes, k.RateLimitRPM,
		nullMicros(k.ExpiresAt), ips, string(k.Status), nullMicros(k.RevokedAt), k.RevokedReason,
		k.RotatedFrom, k.KeyPrefix, k.LastFour, nullMicros(k.LastUsedAt), k.LastUsedIP, k.CreatedBy,
		micros(k.CreatedAt), micros(k.UpdatedAt), k.SecretHash, k.ID,
	}, nil
}

// scanAPIKey reads the columns of apiKeyColumns. It is on the path of every
// key verification, so it scans straight into the key where it can.
func scanAPIKey(sc scanner) (*steward.APIKey, error) {
	var (
		k                          steward.APIKey
		tenantID                   sql.NullString
		scopes, ips                string
		expires, revoked, lastUsed sql.NullInt64
		created, updated           int64
	)
	err := sc.Scan(&k.ID, &k.Name, &k.Type, &k.Purpose, &tenantID, &k.UserID, &scopes, &k.RateLimitRPM,
		&expires, &ips, &k.Status, &revoked, &k.RevokedReason, &k.RotatedFrom, &k.KeyPrefix, &k.LastFour,
		&lastUsed, &k.LastUsedIP, &k.CreatedBy, &created, &updated, &k.SecretHash)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, store.ErrNotFound
		}
		return nil, err
	}
	k.TenantID = tenantID.String
	if k.Scopes, err = fromJSONList[steward.Permission](scopes); err != nil {
		return nil, fmt.Errorf("sqlite: api key %s scopes: %w", k.ID, err)
	}
	if k.AllowedIPs, err = fromJSONList[string](ips); err != nil {
		return nil, fmt.Errorf("sqlite: api key %s allowed_ips: %w", k.ID, err)
	}
	k.ExpiresAt, k.RevokedAt, k.LastUsedAt = timePtr(expires), timePtr(revoked), timePtr(lastUsed)
	k.CreatedAt, k.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &k, nil
}

// jsonList stores a list as a JSON array, [] when empty.
func jsonList[T ~string](list []T) (string, error) {
	if len(list) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(list)
	return string(b), err
}

// fromJSONList reads a JSON array of strings, never returning nil. The empty
// array, by far the most common value, is not decoded at all.
func fromJSONList[T ~string](s string) ([]T, error) {
	if s == "[]" {
		return []T{}, nil
	}
	var list []T
	if err := json.Unmarshal([]byte(s), &list); err != nil {
		return nil, err
	}
	if list == nil {
		list = []T{}
	}
	return list, nil
}

func (q queries) getAPIKey(ctx context.Context, query string, arg any) (*steward.APIKey, error) {
	k, err := scanAPIKey(q.db.QueryRowContext(ctx, query, arg))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("sqlite: get api key: %w", err)
	}
	return k, err
}

func (q queries) GetAPIKey(ctx context.Context, id string) (*steward.APIKey, error) {
	return q.getAPIKey(ctx, getAPIKeySQL, id)
}

// GetAPIKeyByHash is one lookup in the unique index on secret_hash.
func (q queries) GetAPIKeyByHash(ctx context.Context, hash []byte) (*steward.APIKey, error) {
	return q.getAPIKey(ctx, getAPIKeyByHashSQL, hash)
}

// apiKeyWhere returns the WHERE clause and arguments for f; list adds the
// page's keyset condition (Before), which a count leaves out. Each filter
// alone is a range scan of an index ending in id (see the migration).
func apiKeyWhere(f steward.KeyFilter, list bool) (string, []any) {
	var (
		where []string
		args  []any
	)
	eq := func(col, v string) {
		if v != "" {
			where = append(where, col+" = ?")
			args = append(args, v)
		}
	}
	eq("tenant_id", f.TenantID)
	eq("user_id", f.UserID)
	if f.Status != "" {
		// The key's own state at Now, as steward.APIKey.State computes it.
		now := micros(f.Now)
		live := "(revoked_at IS NULL OR revoked_at > ?) AND status <> 'revoked'"
		unexpired := "(expires_at IS NULL OR expires_at > ?)"
		switch f.Status {
		case steward.KeyRevoked:
			where = append(where, "(status = 'revoked' OR revoked_at <= ?)")
			args = append(args, now)
		case steward.KeyExpired:
			where = append(where, live+" AND expires_at <= ?")
			args = append(args, now, now)
		default: // active, disabled
			where = append(where, "status = ? AND "+live+" AND "+unexpired)
			args = append(args, string(f.Status), now, now)
		}
	}
	eq("key_type", string(f.Type))
	if list && f.Before != "" {
		where = append(where, "id < ?")
		args = append(args, f.Before)
	}
	return whereClause(where), args
}

func listAPIKeysSQL(f steward.KeyFilter) (string, []any) {
	where, args := apiKeyWhere(f, true)
	return "SELECT " + apiKeyColumns + " FROM api_keys" + where + " ORDER BY id DESC LIMIT ?",
		append(args, limit(f.Limit))
}

func (q queries) ListAPIKeys(ctx context.Context, f steward.KeyFilter) ([]*steward.APIKey, error) {
	query, args := listAPIKeysSQL(f)
	keys, err := queryAll(ctx, q.db, scanAPIKey, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list api keys: %w", err)
	}
	return keys, nil
}

func (q queries) CountAPIKeys(ctx context.Context, f steward.KeyFilter) (int64, error) {
	where, args := apiKeyWhere(f, false)
	var n int64
	if err := q.db.QueryRowContext(ctx, "SELECT count(*) FROM api_keys"+where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count api keys: %w", err)
	}
	return n, nil
}

// apiKeyStatsSQL counts keys by state at ?1 and type in one pass; the state
// is steward.APIKey.State spelled in SQL. ?2 and ?3 start the 24-hour and
// 30-day windows, which end at ?1 inclusive. A NULL last_used_at compares
// as NULL, which sum ignores.
// apiKeyRecentSQL counts keys created and used in the last 24 h and 30
// days through the created_at and last_used_at indexes (migration 00011):
// the cost is the keys in the window, not the table.
const apiKeyRecentSQL = `SELECT
    (SELECT count(*) FROM api_keys WHERE created_at BETWEEN ?2 AND ?1),
    (SELECT count(*) FROM api_keys WHERE created_at BETWEEN ?3 AND ?1),
    (SELECT count(*) FROM api_keys WHERE last_used_at BETWEEN ?2 AND ?1),
    (SELECT count(*) FROM api_keys WHERE last_used_at BETWEEN ?3 AND ?1)`

// APIKeyStats reads the states and types from the stat counters (with
// their time corrections, as GET /admin/stats does) and the recent
// windows through indexes; it never scans the keys.
func (q queries) APIKeyStats(ctx context.Context, now time.Time) (*steward.KeyStats, error) {
	g, err := q.ReadGauges(ctx, now)
	if err != nil {
		return nil, err
	}
	st := store.KeyStatsFrom(g)
	if err := q.db.QueryRowContext(ctx, apiKeyRecentSQL,
		micros(now), micros(now.Add(-24*time.Hour)), micros(now.Add(-30*24*time.Hour))).
		Scan(&st.Created24, &st.Created30, &st.Used24, &st.Used30); err != nil {
		return nil, fmt.Errorf("sqlite: api key stats: %w", err)
	}
	return st, nil
}

func (t *tx) CreateAPIKey(ctx context.Context, k *steward.APIKey) error {
	args, err := apiKeyArgs(k)
	if err != nil {
		return err
	}
	if _, err := t.tx.ExecContext(ctx, insertAPIKeyStmt, args...); err != nil {
		return fmt.Errorf("sqlite: create api key: %w", mapError(err))
	}
	return nil
}

func (t *tx) UpdateAPIKey(ctx context.Context, k *steward.APIKey) error {
	args, err := apiKeyArgs(k)
	if err != nil {
		return err
	}
	if err := exactlyOne(t.tx.ExecContext(ctx, updateAPIKeyStmt, args...)); err != nil {
		return fmt.Errorf("sqlite: update api key: %w", err)
	}
	return nil
}

const recordKeyUseStmt = "UPDATE api_keys SET last_used_at = ?1, last_used_ip = ?2 " +
	"WHERE id = ?3 AND (last_used_at IS NULL OR last_used_at < ?1)"

func (t *tx) RecordKeyUses(ctx context.Context, uses []steward.KeyUse) error {
	uses = latestUses(uses)
	if len(uses) == 0 {
		return nil
	}
	stmt, err := t.tx.PrepareContext(ctx, recordKeyUseStmt)
	if err != nil {
		return fmt.Errorf("sqlite: record key uses: %w", err)
	}
	defer stmt.Close()
	for _, u := range uses {
		t.tx.n.Add(1)
		if _, err := stmt.ExecContext(ctx, micros(u.At), u.IP, u.KeyID); err != nil {
			return fmt.Errorf("sqlite: record key uses: %w", err)
		}
	}
	return nil
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
