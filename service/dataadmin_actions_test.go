package service_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
	"github.com/stewardhq/steward/internal/testdb"
	"github.com/stewardhq/steward/service"
)

// testActionSecret signs the test actions' calls.
const testActionSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// actionCall is one call the product got.
type actionCall struct {
	body     map[string]any
	verified bool // the Standard Webhooks library accepted its signature
	id       string
}

// product is a real HTTP receiver standing for the product's action
// endpoint: it verifies each call with the Standard Webhooks library and
// answers with status and answer; block, when set, holds the answer until
// it is closed; during, when set, runs before answering.
type product struct {
	mu     sync.Mutex
	calls  []actionCall
	status int
	answer string
	header http.Header
	block  chan struct{}
	during func()
	srv    *httptest.Server
}

func newProduct(t *testing.T) *product {
	p := &product{status: http.StatusOK, answer: `{"ok":true,"refunded":3}`}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		wh, err := standardwebhooks.NewWebhook(testActionSecret)
		c := actionCall{verified: err == nil && wh.VerifyIgnoringTimestamp(body, r.Header) == nil,
			id: r.Header.Get("webhook-id")}
		_ = json.Unmarshal(body, &c.body)
		p.mu.Lock()
		p.calls = append(p.calls, c)
		status, answer, block, during := p.status, p.answer, p.block, p.during
		for k, v := range p.header {
			w.Header()[k] = v
		}
		p.mu.Unlock()
		if during != nil {
			during()
		}
		if block != nil {
			select {
			case <-block:
			case <-r.Context().Done():
			}
			return
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, answer)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *product) got() []actionCall {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.calls)
}

func (p *product) set(status int, answer string, header http.Header) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.status, p.answer, p.header = status, answer, header
}

// eachWithProduct runs fn on every backend, each app with its own product
// receiving its actions' calls.
func eachWithProduct(t *testing.T, fn func(t *testing.T, a *apptest.App, p *product), actions ...steward.AdminAction) {
	for _, b := range testdb.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			p := newProduct(t)
			fn(t, apptest.New(t, b, actionsApp(p, slices.Clone(actions)...)), p)
		})
	}
}

// actionsApp is the options of an app whose actions call p.
func actionsApp(p *product, actions ...steward.AdminAction) apptest.Options {
	for i := range actions {
		if actions[i].URL == "" {
			actions[i].URL = p.srv.URL + "/steward/actions"
		}
		if actions[i].Secret == "" {
			actions[i].Secret = testActionSecret
		}
	}
	return apptest.Options{Service: func(c *service.Config) {
		c.Webhooks.AllowInsecure = true // the receiver is on loopback
		c.Actions = actions
	}}
}

// auditOf lists the entries of one audit action, newest first, sealed.
func auditOf(t *testing.T, a *apptest.App, action string) []*steward.AuditEntry {
	t.Helper()
	a.Svc.Audit.SealNow(context.Background())
	es, err := a.Store.ListAudit(context.Background(), steward.AuditFilter{Action: action, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func errCode(err error) string {
	var se *steward.Error
	if errors.As(err, &se) {
		return se.Code
	}
	return ""
}

func errDetail(err error, key string) any {
	var se *steward.Error
	if errors.As(err, &se) {
		return se.Details[key]
	}
	return nil
}

// TestActionRunSignedAndAudited: a run calls the product once with the
// documented body, signed (verified by the Standard Webhooks library),
// and returns its JSON answer as is; action.run, with the payload, is
// committed before the product is called (the product sees it), and
// action.result records the status after.
func TestActionRunSignedAndAudited(t *testing.T) {
	eachWithProduct(t, func(t *testing.T, a *apptest.App, p *product) {
		a.EnsureTenant(t, "ten_acme")
		u := a.User(steward.RoleUser, func(c *steward.UserCreate) { c.TenantID = "ten_acme" })
		op := a.User(steward.RoleAdmin)
		var seenByProduct int // written by the handler, read after the call returned
		p.mu.Lock()
		p.during = func() { seenByProduct = len(auditOf(t, a, "action.run")) }
		p.mu.Unlock()
		ctx := steward.WithRequestInfo(apptest.As(op), steward.RequestInfo{RequestID: "req_abc"})
		out, err := a.Svc.Actions.RunAction(ctx, "refund_last_order", steward.AdminActionCall{TargetID: u.ID,
			Payload: json.RawMessage(`{"reason":"double charge","amount":3}`)})
		if err != nil {
			t.Fatal(err)
		}
		if string(out) != `{"ok":true,"refunded":3}` {
			t.Errorf("answer %s", out)
		}
		calls := p.got()
		if len(calls) != 1 {
			t.Fatalf("%d calls", len(calls))
		}
		c := calls[0]
		if !c.verified || !strings.HasPrefix(c.id, "msg_") {
			t.Errorf("call not signed as Standard Webhooks: %+v", c)
		}
		want := map[string]any{"action": "refund_last_order", "target": "user", "target_id": u.ID,
			"payload": map[string]any{"reason": "double charge", "amount": 3.0},
			"actor":   map[string]any{"id": op.ID, "role": "admin"}, "request_id": "req_abc"}
		if b1, b2 := mustJSON(c.body), mustJSON(want); b1 != b2 {
			t.Errorf("body %s, want %s", b1, b2)
		}
		if seenByProduct != 1 {
			t.Errorf("the product saw %d action.run entries while called, want 1 (committed before the call)", seenByProduct)
		}
		runs := auditOf(t, a, "action.run")
		if len(runs) != 1 {
			t.Fatalf("%d action.run entries", len(runs))
		}
		r := runs[0]
		if r.TargetType != "user" || r.TargetID != u.ID || r.TenantID != "ten_acme" || r.ActorID != op.ID || r.RequestID != "req_abc" ||
			string(r.Metadata) != `{"action":"refund_last_order","payload":{"reason":"double charge","amount":3}}` {
			t.Errorf("action.run entry %+v metadata %s", r, r.Metadata)
		}
		res := auditOf(t, a, "action.result")
		if len(res) != 1 || res[0].TargetID != u.ID || res[0].Seq != r.Seq+1 {
			t.Fatalf("action.result entries %+v", res)
		}
		var meta map[string]any
		_ = json.Unmarshal(res[0].Metadata, &meta)
		if meta["action"] != "refund_last_order" || meta["status"] != 200.0 || meta["ok"] != true {
			t.Errorf("action.result metadata %s", res[0].Metadata)
		}
	}, steward.AdminAction{Name: "refund_last_order", Target: "user"})
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// TestActionRefusals: each refusal is its error code, names what is wrong,
// writes no audit entry and never calls the product.
func TestActionRefusals(t *testing.T) {
	eachWithProduct(t, func(t *testing.T, a *apptest.App, p *product) {
		u := a.User(steward.RoleUser)
		admin, support := a.User(steward.RoleAdmin), a.User(steward.RoleSupport)
		deep := strings.Repeat(`{"a":`, 40) + "1" + strings.Repeat("}", 40)
		big := `{"a":"` + strings.Repeat("x", steward.MaxJSONBytes) + `"}`
		for _, c := range []struct {
			name, action string
			ctx          context.Context
			call         steward.AdminActionCall
			code, field  string
		}{
			{"unknown action", "nope", apptest.As(admin), steward.AdminActionCall{TargetID: u.ID}, steward.CodeActionNotFound, ""},
			{"role below min_role", "ban_everywhere", apptest.As(admin), steward.AdminActionCall{TargetID: u.ID}, steward.CodeInsufficientRole, ""},
			{"role checked before the input", "ban_everywhere", apptest.As(support), steward.AdminActionCall{Payload: json.RawMessage(`[1]`)}, steward.CodeInsufficientRole, ""},
			{"support on an admin action", "resync", apptest.As(support), steward.AdminActionCall{TargetID: u.ID}, steward.CodeInsufficientRole, ""},
			{"no actor", "resync", context.Background(), steward.AdminActionCall{TargetID: u.ID}, steward.CodeUnauthenticated, ""},
			{"end user", "resync", apptest.As(u), steward.AdminActionCall{TargetID: u.ID}, steward.CodeForbidden, ""},
			{"no target_id", "resync", apptest.As(admin), steward.AdminActionCall{}, steward.CodeValidation, "target_id"},
			{"control character", "resync", apptest.As(admin), steward.AdminActionCall{TargetID: "a\x00b"}, steward.CodeValidation, "target_id"},
			{"long target_id", "resync", apptest.As(admin), steward.AdminActionCall{TargetID: strings.Repeat("k", 1025)}, steward.CodeValidation, "target_id"},
			{"unknown user", "resync", apptest.As(admin), steward.AdminActionCall{TargetID: "usr_missing"}, steward.CodeNotFound, ""},
			{"unknown tenant", "tenant_sync", apptest.As(admin), steward.AdminActionCall{TargetID: "ten_missing"}, steward.CodeNotFound, ""},
			{"array payload", "resync", apptest.As(admin), steward.AdminActionCall{TargetID: u.ID, Payload: json.RawMessage(`[1]`)}, steward.CodeValidation, "payload"},
			{"string payload", "resync", apptest.As(admin), steward.AdminActionCall{TargetID: u.ID, Payload: json.RawMessage(`"x"`)}, steward.CodeValidation, "payload"},
			{"deep payload", "resync", apptest.As(admin), steward.AdminActionCall{TargetID: u.ID, Payload: json.RawMessage(deep)}, steward.CodeValidation, "payload"},
			{"big payload", "resync", apptest.As(admin), steward.AdminActionCall{TargetID: u.ID, Payload: json.RawMessage(big)}, steward.CodeValidation, "payload"},
		} {
			_, err := a.Svc.Actions.RunAction(c.ctx, c.action, c.call)
			if got := errCode(err); got != c.code {
				t.Errorf("%s: %v, want %s", c.name, err, c.code)
				continue
			}
			if c.field != "" {
				if fields, _ := errDetail(err, "fields").(map[string]any); fields[c.field] == nil {
					t.Errorf("%s: %v does not name %s", c.name, err, c.field)
				}
			}
		}
		if _, err := a.Svc.Actions.RunAction(apptest.As(support), "ban_everywhere", steward.AdminActionCall{TargetID: u.ID}); errDetail(err, "min_role") != "owner" {
			t.Errorf("INSUFFICIENT_ROLE does not name min_role: %v", err)
		}
		if n := len(p.got()); n != 0 {
			t.Errorf("the product was called %d times", n)
		}
		if n := len(auditOf(t, a, "action.run")) + len(auditOf(t, a, "action.result")); n != 0 {
			t.Errorf("%d audit entries for refused runs", n)
		}
	}, steward.AdminAction{Name: "resync", Target: "user"},
		steward.AdminAction{Name: "ban_everywhere", Target: "user", MinRole: steward.RoleOwner},
		steward.AdminAction{Name: "tenant_sync", Target: "tenant"})
}

// TestActionProductFailures: anything but a 2xx JSON object of at most
// 1 MiB is ACTION_FAILED with the status, the error and an excerpt of the
// answer; a redirect is not followed; action.result records the failure.
func TestActionProductFailures(t *testing.T) {
	eachWithProduct(t, func(t *testing.T, a *apptest.App, p *product) {
		a.EnsureTenant(t, "ten_acme")
		op := a.User(steward.RoleOwner)
		for _, c := range []struct {
			status          int
			answer          string
			status0, errHas string
			excerpt         string
		}{
			{500, "database is down", "", "answered 500", "database is down"},
			{404, `{"error":"no such order"}`, "", "answered 404", `{"error":"no such order"}`},
			{302, "", "", "answered 302", ""},
			{200, "thanks", "", "not a JSON object", "thanks"},
			{200, `[1,2]`, "", "not a JSON object", "[1,2]"},
			{200, `{"a":`, "", "not a JSON object", `{"a":`},
			{200, `{"a":"` + strings.Repeat("x", 1<<20) + `"}`, "", "larger than 1 MiB", `{"a":"xxxx`},
		} {
			var h http.Header
			if c.status == 302 {
				h = http.Header{"Location": {p.srv.URL + "/elsewhere"}}
			}
			p.set(c.status, c.answer, h)
			_, err := a.Svc.Actions.RunAction(apptest.As(op), "suspend_machines", steward.AdminActionCall{TargetID: "ten_acme"})
			if errCode(err) != steward.CodeActionFailed {
				t.Errorf("%d %.20q: %v, want ACTION_FAILED", c.status, c.answer, err)
				continue
			}
			msg, _ := errDetail(err, "error").(string)
			resp, _ := errDetail(err, "response").(string)
			if errDetail(err, "status") != c.status || !strings.Contains(msg, c.errHas) ||
				!strings.HasPrefix(resp, c.excerpt) || len(resp) > 1024 {
				t.Errorf("%d %.20q: details %v", c.status, c.answer, err.(*steward.Error).Details)
			}
		}
		if n := len(p.got()); n != 7 {
			t.Errorf("%d calls, want 7 (no redirect followed)", n)
		}
		res := auditOf(t, a, "action.result")
		if len(res) != 7 {
			t.Fatalf("%d action.result entries", len(res))
		}
		var meta map[string]any
		_ = json.Unmarshal(res[len(res)-1].Metadata, &meta) // the first run: the 500
		if meta["ok"] != false || meta["status"] != 500.0 || meta["error"] != "answered 500 Internal Server Error" {
			t.Errorf("action.result metadata %s", res[len(res)-1].Metadata)
		}
	}, steward.AdminAction{Name: "suspend_machines", Target: "tenant", MinRole: steward.RoleOwner})
}

// TestActionTimeout: a product that does not answer within the action's
// timeout is ACTION_FAILED naming the timeout; the run was audited before.
func TestActionTimeout(t *testing.T) {
	eachWithProduct(t, func(t *testing.T, a *apptest.App, p *product) {
		release := make(chan struct{})
		p.mu.Lock()
		p.block = release
		p.mu.Unlock()
		t.Cleanup(func() { close(release) }) // before the server closes (cleanups run last first)
		op := a.User(steward.RoleAdmin)
		_, err := a.Svc.Actions.RunAction(apptest.As(op), "slow", steward.AdminActionCall{TargetID: "ord_1"})
		msg, _ := errDetail(err, "error").(string)
		if errCode(err) != steward.CodeActionFailed || !strings.Contains(msg, "no answer within 150ms") || errDetail(err, "status") != 0 {
			t.Errorf("%v: details %v", err, errDetail(err, "error"))
		}
		if runs := auditOf(t, a, "action.run"); len(runs) != 1 || runs[0].TargetType != "orders" || runs[0].TargetID != "ord_1" {
			t.Errorf("action.run entries %+v", runs)
		}
		if res := auditOf(t, a, "action.result"); len(res) != 1 || !strings.Contains(string(res[0].Metadata), `"ok":false`) {
			t.Errorf("action.result entries %+v", res)
		}
	}, steward.AdminAction{Name: "slow", Target: "orders", Timeout: 150})
}

// TestActionReadOnlyImpersonation: under a read-only impersonation a
// read-only action runs and a writing one is IMPERSONATION_WRITE_DENIED
// (before any audit or call); an impersonation that allows writes runs it.
func TestActionReadOnlyImpersonation(t *testing.T) {
	eachWithProduct(t, func(t *testing.T, a *apptest.App, p *product) {
		admin := a.User(steward.RoleAdmin)
		target := a.User(steward.RoleUser)
		actorOf := func(allowWrites bool) context.Context {
			t.Helper()
			st, err := a.Svc.Impersonations.StartImpersonation(apptest.As(a.Root), steward.ImpersonationStart{
				UserID: admin.ID, Reason: "ticket 42", AllowWrites: allowWrites})
			if err != nil {
				t.Fatal(err)
			}
			pr, err := a.Svc.Auth.Authenticate(context.Background(), st.Token)
			if err != nil || pr.Actor.ImpersonatorID != a.Root.ID {
				t.Fatalf("impersonation principal %+v %v", pr, err)
			}
			return steward.WithActor(context.Background(), pr.Actor)
		}
		ro := actorOf(false)
		if _, err := a.Svc.Actions.RunAction(ro, "lookup", steward.AdminActionCall{TargetID: target.ID}); err != nil {
			t.Errorf("read-only action under a read-only impersonation: %v", err)
		}
		if _, err := a.Svc.Actions.RunAction(ro, "reset", steward.AdminActionCall{TargetID: target.ID}); errCode(err) != steward.CodeImpersonationWriteDenied {
			t.Errorf("writing action under a read-only impersonation: %v", err)
		}
		if n := len(p.got()); n != 1 {
			t.Errorf("%d calls, want 1", n)
		}
		if _, err := a.Svc.Actions.RunAction(actorOf(true), "reset", steward.AdminActionCall{TargetID: target.ID}); err != nil {
			t.Errorf("writing action under a writing impersonation: %v", err)
		}
		runs := auditOf(t, a, "action.run")
		if len(runs) != 2 || runs[0].ImpersonatorID != a.Root.ID {
			t.Errorf("action.run entries %+v", runs)
		}
	}, steward.AdminAction{Name: "lookup", Target: "user", ReadOnly: true},
		steward.AdminAction{Name: "reset", Target: "user"})
}

// TestActionSSRFAtDial: an action whose host resolves to a private
// address is refused when the call dials it, whatever the URL said.
func TestActionSSRFAtDial(t *testing.T) {
	resolve := func(_ context.Context, _, host string) ([]netip.Addr, error) {
		if host == "product.example" {
			return []netip.Addr{netip.MustParseAddr("10.1.2.3")}, nil
		}
		return nil, errors.New("no such host")
	}
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		op := a.User(steward.RoleAdmin)
		_, err := a.Svc.Actions.RunAction(apptest.As(op), "probe", steward.AdminActionCall{TargetID: "x"})
		msg, _ := errDetail(err, "error").(string)
		if errCode(err) != steward.CodeActionFailed || !strings.Contains(msg, "refused") || !strings.Contains(msg, "private") {
			t.Errorf("%v (%s)", err, msg)
		}
	}, apptest.Options{Service: func(c *service.Config) {
		c.Webhooks = service.WebhookAddressPolicy{Resolve: resolve}
		c.Actions = []steward.AdminAction{{Name: "probe", Target: "orders", URL: "https://product.example/act", Secret: testActionSecret}}
	}})
}

// TestActionsFor: For and ListActions show each role the actions it may
// run, by target, in configuration order, with their defaults and never
// the URL or secret.
func TestActionsFor(t *testing.T) {
	eachWithProduct(t, func(t *testing.T, a *apptest.App, p *product) {
		names := func(as []steward.AdminAction) []string {
			var out []string
			for _, x := range as {
				out = append(out, x.Name)
			}
			return out
		}
		acts := a.Svc.Actions
		if got := names(acts.For("user", steward.RoleSupport)); !slices.Equal(got, []string{"lookup"}) {
			t.Errorf("support on user: %v", got)
		}
		if got := names(acts.For("user", steward.RoleOwner)); !slices.Equal(got, []string{"lookup", "reset", "wipe"}) {
			t.Errorf("owner on user: %v", got)
		}
		if got := names(acts.For("orders", steward.RoleAdmin)); !slices.Equal(got, []string{"refund"}) {
			t.Errorf("admin on orders: %v", got)
		}
		if got := acts.For("orders", steward.RoleUser); got == nil || len(got) != 0 {
			t.Errorf("user on orders: %v", got)
		}
		if got := acts.For("tenant", steward.RoleSuperAdmin); len(got) != 0 {
			t.Errorf("no tenant actions: %v", got)
		}
		admin := a.User(steward.RoleAdmin)
		by, err := acts.ListActions(apptest.As(admin))
		if err != nil {
			t.Fatal(err)
		}
		if len(by) != 2 || !slices.Equal(names(by["user"]), []string{"lookup", "reset"}) || !slices.Equal(names(by["orders"]), []string{"refund"}) {
			t.Errorf("admin's actions %v", by)
		}
		r := by["user"][1]
		if r.Label != "reset" || r.MinRole != steward.RoleAdmin || r.ReadOnly {
			t.Errorf("defaults: %+v", r)
		}
		for _, x := range append(acts.For("user", steward.RoleOwner), by["orders"]...) {
			if x.URL != "" || x.Secret != "" || x.Timeout != 0 {
				t.Errorf("%s carries its URL, secret or timeout: %+v", x.Name, x)
			}
		}
		shown := mustJSON(by)
		if strings.Contains(shown, "whsec_") || strings.Contains(shown, p.srv.URL) {
			t.Errorf("secret or URL shown: %s", shown)
		}
		if _, err := acts.ListActions(apptest.As(a.User(steward.RoleUser))); errCode(err) != steward.CodeForbidden {
			t.Errorf("end user listing actions: %v", err)
		}
	}, steward.AdminAction{Name: "lookup", Label: "Look up", Target: "user", MinRole: steward.RoleSupport, ReadOnly: true},
		steward.AdminAction{Name: "reset", Target: "user"},
		steward.AdminAction{Name: "refund", Target: "orders"},
		steward.AdminAction{Name: "wipe", Target: "user", MinRole: steward.RoleOwner})
}

// TestCheckAdminActions: the configuration's rules, each problem naming
// the action's index, name and key; defaults filled on success.
func TestCheckAdminActions(t *testing.T) {
	ok := steward.AdminAction{Name: "refund", Target: "orders", URL: "https://app.example/hooks/refund", Secret: testActionSecret}
	with := func(f func(*steward.AdminAction)) steward.AdminAction { a := ok; f(&a); return a }
	got, probs := service.CheckAdminActions([]steward.AdminAction{ok}, []string{"orders"}, service.WebhookAddressPolicy{})
	if len(probs) != 0 || len(got) != 1 || got[0].MinRole != steward.RoleAdmin || got[0].Label != "refund" ||
		got[0].Timeout != service.DefaultActionTimeout.Milliseconds() {
		t.Fatalf("valid action: %+v %v", got, probs)
	}
	for _, c := range []struct {
		a       steward.AdminAction
		policy  service.WebhookAddressPolicy
		key, in string
	}{
		{with(func(a *steward.AdminAction) { a.Name = "" }), service.WebhookAddressPolicy{}, "name", "1 to 64"},
		{with(func(a *steward.AdminAction) { a.Name = "Refund" }), service.WebhookAddressPolicy{}, "name", "a-z"},
		{with(func(a *steward.AdminAction) { a.Name = strings.Repeat("a", 65) }), service.WebhookAddressPolicy{}, "name", "64"},
		{with(func(a *steward.AdminAction) { a.Label = "a\x01" }), service.WebhookAddressPolicy{}, "label", "control"},
		{with(func(a *steward.AdminAction) { a.Target = "" }), service.WebhookAddressPolicy{}, "target", "required"},
		{with(func(a *steward.AdminAction) { a.Target = "invoices" }), service.WebhookAddressPolicy{}, "target", "no table"},
		{with(func(a *steward.AdminAction) { a.MinRole = "user" }), service.WebhookAddressPolicy{}, "min_role", "support"},
		{with(func(a *steward.AdminAction) { a.MinRole = "boss" }), service.WebhookAddressPolicy{}, "min_role", "support"},
		{with(func(a *steward.AdminAction) { a.URL = "" }), service.WebhookAddressPolicy{}, "url", "required"},
		{with(func(a *steward.AdminAction) { a.URL = "http://app.example/x" }), service.WebhookAddressPolicy{}, "url", "https"},
		{with(func(a *steward.AdminAction) { a.URL = "http://127.0.0.1:9/x" }), service.WebhookAddressPolicy{}, "url", "https"},
		{with(func(a *steward.AdminAction) { a.URL = "https://10.0.0.7/x" }), service.WebhookAddressPolicy{}, "url", "private"},
		{with(func(a *steward.AdminAction) { a.URL = "https://169.254.169.254/x" }), service.WebhookAddressPolicy{AllowPrivate: true}, "url", "metadata"},
		{with(func(a *steward.AdminAction) { a.Timeout = 60001 }), service.WebhookAddressPolicy{}, "timeout", "1m0s"},
		{with(func(a *steward.AdminAction) { a.Timeout = -1 }), service.WebhookAddressPolicy{}, "timeout", "more than 0"},
		{with(func(a *steward.AdminAction) { a.Secret = "" }), service.WebhookAddressPolicy{}, "secret", "required"},
		{with(func(a *steward.AdminAction) { a.Secret = "hunter2hunter2hunter2hunter2" }), service.WebhookAddressPolicy{}, "secret", "whsec_"},
		{with(func(a *steward.AdminAction) { a.Secret = "whsec_!!!" }), service.WebhookAddressPolicy{}, "secret", "base64"},
	} {
		first := with(func(a *steward.AdminAction) { a.Name = "first" })
		_, probs := service.CheckAdminActions([]steward.AdminAction{first, c.a}, []string{"orders"}, c.policy)
		if len(probs) != 1 || probs[0].Index != 1 || probs[0].Key != c.key || !strings.Contains(probs[0].Msg, c.in) {
			t.Errorf("%+v: problems %v, want one on key %s saying %q", c.a, probs, c.key, c.in)
		}
	}
	if _, probs := service.CheckAdminActions([]steward.AdminAction{ok, ok}, []string{"orders"}, service.WebhookAddressPolicy{}); len(probs) != 1 || probs[0].Key != "name" || probs[0].Index != 1 {
		t.Errorf("duplicate name: %v", probs)
	}
	loop := with(func(a *steward.AdminAction) { a.URL = "http://127.0.0.1:9/x"; a.Target = "user" })
	if _, probs := service.CheckAdminActions([]steward.AdminAction{loop}, nil, service.WebhookAddressPolicy{AllowInsecure: true}); len(probs) != 0 {
		t.Errorf("loopback with AllowInsecure: %v", probs)
	}
}
