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
		query, args := listUsersSQL(tc.f)
		plan := explain(t, s, query, args...)
		if !strings.Contains(plan, tc.index) || strings.Contains(plan, "TEMP B-TREE") || strings.Contains(plan, "SCAN u ") {
			t.Errorf("%+v: plan %q, want a search of %s and no sort", tc.f, plan, tc.index)
		}
	}

	query, args := listUsersSQL(steward.UserFilter{Q: "example"})
	if plan := explain(t, s, query, args...); !strings.Contains(plan, "users_fts") {
		t.Errorf("q plan %q does not use the trigram index", plan)
	}
	for _, tc := range []struct {
		f     steward.AuditFilter
		index string
	}{
		{steward.AuditFilter{BeforeSeq: 100}, "INTEGER PRIMARY KEY"},
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
		"something else": "",
	} {
		if got := constraintColumn(msg); got != want {
			t.Errorf("constraintColumn(%q) = %q, want %q", msg, got, want)
		}
	}
}
