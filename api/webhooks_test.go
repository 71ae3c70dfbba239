package api_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stewardhq/steward/internal/apptest"
)

// TestWebhookEventTypes: the catalogue lists each type once, sorted, with
// its action and an example payload of that type.
func TestWebhookEventTypes(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		r := a.Do(http.MethodGet, "/api/v1/admin/webhooks/event-types", a.RootToken, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("status %d: %s", r.Status, r.Raw)
		}
		var body struct {
			Data []struct {
				Type, Action string
				Example      json.RawMessage
			}
		}
		if err := json.Unmarshal(r.Raw, &body); err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		prev := ""
		for _, et := range body.Data {
			if seen[et.Type] || et.Type < prev {
				t.Errorf("type %s repeated or out of order", et.Type)
			}
			seen[et.Type], prev = true, et.Type
			var ex struct {
				Type string
				Data struct{ Action string }
			}
			if err := json.Unmarshal(et.Example, &ex); err != nil || ex.Type != et.Type || ex.Data.Action != et.Action {
				t.Errorf("%s: example %s", et.Type, et.Example)
			}
		}
		for _, want := range []string{"user.suspended", "tenant.suspended", "credits.granted", "api_key.revoked"} {
			if !seen[want] {
				t.Errorf("catalogue lacks %s", want)
			}
		}
	})
}
