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

// userWriteCols is the column order of userArgs.
var userWriteCols = []string{
	"id", "email", "username", "name", "role", "tenant_id", "tenant_role", "status",
	"ban_reason", "ban_expires_at", "ban_by", "ban_at", "suspension_reason", "tags", "metadata",
	"email_verified", "token_version", "last_login_at", "created_at", "updated_at", "deleted_at",
	"status_before_delete", "password_hash", "login_reset_at",
}

var (
	userColumns    = "u." + strings.Join(userWriteCols, ", u.")
	insertUserStmt = "INSERT INTO users (" + strings.Join(userWriteCols, ", ") + ") VALUES (?" +
		strings.Repeat(", ?", len(userWriteCols)-1) + ")"
	updateUserStmt = "UPDATE users SET " + strings.Join(userWriteCols[1:], " = ?, ") + " = ? WHERE id = ?"
)

func userArgs(u *steward.User) ([]any, error) {
	tags := u.Tags
	if tags == nil {
		tags = []string{}
	}
	tagsJSON, err := json.Marshal(tags)
	if err != nil {
		return nil, fmt.Errorf("sqlite: user tags: %w", err)
	}
	meta := u.Metadata
	if meta == nil {
		meta = map[string]any{}
	}
	metaJSON, err := json.Marshal(meta)
	if err != nil {
		return nil, fmt.Errorf("sqlite: user metadata: %w", err)
	}
	var banReason, banExpires, banBy, banAt any
	if b := u.Ban; b != nil {
		banReason, banExpires, banBy, banAt = b.Reason, nullMicros(b.ExpiresAt), b.By, micros(b.At)
	}
	return []any{
		u.ID, u.Email, nullString(u.Username), u.Name, string(u.Role), nullString(u.TenantID),
		string(u.TenantRole), string(u.Status),
		banReason, banExpires, banBy, banAt, u.SuspensionReason, string(tagsJSON), string(metaJSON),
		u.EmailVerified, u.TokenVersion, nullMicros(u.LastLoginAt), micros(u.CreatedAt),
		micros(u.UpdatedAt), nullMicros(u.DeletedAt),
		string(u.StatusBeforeDelete), u.PasswordHash, nullMicros(u.LoginResetAt),
	}, nil
}

type scanner interface{ Scan(dest ...any) error }

func scanUser(sc scanner) (*steward.User, error) {
	var (
		u                                    steward.User
		username, tenantID, banReason, banBy sql.NullString
		banExpires, banAt, lastLogin         sql.NullInt64
		deleted, loginReset                  sql.NullInt64
		created, updated                     int64
		tags, meta                           string
	)
	err := sc.Scan(&u.ID, &u.Email, &username, &u.Name, &u.Role, &tenantID, &u.TenantRole, &u.Status,
		&banReason, &banExpires, &banBy, &banAt, &u.SuspensionReason, &tags, &meta,
		&u.EmailVerified, &u.TokenVersion, &lastLogin, &created, &updated, &deleted,
		&u.StatusBeforeDelete, &u.PasswordHash, &loginReset)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, store.ErrNotFound
		}
		return nil, err
	}
	u.Username, u.TenantID = username.String, tenantID.String
	if banAt.Valid {
		u.Ban = &steward.Ban{
			Reason:    banReason.String,
			ExpiresAt: timePtr(banExpires),
			By:        banBy.String,
			At:        fromMicros(banAt.Int64),
		}
	}
	if err := json.Unmarshal([]byte(tags), &u.Tags); err != nil {
		return nil, fmt.Errorf("sqlite: user %s tags: %w", u.ID, err)
	}
	if u.Tags == nil {
		u.Tags = []string{}
	}
	if err := json.Unmarshal([]byte(meta), &u.Metadata); err != nil {
		return nil, fmt.Errorf("sqlite: user %s metadata: %w", u.ID, err)
	}
	if u.Metadata == nil {
		u.Metadata = map[string]any{}
	}
	u.LastLoginAt, u.DeletedAt, u.LoginResetAt = timePtr(lastLogin), timePtr(deleted), timePtr(loginReset)
	u.CreatedAt, u.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &u, nil
}

func (q queries) getUser(ctx context.Context, where string, arg any) (*steward.User, error) {
	u, err := scanUser(q.db.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users u WHERE "+where, arg))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("sqlite: get user: %w", err)
	}
	return u, err
}

func (q queries) GetUser(ctx context.Context, id string) (*steward.User, error) {
	return q.getUser(ctx, "u.id = ?", id)
}

func (q queries) GetUserByEmail(ctx context.Context, email string) (*steward.User, error) {
	return q.getUser(ctx, "u.email = ?", email)
}

func (q queries) GetUserByUsername(ctx context.Context, username string) (*steward.User, error) {
	if username == "" {
		return nil, store.ErrNotFound // stored as NULL, so never a match
	}
	return q.getUser(ctx, "u.username = ?", username)
}

// userQuery returns the FROM clause, WHERE conditions and arguments for f
// (Before and Limit aside), and the column that orders the result. Each
// single filter is a range scan of an index ending in id (see the migration),
// so rows come out in page order and LIMIT stops the scan early. plan says how
// a q of three or more characters is matched (see search.go); matches is the
// JSON array of rowids for searchListed.
func userQuery(f steward.UserFilter, plan searchPlan, matches string) (from, key string, where []string, args []any) {
	// With a list of matches to drive from, the other filters are checked
	// on those rows only: a unary + keeps SQLite from walking a filter's
	// index instead (which, for a status most users have, reads most of
	// the table), and the tag is a key lookup rather than the driving table.
	fromMatches := drivesFromMatches(f, plan)
	col := func(c string) string {
		if fromMatches {
			return "+" + c
		}
		return c
	}
	from, key = "users u", "u.id"
	if f.Tag != "" {
		if fromMatches {
			where = append(where, "EXISTS (SELECT 1 FROM user_tags t WHERE t.tag = ? AND t.user_id = u.id)")
		} else {
			// Drive from the (tag, user_id) key of the side table: already in id order.
			from, key = "user_tags t JOIN users u ON u.rowid = t.user_rowid", "t.user_id"
			where = append(where, "t.tag = ?")
		}
		args = append(args, f.Tag)
	}
	if f.Status != "" {
		where = append(where, col("u.status")+" = ?")
		args = append(args, string(f.Status))
	}
	if f.Role != "" {
		where = append(where, col("u.role")+" = ?")
		args = append(args, string(f.Role))
	}
	if len(f.Roles) > 0 {
		where = append(where, col("u.role")+" IN (?"+strings.Repeat(", ?", len(f.Roles)-1)+")")
		for _, r := range f.Roles {
			args = append(args, string(r))
		}
	}
	if f.TenantID != "" {
		where = append(where, col("u.tenant_id")+" = ?")
		args = append(args, f.TenantID)
	}
	if f.Q != "" {
		if searchesIndex(f.Q) {
			// The trigram index answers substring matches in a few index
			// lookups, where LIKE would read every row.
			switch plan {
			case searchFTS, searchSorted:
				where = append(where, "(u.rowid IN (SELECT rowid FROM users_fts WHERE users_fts MATCH ?) OR u.id = ?)")
				args = append(args, ftsPhrase(f.Q), f.Q)
			case searchListed:
				where = append(where, "(u.rowid IN (SELECT value FROM json_each(?)) OR u.id = ?)")
				args = append(args, matches, f.Q)
			case searchWalk:
				where = append(where, "(+u.rowid IN (SELECT rowid FROM users_fts WHERE users_fts MATCH ?) OR u.id = ?)")
				args = append(args, ftsPhrase(f.Q), f.Q)
			}
		} else {
			// Trigrams need three characters; short terms scan instead.
			p := "%" + likeEscape(f.Q) + "%"
			where = append(where, `(u.id = ? OR u.email LIKE ? ESCAPE '\' OR u.username LIKE ? ESCAPE '\' OR u.name LIKE ? ESCAPE '\')`)
			args = append(args, f.Q, p, p, p)
		}
	}
	return from, key, where, args
}

// ftsPhrase quotes s as one FTS5 phrase, so no character in it is syntax.
func ftsPhrase(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// likeEscape makes s match itself literally in a LIKE pattern with ESCAPE '\'.
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

func listUsersSQL(f steward.UserFilter, plan searchPlan, matches string) (string, []any) {
	from, key, where, args := userQuery(f, plan, matches)
	fromMatches := drivesFromMatches(f, plan)
	if f.Before != "" {
		if fromMatches {
			where = append(where, "+"+key+" < ?") // as in userQuery
		} else {
			where = append(where, key+" < ?")
		}
		args = append(args, f.Before)
	}
	args = append(args, limit(f.Limit))
	if fromMatches {
		// Sort the matches by id alone, then read the page's rows: sorting
		// whole rows decoded every column of every match.
		return "SELECT " + userColumns + " FROM users u WHERE u.rowid IN (SELECT u.rowid FROM " + from +
			whereClause(where) + " ORDER BY " + key + " DESC LIMIT ?) ORDER BY u.id DESC", args
	}
	query := "SELECT " + userColumns + " FROM " + from + whereClause(where) +
		" ORDER BY " + key + " DESC LIMIT ?"
	return query, args
}

func (q queries) ListUsers(ctx context.Context, f steward.UserFilter) ([]*steward.User, error) {
	var (
		users []*steward.User
		err   error
	)
	if searchesIndex(f.Q) {
		users, err = q.searchUsers(ctx, f)
	} else {
		query, args := listUsersSQL(f, searchFTS, "")
		users, err = queryUsers(ctx, q.db, query, args...)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: list users: %w", err)
	}
	return users, nil
}

func (q queries) CountUsers(ctx context.Context, f steward.UserFilter) (int64, error) {
	from, _, where, args := userQuery(f, searchFTS, "")
	if f.Tag != "" && len(where) == 1 {
		// Every user_tags row has its user, so the tag index alone can count.
		from = "user_tags t"
	}
	var n int64
	err := q.db.QueryRowContext(ctx, "SELECT count(*) FROM "+from+whereClause(where), args...).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("sqlite: count users: %w", err)
	}
	return n, nil
}

// banExpiredSQL spells out status = 'banned' so the small partial index
// applies, and names it: without statistics the planner would rather walk
// every banned user through (status, id) and sort them.
var banExpiredSQL = "SELECT " + userColumns + " FROM users u INDEXED BY users_ban_expires" +
	" WHERE u.status = 'banned' AND u.ban_expires_at <= ? ORDER BY u.ban_expires_at LIMIT ?"

func (q queries) ListUsersBanExpired(ctx context.Context, now time.Time, n int) ([]*steward.User, error) {
	users, err := queryUsers(ctx, q.db, banExpiredSQL, micros(now), limit(n))
	if err != nil {
		return nil, fmt.Errorf("sqlite: list expired bans: %w", err)
	}
	return users, nil
}

func queryUsers(ctx context.Context, db querier, query string, args ...any) ([]*steward.User, error) {
	return queryAll(ctx, db, scanUser, query, args...)
}

// queryAll runs query and scans every row with scan; never nil.
func queryAll[T any](ctx context.Context, db querier, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func (t *tx) CreateUser(ctx context.Context, u *steward.User) error {
	args, err := userArgs(u)
	if err != nil {
		return err
	}
	if _, err := t.tx.ExecContext(ctx, insertUserStmt, args...); err != nil {
		return fmt.Errorf("sqlite: create user: %w", mapError(err))
	}
	return nil
}

func (t *tx) UpdateUser(ctx context.Context, u *steward.User) error {
	args, err := userArgs(u)
	if err != nil {
		return err
	}
	args = append(args[1:], u.ID)
	if err := exactlyOne(t.tx.ExecContext(ctx, updateUserStmt, args...)); err != nil {
		return fmt.Errorf("sqlite: update user: %w", err)
	}
	return nil
}

func (t *tx) PurgeUser(ctx context.Context, id string) error {
	// Sessions go by ON DELETE CASCADE, tags and the search index by trigger.
	if err := exactlyOne(t.tx.ExecContext(ctx, "DELETE FROM users WHERE id = ?", id)); err != nil {
		return fmt.Errorf("sqlite: purge user: %w", err)
	}
	return nil
}

func whereClause(conds []string) string {
	if len(conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(conds, " AND ")
}

func micros(t time.Time) int64 { return t.UnixMicro() }

// nullMicros is NULL for a nil time.
func nullMicros(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMicro()
}

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

func timePtr(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicros(v.Int64)
	return &t
}

// nullString is NULL for "", so UNIQUE ignores users without the value.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}
