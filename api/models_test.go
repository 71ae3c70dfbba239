package api_test

import (
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
	"github.com/stewardhq/steward/service"
)

// modelCatalogue configures large-2 (default), small-1 and the disabled
// old-0.
func modelCatalogue() apptest.Options {
	return apptest.Options{Service: func(c *service.Config) {
		c.Models = []*steward.Model{
			{ID: "large-2", Name: "Large 2", Provider: "acme", ContextWindow: 200_000,
				InputMicrosPerMtok: 3_000_000, OutputMicrosPerMtok: 15_000_000, Enabled: true, Default: true},
			{ID: "small-1", Name: "Small 1", Provider: "acme", ContextWindow: 32_000, Enabled: true},
			{ID: "old-0", Name: "Old 0", Provider: "legacy", ContextWindow: 8_000},
		}
	}}
}

// TestModelScenario: over HTTP, an operator reads the catalogue and the
// status, switches (the product's platform read and the audit log follow),
// and is refused a disabled or unknown model with 422 naming model_id and
// listing the enabled ids; a usage event naming a model is priced.
func TestModelScenario(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		_, owner := a.Operator(steward.RoleOwner)
		adm := a.User(steward.RoleAdmin)
		pk, err := a.Svc.Keys.CreateKey(apptest.System(), &steward.KeyCreate{Name: "router", Type: steward.KeyPlatform, UserID: adm.ID,
			Purpose: "optimal", Scopes: []steward.Permission{steward.PermModelsRead, steward.PermUsageWrite}})
		if err != nil {
			t.Fatal(err)
		}
		r := a.Do("GET", "/api/v1/admin/optimal/models", owner, nil)
		if r.Status != 200 || field(r, "data.0.id") != "large-2" || field(r, "data.0.default") != true || field(r, "data.2.enabled") != false ||
			field(r, "data.0.input_micros_per_mtok") != float64(3_000_000) {
			t.Fatalf("models: %d %s", r.Status, r.Raw)
		}
		r = a.Do("GET", "/api/v1/admin/optimal/status", owner, nil)
		if r.Status != 200 || field(r, "active.model_id") != "large-2" || field(r, "active.switched_by.type") != "system" ||
			field(r, "healthy") != true || field(r, "default_model") != "large-2" {
			t.Fatalf("status: %d %s", r.Status, r.Raw)
		}
		for _, id := range []string{"old-0", "nope"} {
			r = a.Do("POST", "/api/v1/admin/optimal/models/switch", owner, map[string]any{"model_id": id})
			if r.Status != 422 || field(r, "code") != steward.CodeValidation || field(r, "details.fields.model_id") == nil ||
				field(r, "details.enabled_models.1") != "small-1" {
				t.Fatalf("switch to %s: %d %s", id, r.Status, r.Raw)
			}
		}
		r = a.Do("POST", "/api/v1/admin/optimal/models/switch", owner, map[string]any{"model_id": "small-1", "reason": "cost", "colour": 1})
		if r.Status != 400 && r.Status != 422 {
			t.Fatalf("an unknown body field: %d %s", r.Status, r.Raw)
		}
		r = a.Do("POST", "/api/v1/admin/optimal/models/switch", owner, map[string]any{"model_id": "small-1", "reason": "cost"})
		if r.Status != 200 || field(r, "active.model_id") != "small-1" || field(r, "active.switched_by.type") != "operator" {
			t.Fatalf("switch: %d %s", r.Status, r.Raw)
		}
		r = a.Do("GET", "/api/v1/platform/models/active", pk.Key, nil)
		if r.Status != 200 || field(r, "active.model_id") != "small-1" || field(r, "active.model.context_window") != float64(32_000) {
			t.Fatalf("platform read after the switch: %d %s", r.Status, r.Raw)
		}
		r = a.Do("GET", "/api/v1/admin/audit-log?action=model.switch", owner, nil)
		if r.Status != 200 || field(r, "data.0.target_id") != "small-1" || field(r, "data.0.reason") != "cost" || field(r, "data.1.target_id") != "large-2" {
			t.Fatalf("audit: %d %s", r.Status, r.Raw)
		}
		a.EnsureTenant(t, "priced")
		r = a.Do("POST", "/api/v1/platform/usage", pk.Key, map[string]any{"events": []map[string]any{{"id": "e1", "tenant_id": "priced",
			"metric": "output_tokens", "model": "large-2", "quantity": 2000, "occurred_at": a.Clock.Now()}}})
		if r.Status != 200 || field(r, "recorded") != float64(1) {
			t.Fatalf("usage: %d %s", r.Status, r.Raw)
		}
		if ev, err := a.Store.GetUsageEvent(t.Context(), "priced", "e1"); err != nil || ev.CostMicros != 30_000 {
			t.Fatalf("usage event priced %v, %v; want cost_micros 30000 (2000 × 15,000,000 / 1e6)", ev, err)
		}
	}, modelCatalogue())
}

// field is a field of r's body by dotted path, array indices included.
func field(r *apptest.Response, path string) any {
	v, _ := lookup(r.Body, path)
	return v
}
