package steward_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stewardhq/steward"
)

// TestAuditEntryPendingJSON: a pending entry shows seq, prev_hash and hash
// as null and "pending": true; a sealed one shows its values and no
// "pending", held by pointer or by value.
func TestAuditEntryPendingJSON(t *testing.T) {
	pending := steward.AuditEntry{ID: "aud_1", Action: "user.ban", Pending: true}
	sealed := steward.AuditEntry{ID: "aud_2", Seq: 7, PrevHash: "aa", Hash: "bb", Action: "user.ban"}
	for _, v := range []any{pending, &pending} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"seq", "prev_hash", "hash"} {
			if v, ok := m[k]; !ok || v != nil {
				t.Errorf("pending %s = %v (present %v), want null: %s", k, v, ok, b)
			}
		}
		if m["pending"] != true || m["id"] != "aud_1" || m["action"] != "user.ban" {
			t.Errorf("pending entry = %s", b)
		}
	}
	for _, v := range []any{sealed, &sealed} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if s := string(b); strings.Contains(s, `"pending"`) || !strings.Contains(s, `"seq":7`) || !strings.Contains(s, `"hash":"bb"`) {
			t.Errorf("sealed entry = %s", s)
		}
	}
}
