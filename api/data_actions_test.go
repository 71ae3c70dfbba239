package api_test

import (
	"fmt"
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
	"github.com/stewardhq/steward/service"
)

// TestDataSchemaListsActions: the schema document lists, with each table,
// the custom admin actions the caller's role may run on it, and at the top
// those on users and tenants; an action above the caller's role is left
// out, and no URL or secret is ever shown.
func TestDataSchemaListsActions(t *testing.T) {
	actions := apptest.Options{Service: func(c *service.Config) {
		for _, a := range []steward.AdminAction{
			{Name: "refund-order", Label: "Refund", Target: "orders", MinRole: steward.RoleSupport},
			{Name: "wipe-order", Target: "orders", MinRole: steward.RoleOwner},
			{Name: "resend-welcome", Target: "user", MinRole: steward.RoleSupport, ReadOnly: true},
			{Name: "rebuild-index", Target: "tenant", MinRole: steward.RoleAdmin},
		} {
			a.URL, a.Secret, a.Timeout = "https://product.example.com/actions", actionSecret, 1000
			c.Actions = append(c.Actions, a)
		}
	}}
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		f, ops := newFix(t, a), newDataOps(t, a)
		names := func(v any) []string {
			var out []string
			for _, x := range v.([]any) {
				m := x.(map[string]any)
				if m["url"] != nil || m["secret"] != nil {
					t.Errorf("action shown with its url or secret: %v", m)
				}
				out = append(out, m["name"].(string))
			}
			return out
		}
		for _, c := range []struct {
			tok, orders, top string
		}{
			{ops.support, "[refund-order]", "[resend-welcome]"},
			{ops.admin, "[refund-order]", "[resend-welcome rebuild-index]"},
			{ops.owner, "[refund-order wipe-order]", "[resend-welcome rebuild-index]"},
		} {
			r := f.must(200, "GET", dataBase+"schema", c.tok, nil)
			var orders []string
			for _, tb := range r.Get("tables").([]any) {
				if m := tb.(map[string]any); m["name"] == "orders" {
					orders = names(m["actions"])
				}
			}
			if got := fmt.Sprint(orders); got != c.orders {
				t.Errorf("orders' actions %s, want %s", got, c.orders)
			}
			if got := fmt.Sprint(names(r.Get("actions"))); got != c.top {
				t.Errorf("user and tenant actions %s, want %s", got, c.top)
			}
		}
	}, withData(nil), actions)
}
