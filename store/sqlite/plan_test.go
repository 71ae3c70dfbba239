package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stewardhq/steward"
)

// TestListPlans pins the property the indexes exist for: each filter alone is
// a range scan already in page order, so no page sorts its matches and a
// deep page costs what the first one does.
func TestListPlans(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "plan.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	const before = "usr_5"
	for _, tc := range []struct {
		f     steward.UserFilter
		index string
	}{
		{steward.UserFilter{Before: before}, "sqlite_autoindex_users_1"},
		{steward.UserFilter{Status: steward.StatusBanned, Before: before}, "users_status_id"},
		{steward.UserFilter{Role: steward.RoleAdmin, Before: before}, "users_role_id"},
		{steward.UserFilter{TenantID: "ten_1", Before: before}, "users_tenant_id"},
		{steward.UserFilter{Tag: "vip", Before: before}, "PRIMARY KEY"},
	} {
		query, args := listUsersSQL(tc.f, searchFTS, "")
		plan := explain(t, s, query, args...)
		if !strings.Contains(plan, tc.index) || strings.Contains(plan, "TEMP B-TREE") || strings.Contains(plan, "SCAN u ") {
			t.Errorf("%+v: plan %q, want a search of %s and no sort", tc.f, plan, tc.index)
		}
		// A common search term walks the same index, keeping the matches.
		tc.f.Q = "example"
		query, args = listUsersSQL(tc.f, searchWalk, "")
		plan = explain(t, s, query, args...)
		if !strings.Contains(plan, tc.index) || strings.Contains(plan, "TEMP B-TREE") || strings.Contains(plan, "SCAN u ") ||
			!strings.Contains(plan, "users_fts") {
			t.Errorf("%+v, walk: plan %q, want a search of %s probing the trigram index, and no sort", tc.f, plan, tc.index)
		}
	}
	// The same walk without a cursor scans the id index newest first.
	query, args := listUsersSQL(steward.UserFilter{Q: "example"}, searchWalk, "")
	if plan := explain(t, s, query, args...); !strings.Contains(plan, "SCAN u USING INDEX sqlite_autoindex_users_1") ||
		strings.Contains(plan, "TEMP B-TREE") {
		t.Errorf("q walk plan %q, want a scan of the id index and no sort", plan)
	}
	// A rare one, and a count, start from the matches.
	query, args = listUsersSQL(steward.UserFilter{Q: "example"}, searchFTS, "")
	if plan := explain(t, s, query, args...); !strings.Contains(plan, "users_fts") {
		t.Errorf("q plan %q does not use the trigram index", plan)
	}
	// Listed or sorted matches drive the query, whatever the other filters.
	for _, f := range []steward.UserFilter{
		{Q: "example"},
		{Q: "example", Status: steward.StatusActive, Before: before},
		{Q: "example", Tag: "vip", TenantID: "ten_1", Before: before},
	} {
		query, args = listUsersSQL(f, searchListed, "[1,2]")
		if plan := explain(t, s, query, args...); !strings.Contains(plan, "MULTI-INDEX OR") || !strings.Contains(plan, "json_each") ||
			!strings.Contains(plan, "SEARCH u USING INTEGER PRIMARY KEY (rowid=?)") || strings.Contains(plan, "users_fts") {
			t.Errorf("%+v: plan for listed matches %q, want rowid lookups", f, plan)
		}
		query, args = listUsersSQL(f, searchSorted, "")
		if plan := explain(t, s, query, args...); !strings.Contains(plan, "MULTI-INDEX OR") || !strings.Contains(plan, "users_fts") ||
			!strings.Contains(plan, "SEARCH u USING INTEGER PRIMARY KEY (rowid=?)") {
			t.Errorf("%+v: plan for sorted matches %q, want rowid lookups", f, plan)
		}
	}
	// newestPage's check and the rowid where a page starts read the id index.
	for _, tc := range []struct {
		query string
		args  []any
	}{
		{outOfOrderSQL, []any{before, 1, 2}},
		{outOfOrderBeforeSQL, []any{"usr_1", before, 1, 2}},
		{rowidBeforeSQL, []any{before}},
	} {
		if plan := explain(t, s, tc.query, tc.args...); !strings.Contains(plan, "COVERING INDEX sqlite_autoindex_users_1 (id") {
			t.Errorf("%s: plan %q, want a search of the id index", tc.query, plan)
		}
	}
	for _, tc := range []struct {
		f     steward.AuditFilter
		index string
	}{
		{steward.AuditFilter{BeforeSeq: 100}, "audit_seq"},
		{steward.AuditFilter{SealedOnly: true}, "audit_seq"},
		{steward.AuditFilter{ActorID: "usr_1", BeforeSeq: 100}, "audit_actor"},
		{steward.AuditFilter{Action: "user.ban", BeforeSeq: 100}, "audit_action"},
		{steward.AuditFilter{TargetType: "user", TargetID: "usr_1", BeforeSeq: 100}, "audit_target"},
		{steward.AuditFilter{TenantID: "ten_1", BeforeSeq: 100}, "audit_tenant"},
	} {
		query, args := listAuditSQL(tc.f)
		plan := explain(t, s, query, args...)
		if !strings.Contains(plan, tc.index) || strings.Contains(plan, "TEMP B-TREE") {
			t.Errorf("%+v: plan %q, want a search of %s and no sort", tc.f, plan, tc.index)
		}
	}

	if plan := explain(t, s, banExpiredSQL, 0, 10); !strings.Contains(plan, "users_ban_expires") || strings.Contains(plan, "TEMP B-TREE") {
		t.Errorf("expired bans plan %q, want the partial index", plan)
	}
}

func explain(t *testing.T, s *Store, query string, args ...any) string {
	t.Helper()
	rows, err := s.reader.Query("EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var steps []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		steps = append(steps, detail)
	}
	return strings.Join(steps, "; ")
}

func TestConstraintColumn(t *testing.T) {
	for msg, want := range map[string]string{
		"constraint failed: UNIQUE constraint failed: users.email (2067)":                      "email",
		"constraint failed: UNIQUE constraint failed: audit_log.seq (1555)":                    "seq",
		"UNIQUE constraint failed: sessions.token_hash":                                        "token_hash",
		"constraint failed: UNIQUE constraint failed: user_tags.tag, user_tags.user_id (1555)": "tag",
		// Composite indexes named in compositeFields.
		"constraint failed: UNIQUE constraint failed: credit_entries.tenant_id, credit_entries.idempotency_key (2067)": "idempotency_key",
		"constraint failed: UNIQUE constraint failed: credit_entries.tenant_id, credit_entries.seq (2067)":             "seq",
		"constraint failed: UNIQUE constraint failed: usage_events.tenant_id, usage_events.id (1555)":                  "id",
		"something else": "",
	} {
		if got := constraintColumn(msg); got != want {
			t.Errorf("constraintColumn(%q) = %q, want %q", msg, got, want)
		}
	}
}
