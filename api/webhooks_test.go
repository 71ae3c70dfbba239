package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
	"github.com/stewardhq/steward/service"
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

// TestWebhookEndpoints: create answers 201 with a whk_ id and the whsec_
// secret, which no read shows again; list, get, patch (audited with its
// changes, a no-op not audited), rotate (a new secret, the old one kept
// for 24 hours) and delete; bad fields are 422 naming the field; no audit
// entry carries a secret.
func TestWebhookEndpoints(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		const base = "/api/v1/admin/webhooks"
		tok := a.RootToken
		for field, body := range map[string]map[string]any{
			"url":         {"url": "http://hooks.example.com/", "event_types": []string{"*"}},
			"event_types": {"url": "https://hooks.example.com/", "event_types": []string{"user.nope"}},
			"tenant_id":   {"url": "https://hooks.example.com/", "event_types": []string{"*"}, "tenant_id": "ten_missing"},
			"description": {"url": "https://hooks.example.com/", "event_types": []string{"*"}, "description": strings.Repeat("d", 501)},
		} {
			r := a.Do(http.MethodPost, base, tok, body)
			if r.Status != http.StatusUnprocessableEntity || r.Get("details.fields."+field) == nil {
				t.Errorf("bad %s: %d %s", field, r.Status, r.Raw)
			}
		}
		if r := a.Do(http.MethodPost, base, tok, map[string]any{"url": "https://hooks.example.com/", "event_types": []string{}}); r.Status != 422 {
			t.Errorf("no event types: %d %s", r.Status, r.Raw)
		}

		r := a.Do(http.MethodPost, base, tok, map[string]any{"url": "https://hooks.example.com/in",
			"event_types": []string{"user.*", "tenant.suspended", "user.*"}, "description": "product"})
		if r.Status != http.StatusCreated {
			t.Fatalf("create: %d %s", r.Status, r.Raw)
		}
		wid, _ := r.Get("id").(string)
		secret, _ := r.Get("secret").(string)
		if !strings.HasPrefix(wid, "whk_") || !strings.HasPrefix(secret, "whsec_") || r.Get("enabled") != true {
			t.Fatalf("create: %s", r.Raw)
		}
		if got := r.Get("event_types").([]any); len(got) != 2 {
			t.Errorf("event types not deduped: %v", got)
		}
		r = a.Do(http.MethodGet, base+"/"+wid, tok, nil)
		if r.Status != 200 || r.Get("secret") != nil || r.Get("url") != "https://hooks.example.com/in" {
			t.Errorf("get: %d %s", r.Status, r.Raw)
		}
		r = a.Do(http.MethodGet, base, tok, nil)
		if list, _ := r.Get("data").([]any); r.Status != 200 || len(list) != 1 || strings.Contains(string(r.Raw), "whsec_") {
			t.Errorf("list: %d %s", r.Status, r.Raw)
		}

		r = a.Do(http.MethodPatch, base+"/"+wid, tok, map[string]any{"enabled": false, "description": "product"})
		if r.Status != 200 || r.Get("enabled") != false {
			t.Fatalf("patch: %d %s", r.Status, r.Raw)
		}
		a.Do(http.MethodPatch, base+"/"+wid, tok, map[string]any{"enabled": false})
		updates, err := a.Store.ListAudit(apptest.System(), steward.AuditFilter{Action: "webhook.update", Limit: 10})
		if err != nil || len(updates) != 1 || string(updates[0].Changes) != `{"enabled":{"before":true,"after":false}}` {
			t.Errorf("webhook.update entries: %v %v", updates, err)
		}
		if r := a.Do(http.MethodPatch, base+"/"+wid, tok, map[string]any{"url": "https://10.0.0.1/"}); r.Get("details.fields.url") == nil {
			t.Errorf("patch to a private address: %d %s", r.Status, r.Raw)
		}

		r = a.Do(http.MethodPost, base+"/"+wid+"/rotate-secret", tok, nil)
		next, _ := r.Get("secret").(string)
		until, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(r.Get("previous_secret_until")))
		if r.Status != 200 || !strings.HasPrefix(next, "whsec_") || next == secret || !until.Equal(a.Clock.Now().Add(24*time.Hour)) {
			t.Errorf("rotate: %d %s", r.Status, r.Raw)
		}
		e, err := a.Store.GetWebhookEndpoint(apptest.System(), wid)
		if err != nil || e.SigningSecret != next || e.PreviousSecret != secret {
			t.Errorf("stored secrets after a rotation: %+v %v", e, err)
		}

		if r := a.Do(http.MethodDelete, base+"/"+wid, tok, nil); r.Status != 200 || r.Get("id") != wid {
			t.Errorf("delete: %d %s", r.Status, r.Raw)
		}
		if r := a.Do(http.MethodGet, base+"/"+wid, tok, nil); r.Status != 404 {
			t.Errorf("get after delete: %d", r.Status)
		}
		entries, _ := a.Store.ListAudit(apptest.System(), steward.AuditFilter{TargetID: wid, Limit: 20})
		if len(entries) != 4 { // create, update, rotate, delete
			t.Errorf("%d audit entries for the endpoint, want 4", len(entries))
		}
		for _, en := range entries {
			if strings.Contains(string(en.Changes)+string(en.Metadata), "whsec_") {
				t.Errorf("audit entry %s carries a secret", en.Action)
			}
		}
	})
}

// TestWebhookLoopbackSetting: http to a loopback receiver is accepted only
// with the insecure setting.
func TestWebhookLoopbackSetting(t *testing.T) {
	body := map[string]any{"url": "http://127.0.0.1:9/hook", "event_types": []string{"*"}}
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		if r := a.Do(http.MethodPost, "/api/v1/admin/webhooks", a.RootToken, body); r.Status != 422 {
			t.Errorf("loopback without the setting: %d %s", r.Status, r.Raw)
		}
	})
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		if r := a.Do(http.MethodPost, "/api/v1/admin/webhooks", a.RootToken, body); r.Status != 201 {
			t.Errorf("loopback with the setting: %d %s", r.Status, r.Raw)
		}
	}, apptest.Options{Service: func(c *service.Config) { c.Webhooks.AllowInsecure = true }})
}

// TestWebhookReplayRequest: replay takes since and an optional until
// (RFC 3339); until before since is 422 naming until, a missing since 422
// naming since; a good range answers the endpoint.
func TestWebhookReplayRequest(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		tok := a.RootToken
		r := a.Do(http.MethodPost, "/api/v1/admin/webhooks", tok, map[string]any{"url": "https://hooks.example.com/in",
			"event_types": []string{"*"}})
		wid, _ := r.Get("id").(string)
		path := "/api/v1/admin/webhooks/" + wid + "/replay"
		for field, body := range map[string]map[string]any{
			"until": {"since": "2026-03-02T00:00:00Z", "until": "2026-03-01T00:00:00Z"},
			"since": {"until": "2026-03-01T00:00:00Z"},
		} {
			if r := a.Do(http.MethodPost, path, tok, body); r.Status != http.StatusUnprocessableEntity || r.Get("details.fields."+field) == nil {
				t.Errorf("bad %s: %d %s", field, r.Status, r.Raw)
			}
		}
		r = a.Do(http.MethodPost, path, tok, map[string]any{"since": "2026-03-01T00:00:00Z", "until": "2026-03-02T00:00:00Z"})
		if r.Status != 200 || r.Get("id") != wid {
			t.Errorf("replay of a range: %d %s", r.Status, r.Raw)
		}
	})
}
