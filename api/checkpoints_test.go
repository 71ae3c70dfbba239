package api_test

import (
	"strings"
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
)

// The HTTP side of checkpoints: an admin signs the head, support lists it,
// and once the newest rows are deleted from the database, verify answers
// ok=false naming the checkpoint, and a new checkpoint is refused.
func TestAuditCheckpointsOverHTTP(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		_, admin := a.Operator(steward.RoleAdmin)
		_, support := a.Operator(steward.RoleSupport)
		const path = "/api/v1/admin/audit-log/checkpoints"
		if r := a.Do("POST", path, support, nil); r.Status != 403 || r.Get("details.required_permission") != "audit:checkpoint" {
			t.Fatalf("support signs: %d %s", r.Status, r.Raw)
		}
		r := a.Do("POST", path, admin, nil)
		if r.Status != 201 {
			t.Fatalf("admin signs: %d %s", r.Status, r.Raw)
		}
		id, _ := r.Get("id").(string)
		seq, _ := r.Get("seq").(float64)
		if !strings.HasPrefix(id, "ckp_") || seq < 3 || r.Get("key_id") == "" || strings.Count(r.Get("signature").(string), ".") != 2 {
			t.Fatalf("checkpoint %s", r.Raw)
		}
		l := a.Do("GET", path+"?include_total=true", support, nil)
		data, _ := l.Get("data").([]any)
		if l.Status != 200 || l.Get("total") != float64(1) || len(data) != 1 || data[0].(map[string]any)["id"] != id {
			t.Fatalf("list: %d %s", l.Status, l.Raw)
		}
		v := a.Do("GET", "/api/v1/admin/audit-log/verify", support, nil)
		if v.Status != 200 || v.Get("ok") != true || v.Get("checkpoints") != float64(1) || v.Get("latest_checkpoint.id") != id {
			t.Fatalf("verify: %d %s", v.Status, v.Raw)
		}

		q := "DELETE FROM audit_log WHERE seq >= ?"
		if a.Backend.Name == "postgres" {
			q = "DELETE FROM audit_log WHERE seq >= $1"
		}
		a.Backend.Exec(t, a.Store, q, int64(seq)-1)
		v = a.Do("GET", "/api/v1/admin/audit-log/verify", support, nil)
		reason, _ := v.Get("first_break.reason").(string)
		if v.Status != 200 || v.Get("ok") != false || v.Get("first_break.checkpoint_id") != id ||
			v.Get("first_break.seq") != seq-1 || !strings.Contains(reason, "deleted") {
			t.Fatalf("verify after the cut: %d %s", v.Status, v.Raw)
		}
		if r := a.Do("POST", path, admin, nil); r.Status != 409 || r.Get("code") != steward.CodeInvalidState || r.Get("details.checkpoint_id") != id {
			t.Fatalf("signing a cut chain: %d %s", r.Status, r.Raw)
		}
	})
}
