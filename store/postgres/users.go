package postgres

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

const userCols = `id, email, coalesce(username, ''), name, role, coalesce(tenant_id, ''), tenant_role,
	status, ban_reason, ban_expires_at, ban_by, ban_at, suspension_reason, tags, metadata,
	email_verified, token_version, last_login_at, created_at, updated_at, deleted_at,
	status_before_delete, password_hash, login_reset_at`

func scanUser(row pgx.Row) (*steward.User, error) {
	var (
		u                                       steward.User
		role, tenantRole, status, before        string
		banReason, banBy                        string
		banExpires, banAt, lastLogin, del, lock *time.Time
	)
	err := row.Scan(&u.ID, &u.Email, &u.Username, &u.Name, &role, &u.TenantID, &tenantRole,
		&status, &banReason, &banExpires, &banBy, &banAt, &u.SuspensionReason, &u.Tags, &u.Metadata,
		&u.EmailVerified, &u.TokenVersion, &lastLogin, &u.CreatedAt, &u.UpdatedAt, &del,
		&before, &u.PasswordHash, &lock)
	if err != nil {
		return nil, mapErr(err)
	}
	u.Role = steward.Role(role)
	u.TenantRole = steward.TenantRole(tenantRole)
	u.Status = steward.UserStatus(status)
	u.StatusBeforeDelete = steward.UserStatus(before)
	if banAt != nil {
		u.Ban = &steward.Ban{Reason: banReason, ExpiresAt: utcPtr(banExpires), By: banBy, At: banAt.UTC()}
	}
	if u.Tags == nil {
		u.Tags = []string{}
	}
	if u.Metadata == nil {
		u.Metadata = map[string]any{}
	}
	u.LastLoginAt = utcPtr(lastLogin)
	u.CreatedAt = u.CreatedAt.UTC()
	u.UpdatedAt = u.UpdatedAt.UTC()
	u.DeletedAt = utcPtr(del)
	u.LoginResetAt = utcPtr(lock)
	return &u, nil
}

func collectUsers(rows pgx.Rows, err error) ([]*steward.User, error) {
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	users := []*steward.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		users = append(users, u)
	}
	return users, mapErr(rows.Err())
}

func (q *queries) getUser(ctx context.Context, col, v string) (*steward.User, error) {
	return scanUser(q.q.QueryRow(ctx, "SELECT "+userCols+" FROM users WHERE "+col+" = $1"+q.forUpdate(), v))
}

func (q *queries) GetUser(ctx context.Context, id string) (_ *steward.User, err error) {
	defer wrapErr(&err, "get user")
	return q.getUser(ctx, "id", id)
}

func (q *queries) GetUserByEmail(ctx context.Context, email string) (_ *steward.User, err error) {
	defer wrapErr(&err, "get user by email")
	return q.getUser(ctx, "email", email)
}

func (q *queries) GetUserByUsername(ctx context.Context, username string) (_ *steward.User, err error) {
	defer wrapErr(&err, "get user by username")
	if username == "" {
		return nil, store.ErrNotFound
	}
	return q.getUser(ctx, "username", username)
}

// likeEscaper makes a user's search term match literally inside LIKE.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

func userWhere(f steward.UserFilter, keyset bool) *where {
	w := &where{}
	if f.Q != "" {
		id := w.arg(f.Q)
		p := w.arg("%" + likeEscaper.Replace(f.Q) + "%")
		// Each branch has its own index (primary key, trigram GIN on lower(col)),
		// so the planner can OR bitmap scans. lower() on both sides keeps case
		// folding the database's, as in the indexes.
		w.add("(id = " + id + " OR lower(email) LIKE lower(" + p + `) ESCAPE '\'` +
			" OR lower(username) LIKE lower(" + p + `) ESCAPE '\'` +
			" OR lower(name) LIKE lower(" + p + `) ESCAPE '\')`)
	}
	if f.Status != "" {
		w.add("status = " + w.arg(string(f.Status)))
	}
	if f.Role != "" {
		w.add("role = " + w.arg(string(f.Role)))
	}
	if len(f.Roles) > 0 {
		roles := make([]string, len(f.Roles))
		for i, r := range f.Roles {
			roles[i] = string(r)
		}
		w.add("role = ANY(" + w.arg(roles) + ")")
	}
	if f.TenantID != "" {
		w.add("tenant_id = " + w.arg(f.TenantID))
	}
	if f.Tag != "" {
		w.add("tags @> ARRAY[" + w.arg(f.Tag) + "::text]")
	}
	if keyset && f.Before != "" {
		w.add("id < " + w.arg(f.Before))
	}
	return w
}

func (q *queries) ListUsers(ctx context.Context, f steward.UserFilter) (_ []*steward.User, err error) {
	defer wrapErr(&err, "list users")
	w := userWhere(f, true)
	sql := "SELECT " + userCols + " FROM users" + w.String() + " ORDER BY id DESC LIMIT " + w.arg(pageLimit(f.Limit))
	return collectUsers(q.q.Query(ctx, sql, searchArgs(f, w.args)...))
}

// searchArgs plans a Q search afresh for its term: a cached generic plan
// cannot tell a rare term (trigram index) from a common one (walk the primary
// key), and the wrong choice reads every row.
func searchArgs(f steward.UserFilter, args []any) []any {
	if f.Q == "" {
		return args
	}
	return append([]any{pgx.QueryExecModeExec}, args...)
}

func (q *queries) CountUsers(ctx context.Context, f steward.UserFilter) (_ int64, err error) {
	defer wrapErr(&err, "count users")
	w := userWhere(f, false)
	var n int64
	err = q.q.QueryRow(ctx, "SELECT count(*) FROM users"+w.String(), searchArgs(f, w.args)...).Scan(&n)
	return n, mapErr(err)
}

func (q *queries) ListUsersBanExpired(ctx context.Context, now time.Time, limit int) (_ []*steward.User, err error) {
	defer wrapErr(&err, "list users ban expired")
	return collectUsers(q.q.Query(ctx, "SELECT "+userCols+` FROM users
		WHERE status = 'banned' AND ban_expires_at <= $1
		ORDER BY ban_expires_at, id LIMIT $2`, now, pageLimit(limit)))
}

// userArgs are u's column values in the order of the INSERT and UPDATE below.
func userArgs(u *steward.User) []any {
	var ban steward.Ban
	var banAt *time.Time
	if u.Ban != nil {
		ban = *u.Ban
		banAt = &ban.At
	}
	tags := u.Tags
	if tags == nil {
		tags = []string{}
	}
	meta := u.Metadata
	if meta == nil {
		meta = map[string]any{}
	}
	return []any{
		u.ID, u.Email, nullIfEmpty(u.Username), u.Name, string(u.Role), nullIfEmpty(u.TenantID),
		string(u.TenantRole), string(u.Status), ban.Reason, ban.ExpiresAt, ban.By, banAt,
		u.SuspensionReason, tags, meta, u.EmailVerified, u.TokenVersion, u.LastLoginAt,
		u.CreatedAt, u.UpdatedAt, u.DeletedAt, string(u.StatusBeforeDelete), u.PasswordHash,
		u.LoginResetAt,
	}
}

func (t *tx) CreateUser(ctx context.Context, u *steward.User) (err error) {
	defer wrapErr(&err, "create user")
	_, err = t.q.Exec(ctx, `INSERT INTO users (id, email, username, name, role, tenant_id,
		tenant_role, status, ban_reason, ban_expires_at, ban_by, ban_at, suspension_reason, tags,
		metadata, email_verified, token_version, last_login_at, created_at, updated_at, deleted_at,
		status_before_delete, password_hash, login_reset_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
		$19, $20, $21, $22, $23, $24)`, userArgs(u)...)
	return mapErr(err)
}

func (t *tx) UpdateUser(ctx context.Context, u *steward.User) (err error) {
	defer wrapErr(&err, "update user")
	tag, err := t.q.Exec(ctx, `UPDATE users SET email = $2, username = $3, name = $4, role = $5,
		tenant_id = $6, tenant_role = $7, status = $8, ban_reason = $9, ban_expires_at = $10,
		ban_by = $11, ban_at = $12, suspension_reason = $13, tags = $14, metadata = $15,
		email_verified = $16, token_version = $17, last_login_at = $18, created_at = $19,
		updated_at = $20, deleted_at = $21, status_before_delete = $22, password_hash = $23,
		login_reset_at = $24
		WHERE id = $1`, userArgs(u)...)
	if err != nil {
		return mapErr(err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// PurgeUser deletes the user; its sessions go with it (ON DELETE CASCADE).
func (t *tx) PurgeUser(ctx context.Context, id string) (err error) {
	defer wrapErr(&err, "purge user")
	tag, err := t.q.Exec(ctx, "DELETE FROM users WHERE id = $1", id)
	if err != nil {
		return mapErr(err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}
