package api_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
)

// Verify over HTTP says where it walked from: seq 1 and no anchor, then,
// after a run purged the oldest entries, the anchor the run answered and
// the seq after it, where the list and the export now start too.
func TestAuditVerifyFromTheAnchorOverHTTP(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		_, support := a.Operator(steward.RoleSupport)
		const verify = "/api/v1/admin/audit-log/verify"
		v := a.Do("GET", verify, support, nil)
		if v.Status != 200 || v.Get("ok") != true || v.Get("from_seq") != float64(1) || v.Get("anchor") != nil || !strings.Contains(string(v.Raw), `"anchor":null`) {
			t.Fatalf("verify before any purge: %d %s", v.Status, v.Raw)
		}
		if r := a.Do("PUT", "/api/v1/admin/retention", a.RootToken, map[string]any{"audit_log": 2}); r.Status != 200 || r.Get("audit_log") != float64(2) {
			t.Fatalf("PUT retention: %d %s", r.Status, r.Raw)
		}
		a.Clock.Advance(3 * 24 * time.Hour)
		a.User(steward.RoleUser) // a young entry
		r := a.Do("POST", "/api/v1/admin/retention/run", a.RootToken, nil)
		seq, _ := r.Get("tables.audit_log.anchor.seq").(float64)
		hash, _ := r.Get("tables.audit_log.anchor.hash").(string)
		if r.Status != 200 || seq < 3 || hash == "" || r.Get("tables.audit_log.purged") != seq {
			t.Fatalf("POST run: %d %s", r.Status, r.Raw)
		}
		v = a.Do("GET", verify, support, nil)
		if v.Status != 200 || v.Get("ok") != true || v.Get("from_seq") != seq+1 || v.Get("anchor.seq") != seq ||
			v.Get("anchor.hash") != hash || v.Get("anchor.at") != a.Clock.Now().Format(time.RFC3339) {
			t.Fatalf("verify after the purge: %d %s", v.Status, v.Raw)
		}
		l := a.Do("GET", "/api/v1/admin/audit-log?limit=200", support, nil)
		data, _ := l.Get("data").([]any)
		if l.Status != 200 || len(data) == 0 || data[len(data)-1].(map[string]any)["seq"] != seq+1 {
			t.Fatalf("the list's oldest entry: %d %s", l.Status, l.Raw)
		}
		e := a.Do("GET", "/api/v1/admin/audit-log/export?format=ndjson", a.RootToken, nil)
		var first steward.AuditEntry
		line, _, _ := strings.Cut(string(e.Raw), "\n")
		if err := json.Unmarshal([]byte(line), &first); err != nil || e.Status != 200 || first.Seq != int64(seq)+1 {
			t.Fatalf("the export's first entry: %d %s (%v)", e.Status, line, err)
		}
	})
}
