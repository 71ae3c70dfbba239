package api_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
	"github.com/stewardhq/steward/internal/testdb"
	"github.com/stewardhq/steward/service"
)

// actionSecret signs the test actions' calls.
const actionSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// authzAction is the action the authorization matrix runs: support may.
const authzAction = "authz_probe"

// authzActions configures authzAction against a product that answers
// {"ok":true}.
func authzActions(t *testing.T) apptest.Options {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(srv.Close)
	return apptest.Options{Service: func(c *service.Config) {
		c.Webhooks.AllowInsecure = true
		c.Actions = append(c.Actions, steward.AdminAction{Name: authzAction, Target: "user", MinRole: steward.RoleSupport,
			URL: srv.URL, Secret: actionSecret})
	}}
}

// TestActionsOverHTTP: GET /admin/actions lists what the caller's role
// may run, by target, without URL or secret; POST runs one and answers the
// product's JSON byte for byte; refusals are their codes and statuses
// (404, 403, 400, 422, 502 with details); the audit log shows the run
// with its payload.
func TestActionsOverHTTP(t *testing.T) {
	for _, b := range testdb.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			actionsOverHTTP(t, b)
		})
	}
}

// actionsOverHTTP runs TestActionsOverHTTP on one backend, with its own
// product.
func actionsOverHTTP(t *testing.T, b testdb.Backend) {
	var answer atomic.Value
	answer.Store(`{"refunded": 3, "order": {"id": "ord_9"}}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		a := answer.Load().(string)
		if strings.HasPrefix(a, "500 ") {
			http.Error(w, a[4:], http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, a)
	}))
	t.Cleanup(srv.Close)
	opts := apptest.Options{Service: func(c *service.Config) {
		c.Webhooks.AllowInsecure = true
		c.Actions = []steward.AdminAction{
			{Name: "lookup", Label: "Look up", Target: "user", MinRole: steward.RoleSupport, ReadOnly: true, URL: srv.URL, Secret: actionSecret},
			{Name: "refund", Label: "Refund", Target: "orders", URL: srv.URL + "/refund", Secret: actionSecret},
			{Name: "wipe", Target: "tenant", MinRole: steward.RoleOwner, URL: srv.URL, Secret: actionSecret},
		}
	}}
	a := apptest.New(t, b, opts)
	_, support := a.Operator(steward.RoleSupport)
	_, admin := a.Operator(steward.RoleAdmin)
	u := a.User(steward.RoleUser)

	r := a.Do("GET", "/api/v1/admin/actions", support, nil)
	if r.Status != 200 || field(r, "targets.user.0.name") != "lookup" || field(r, "targets.user.0.label") != "Look up" ||
		field(r, "targets.user.0.min_role") != "support" || field(r, "targets.user.0.read_only") != true ||
		field(r, "targets.orders") != nil || field(r, "targets.tenant") != nil {
		t.Fatalf("support's actions: %d %s", r.Status, r.Raw)
	}
	r = a.Do("GET", "/api/v1/admin/actions", a.RootToken, nil)
	if r.Status != 200 || field(r, "targets.orders.0.name") != "refund" || field(r, "targets.tenant.0.name") != "wipe" ||
		strings.Contains(string(r.Raw), srv.URL) || strings.Contains(string(r.Raw), "whsec_") {
		t.Fatalf("root's actions: %d %s", r.Status, r.Raw)
	}

	r = a.Do("POST", "/api/v1/admin/actions/refund", admin, M{"target_id": "ord_9", "payload": M{"amount": 3}})
	if r.Status != 200 || string(r.Raw) != `{"refunded": 3, "order": {"id": "ord_9"}}`+"\n" ||
		!strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("run: %d %q", r.Status, r.Raw)
	}
	r = a.Do("GET", "/api/v1/admin/audit-log?action=action.run", admin, nil)
	if r.Status != 200 || field(r, "data.0.target_type") != "orders" || field(r, "data.0.target_id") != "ord_9" ||
		field(r, "data.0.metadata.action") != "refund" || field(r, "data.0.metadata.payload.amount") != 3.0 {
		t.Fatalf("audit: %d %s", r.Status, r.Raw)
	}

	for _, c := range []struct {
		name, token, action string
		body                any
		status              int
		code, detail        string
	}{
		{"unknown action", admin, "nope", M{"target_id": u.ID}, 404, steward.CodeActionNotFound, "details.action"},
		{"role below min_role", support, "refund", M{"target_id": "ord_1"}, 403, steward.CodeInsufficientRole, "details.min_role"},
		{"missing user", support, "lookup", M{"target_id": "usr_nope"}, 404, steward.CodeNotFound, ""},
		{"no target_id", admin, "refund", M{"payload": M{}}, 422, steward.CodeValidation, "details.fields.target_id"},
		{"array payload", admin, "refund", M{"target_id": "ord_1", "payload": []int{1}}, 422, steward.CodeValidation, "details.fields.payload"},
		{"unknown field", admin, "refund", M{"target_id": "ord_1", "colour": "red"}, 400, steward.CodeBadRequest, "details.fields.colour"},
		{"no body", admin, "refund", nil, 400, steward.CodeBadRequest, ""},
		{"bad name", admin, "Bad%00Name", M{"target_id": "ord_1"}, 404, steward.CodeNotFound, ""},
	} {
		r := a.Do("POST", "/api/v1/admin/actions/"+c.action, c.token, c.body)
		if r.Status != c.status || (c.code != "" && field(r, "code") != c.code) || (c.detail != "" && field(r, c.detail) == nil) {
			t.Errorf("%s: %d %s, want %d %s with %s", c.name, r.Status, r.Raw, c.status, c.code, c.detail)
		}
	}

	answer.Store("500 the refund service is down")
	r = a.Do("POST", "/api/v1/admin/actions/refund", admin, M{"target_id": "ord_9"})
	if r.Status != 502 || field(r, "code") != steward.CodeActionFailed || field(r, "details.status") != 500.0 ||
		!strings.Contains(field(r, "details.response").(string), "the refund service is down") {
		t.Errorf("failed product: %d %s", r.Status, r.Raw)
	}
	answer.Store(`not json`)
	r = a.Do("POST", "/api/v1/admin/actions/lookup", support, M{"target_id": u.ID})
	if r.Status != 502 || field(r, "code") != steward.CodeActionFailed || !strings.Contains(field(r, "details.error").(string), "JSON object") {
		t.Errorf("non-JSON answer: %d %s", r.Status, r.Raw)
	}
}
