package sqlite

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stewardhq/steward"
)

func TestZZScale(t *testing.T) {
	path := os.Getenv("SCALE_DB")
	if path == "" {
		t.Skip()
	}
	ctx := context.Background()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var n int64
	s.reader.QueryRow("SELECT count(*) FROM users").Scan(&n)
	if n == 0 {
		start := time.Now()
		_, err := s.writer.Exec(`
WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM c WHERE n < 1000000)
INSERT INTO users (id, email, username, name, role, tenant_id, status, tags, metadata, created_at, updated_at)
SELECT printf('usr_%020d', n),
       printf('user%d@example%d.com', n, n % 100),
       CASE WHEN n % 3 = 0 THEN printf('handle%d', n) END,
       printf('%s %s', substr('AdaGraceAlanLinusKenDennisBarbaraMargaretEdsgerDonald', 1 + (n*7) % 40, 5), substr('LovelaceHopperTuringTorvaldsThompsonRitchieLiskovHamiltonDijkstraKnuth', 1 + (n*13) % 60, 7)) || n,
       CASE WHEN n % 1000 = 0 THEN 'admin' ELSE 'user' END,
       printf('ten_%d', n % 1000),
       CASE WHEN n % 100 < 90 THEN 'active' WHEN n % 100 < 95 THEN 'suspended' WHEN n % 100 < 99 THEN 'banned' ELSE 'deleted' END,
       CASE WHEN n % 10 = 0 THEN '["vip"]' WHEN n % 100 = 1 THEN '["beta"]' ELSE '[]' END,
       '{}', n, n
FROM c`)
		if err != nil {
			t.Fatal(err)
		}
		s.writer.Exec("ANALYZE")
		t.Logf("insert 1M: %v", time.Since(start))
	}
	mid := fmt.Sprintf("usr_%020d", 500000)
	for _, f := range []steward.UserFilter{
		{}, {Before: mid},
		{Status: steward.StatusBanned}, {Status: steward.StatusBanned, Before: mid},
		{Role: steward.RoleAdmin, Before: mid},
		{Roles: []steward.Role{steward.RoleAdmin, steward.RoleOwner}, Before: mid},
		{TenantID: "ten_7", Before: mid},
		{Tag: "vip", Before: mid}, {Tag: "beta", Before: mid},
		{Tag: "vip", Status: steward.StatusActive, Before: mid},
		{Q: "user123456@"}, {Q: "handle99999"}, {Q: "lovelace12345"}, {Q: "usr_00000000000000123456"},
		{Q: "example7.com"}, {Q: "example7.com", Before: mid},
		{Q: "zz"}, {Q: "ab"},
		{Q: "user77", Status: steward.StatusActive},
		{Q: "example.com"},
	} {
		query, args := listUsersSQL(f)
		rows, _ := s.reader.Query("EXPLAIN QUERY PLAN "+query, args...)
		var plan []string
		for rows.Next() {
			var a, b, c int
			var d string
			rows.Scan(&a, &b, &c, &d)
			plan = append(plan, d)
		}
		rows.Close()
		start := time.Now()
		var got []*steward.User
		for range 5 {
			got, err = s.ListUsers(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
		}
		list := time.Since(start) / 5
		start = time.Now()
		c, _ := s.CountUsers(ctx, f)
		count := time.Since(start)
		t.Logf("%+v: list %v (%d rows) count %v (%d)\n    %v", f, list, len(got), count, c, plan)
	}
}
