package api_test

import (
	"bytes"
	"encoding/csv"
	"slices"
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
)

// TestAuditExportCSVFormulas: an operator's reason is client text; in the
// CSV export it must not start a spreadsheet formula, while NDJSON keeps it
// exactly.
func TestAuditExportCSVFormulas(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		u := a.User(steward.RoleUser)
		reason := `=HYPERLINK("http://evil.example","x")`
		if r := a.Do("POST", "/api/v1/admin/users/"+u.ID+"/suspend", a.RootToken, map[string]any{"reason": reason}); r.Status != 200 {
			t.Fatalf("suspend: %d %s", r.Status, r.Body)
		}
		resp, raw := getAccept(t, a, "/api/v1/admin/audit-log/export?format=csv&action=user.suspend", a.RootToken, "")
		if resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, raw)
		}
		rows, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
		if err != nil || len(rows) != 2 {
			t.Fatalf("rows %v, err %v", rows, err)
		}
		col := slices.Index(rows[0], "reason")
		if col < 0 || rows[1][col] != "'"+reason {
			t.Fatalf("reason cell = %q (header %v)", rows[1][col], rows[0])
		}
		_, nd := getAccept(t, a, "/api/v1/admin/audit-log/export?format=ndjson&action=user.suspend", a.RootToken, "")
		if !bytes.Contains(nd, []byte(`"reason":"=HYPERLINK(`)) {
			t.Fatalf("ndjson lost the exact reason: %s", nd)
		}
	})
}
