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
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
	"github.com/stewardhq/steward/service"
	"github.com/stewardhq/steward/store"
)

// received is one request a test receiver got.
type received struct {
	id, typ string
	ts      string
	ok      bool // its signature verified with one of the secrets
}

// receiver is a real HTTP receiver: it verifies each request with the
// Standard Webhooks library against its secrets and answers status (200
// unless set; fail makes the next n requests answer 500).
type receiver struct {
	mu      sync.Mutex
	secrets []string
	got     []received
	fail    int
	srv     *httptest.Server
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		ok := false
		for _, s := range r.secrets {
			wh, err := standardwebhooks.NewWebhook(s)
			if err == nil && wh.VerifyIgnoringTimestamp(body, req.Header) == nil {
				ok = true
			}
		}
		var p struct{ Type string }
		_ = json.Unmarshal(body, &p)
		r.got = append(r.got, received{id: req.Header.Get("webhook-id"), typ: p.Type,
			ts: req.Header.Get("webhook-timestamp"), ok: ok})
		if r.fail > 0 {
			r.fail--
			http.Error(w, "down for maintenance", http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, "thanks")
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

var loopbackOK = apptest.Options{Service: func(c *service.Config) { c.Webhooks.AllowInsecure = true }}

// drain runs delivery rounds until one sends nothing.
func drain(t *testing.T, a *apptest.App, owner string) int {
	t.Helper()
	a.Svc.Audit.SealNow(context.Background()) // the sequencer orders events on PostgreSQL
	total := 0
	for range 100 {
		n, err := a.Svc.Webhooks.DeliverDue(context.Background(), owner)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return total
		}
		total += n
	}
	t.Fatal("delivery never settled")
	return 0
}

// matching lists the outbox events after seq that e subscribes to.
func outboxAfter(t *testing.T, a *apptest.App, seq int64, keep func(steward.WebhookEvent) bool) []steward.WebhookEvent {
	t.Helper()
	a.Svc.Audit.SealNow(context.Background()) // events are ordered by the sequencer on PostgreSQL
	evs, err := a.Store.ListWebhookEvents(context.Background(), seq, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []steward.WebhookEvent
	for _, e := range evs {
		if keep(e) {
			out = append(out, e)
		}
	}
	return out
}

// TestWebhookDeliveryInOrder: every event an endpoint subscribes to
// arrives once per change, in write order, signed (verified by the
// Standard Webhooks library), webhook-id the event's id and the timestamp
// the clock's; events of other types or written before the endpoint was
// made do not arrive; nothing is sent from the request itself.
func TestWebhookDeliveryInOrder(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		ctx := apptest.System()
		a.User(steward.RoleUser) // before the endpoint: not sent
		rc := newReceiver(t)
		e, err := a.Svc.Webhooks.CreateWebhook(ctx, steward.WebhookEndpointCreate{URL: rc.srv.URL + "/hook",
			EventTypes: []string{"user.*", "tenant.suspended"}})
		if err != nil {
			t.Fatal(err)
		}
		rc.secrets = []string{e.Secret}
		var users []*steward.User
		for range 3 {
			users = append(users, a.User(steward.RoleUser))
		}
		if _, err := a.Svc.Users.SuspendUser(ctx, users[1].ID, "abuse"); err != nil {
			t.Fatal(err)
		}
		ten, err := a.Svc.Tenants.CreateTenant(ctx, &steward.TenantCreate{Name: "Acme"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Svc.Tenants.SuspendTenant(ctx, ten.ID, "unpaid"); err != nil {
			t.Fatal(err)
		}
		if got := rc.requests(); len(got) != 0 {
			t.Fatalf("sent before any delivery round: %v", got)
		}
		want := outboxAfter(t, a, e.AfterSeq, func(ev steward.WebhookEvent) bool {
			return strings.HasPrefix(ev.Type, "user.") || ev.Type == "tenant.suspended"
		})
		if len(want) < 5 {
			t.Fatalf("outbox has %d matching events, want at least 5", len(want))
		}
		if n := drain(t, a, "r1"); n != len(want) {
			t.Errorf("%d attempts, want %d", n, len(want))
		}
		got := rc.requests()
		if len(got) != len(want) {
			t.Fatalf("received %d, want %d: %v", len(got), len(want), got)
		}
		ts := a.Clock.Now().Unix()
		for i, g := range got {
			if g.id != want[i].ID || g.typ != want[i].Type || !g.ok || g.ts != strings.TrimSpace(jsonInt(ts)) {
				t.Errorf("request %d = %+v, want %s %s signed at %d", i, g, want[i].ID, want[i].Type, ts)
			}
		}
		log, err := a.Store.ListWebhookDeliveries(ctx, e.ID, "", 100)
		if err != nil || len(log) != len(want) || !log[0].Succeeded || log[0].HTTPStatus != 200 || log[0].Response != "thanks" {
			t.Errorf("delivery log: %+v %v", log, err)
		}
	}, loopbackOK)
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

// TestWebhookRetriesThenSucceeds: a receiver failing five times gets the
// event on the sixth attempt, each retry due only after its backoff (the
// injected clock moves; nothing sleeps), every attempt with the same
// webhook-id, each in the delivery log; later events wait behind it.
func TestWebhookRetriesThenSucceeds(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		ctx := apptest.System()
		rc := newReceiver(t)
		e, err := a.Svc.Webhooks.CreateWebhook(ctx, steward.WebhookEndpointCreate{URL: rc.srv.URL, EventTypes: []string{"*"}})
		if err != nil {
			t.Fatal(err)
		}
		rc.secrets = []string{e.Secret}
		rc.fail = 5
		u := a.User(steward.RoleUser)
		if _, err := a.Svc.Users.SuspendUser(ctx, u.ID, "x"); err != nil {
			t.Fatal(err)
		}
		for i := range 5 {
			if n := drain(t, a, "r1"); n != 1 {
				t.Fatalf("round %d: %d attempts, want 1", i, n)
			}
			if n := drain(t, a, "r1"); n != 0 {
				t.Fatalf("retry %d sent before its backoff", i)
			}
			a.Clock.Advance(service.WebhookRetries[i] * 6 / 5) // past the jitter
		}
		if n := drain(t, a, "r1"); n != 2 {
			t.Fatalf("after the backoffs: %d attempts, want 2 (the event, then the suspend)", n)
		}
		got := rc.requests()
		if len(got) != 7 {
			t.Fatalf("received %d requests: %v", len(got), got)
		}
		for _, g := range got[:6] {
			if g.id != got[0].id || g.typ != "user.created" || !g.ok {
				t.Errorf("attempt %+v, want user.created %s", g, got[0].id)
			}
		}
		if got[6].typ != "user.suspended" {
			t.Errorf("after the retried event: %+v", got[6])
		}
		log, _ := a.Store.ListWebhookDeliveries(ctx, e.ID, "", 100)
		var attempts []int
		for _, d := range slices.Backward(log) {
			attempts = append(attempts, d.Attempt)
		}
		if !slices.Equal(attempts, []int{1, 2, 3, 4, 5, 6, 1}) || log[1].Succeeded != true || log[2].HTTPStatus != 500 ||
			log[2].Response != "down for maintenance\n" {
			t.Errorf("delivery log attempts %v: %+v", attempts, log)
		}
	}, loopbackOK)
}

// TestWebhookDisabledAfterFailures: an endpoint failing every attempt of
// an event is disabled after WebhookMaxAttempts, audited webhook.disable
// with the reason; it sends nothing more until enabled again, and then
// resumes with the same event.
func TestWebhookDisabledAfterFailures(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		ctx := apptest.System()
		rc := newReceiver(t)
		rc.fail = 1 << 30
		e, err := a.Svc.Webhooks.CreateWebhook(ctx, steward.WebhookEndpointCreate{URL: rc.srv.URL, EventTypes: []string{"*"}})
		if err != nil {
			t.Fatal(err)
		}
		a.User(steward.RoleUser)
		var total time.Duration
		for i := range service.WebhookMaxAttempts {
			drain(t, a, "r1")
			if i < len(service.WebhookRetries) {
				a.Clock.Advance(service.WebhookRetries[i] * 6 / 5)
				total += service.WebhookRetries[i]
			}
		}
		if total < 60*time.Hour || total > 84*time.Hour {
			t.Errorf("retries span %v, want about three days", total)
		}
		got, _ := a.Svc.Webhooks.GetWebhook(ctx, e.ID)
		if got.Enabled || !strings.Contains(got.DisabledReason, "failed attempts") {
			t.Fatalf("after %d failures: %+v", service.WebhookMaxAttempts, got)
		}
		if n := len(rc.requests()); n != service.WebhookMaxAttempts {
			t.Errorf("%d requests, want %d", n, service.WebhookMaxAttempts)
		}
		entries, _ := a.Store.ListAudit(ctx, steward.AuditFilter{Action: "webhook.disable", Limit: 5})
		if len(entries) != 1 || entries[0].TargetID != e.ID || entries[0].ActorType != steward.ActorSystem {
			t.Errorf("webhook.disable entries: %+v", entries)
		}
		a.Clock.Advance(24 * time.Hour)
		if n := drain(t, a, "r1"); n != 0 {
			t.Errorf("a disabled endpoint got %d attempts", n)
		}
		rc.mu.Lock()
		rc.fail = 0
		rc.mu.Unlock()
		on := true
		if _, err := a.Svc.Webhooks.UpdateWebhook(ctx, e.ID, steward.WebhookEndpointPatch{Enabled: &on}); err != nil {
			t.Fatal(err)
		}
		if n := drain(t, a, "r1"); n != 1 {
			t.Errorf("re-enabled: %d attempts, want 1", n)
		}
		if r := rc.requests(); r[len(r)-1].id != r[0].id {
			t.Errorf("re-enabled endpoint sent %s, want the held event %s", r[len(r)-1].id, r[0].id)
		}
	}, loopbackOK)
}

// crashAfterClaim lets a replica's first write transaction (its claim)
// commit and fails every later one: a replica that died after sending,
// before recording the send.
type crashAfterClaim struct {
	store.Store
	mu     sync.Mutex
	writes int
}

var errCrashed = errors.New("replica crashed")

func (c *crashAfterClaim) Update(ctx context.Context, fn func(store.Tx) error) error {
	c.mu.Lock()
	c.writes++
	n := c.writes
	c.mu.Unlock()
	if n > 1 {
		return errCrashed
	}
	return c.Store.Update(ctx, fn)
}

// TestWebhookTakeoverAfterCrash: a replica that sent an event and died
// before recording it keeps the endpoint leased until the lease runs out;
// then another replica takes the endpoint over and sends the event again
// with the same webhook-id, and the receiver can drop the duplicate.
func TestWebhookTakeoverAfterCrash(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		ctx := apptest.System()
		rc := newReceiver(t)
		e, err := a.Svc.Webhooks.CreateWebhook(ctx, steward.WebhookEndpointCreate{URL: rc.srv.URL, EventTypes: []string{"user.created"}})
		if err != nil {
			t.Fatal(err)
		}
		rc.secrets = []string{e.Secret}
		a.User(steward.RoleUser)
		a.Svc.Audit.SealNow(ctx) // the sequencer orders events on PostgreSQL
		dead := service.New(service.Config{Store: &crashAfterClaim{Store: a.Store}, Now: a.Clock.Now,
			Webhooks: service.WebhookAddressPolicy{AllowInsecure: true}})
		if _, err := dead.Webhooks.DeliverDue(context.Background(), "dead"); !errors.Is(err, errCrashed) {
			t.Fatalf("dying replica: %v", err)
		}
		if n := drain(t, a, "live"); n != 0 {
			t.Fatalf("the live replica sent %d while the dead one's lease held", n)
		}
		a.Clock.Advance(time.Minute + time.Second)
		if n := drain(t, a, "live"); n != 1 {
			t.Fatalf("after the lease ran out: %d attempts, want 1", n)
		}
		got := rc.requests()
		if len(got) != 2 || got[0].id != got[1].id || !got[0].ok || !got[1].ok {
			t.Fatalf("requests %+v, want the same webhook-id twice", got)
		}
		if n := drain(t, a, "live"); n != 0 {
			t.Errorf("sent again after success: %d", n)
		}
	}, loopbackOK)
}

// TestWebhookSecretRotationOverlap: after a rotation, deliveries carry
// both signatures for the overlap, each verifying with its own secret;
// after it, only the new one.
func TestWebhookSecretRotationOverlap(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		ctx := apptest.System()
		rc := newReceiver(t)
		e, err := a.Svc.Webhooks.CreateWebhook(ctx, steward.WebhookEndpointCreate{URL: rc.srv.URL, EventTypes: []string{"user.created"}})
		if err != nil {
			t.Fatal(err)
		}
		old := e.Secret
		r, err := a.Svc.Webhooks.RotateWebhookSecret(ctx, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, secrets := range [][]string{{old}, {r.Secret}} {
			rc.secrets = secrets
			a.User(steward.RoleUser)
			drain(t, a, "r1")
		}
		a.Clock.Advance(steward.WebhookSecretOverlap + time.Second)
		rc.secrets = []string{old}
		a.User(steward.RoleUser)
		drain(t, a, "r1")
		got := rc.requests()
		if len(got) != 3 || !got[0].ok || !got[1].ok || got[2].ok {
			t.Errorf("verified with old, new, then old after the overlap: %+v, want true true false", got)
		}
	}, loopbackOK)
}

// TestWebhookSSRFAtDelivery: a receiver whose name resolves to a private,
// loopback or metadata address is refused when delivery dials it (the
// delivery log says why, nothing is sent); the settings allow loopback
// and private ones, never metadata.
func TestWebhookSSRFAtDelivery(t *testing.T) {
	names := map[string]string{"private.example": "10.1.2.3", "loop.example": "127.0.0.1",
		"metadata.example": "169.254.169.254", "linklocal.example": "169.254.7.7"}
	resolve := func(_ context.Context, _, host string) ([]netip.Addr, error) {
		if a, ok := names[host]; ok {
			return []netip.Addr{netip.MustParseAddr(a)}, nil
		}
		return nil, errors.New("no such host")
	}
	for _, c := range []struct {
		host, want string
		policy     service.WebhookAddressPolicy
	}{
		{"private.example", "private", service.WebhookAddressPolicy{}},
		{"linklocal.example", "link-local", service.WebhookAddressPolicy{}},
		{"loop.example", "loopback", service.WebhookAddressPolicy{AllowPrivate: true}},
		{"metadata.example", "metadata", service.WebhookAddressPolicy{AllowInsecure: true, AllowPrivate: true}},
	} {
		t.Run(c.host, func(t *testing.T) {
			apptest.Each(t, func(t *testing.T, a *apptest.App) {
				ctx := apptest.System()
				e, err := a.Svc.Webhooks.CreateWebhook(ctx, steward.WebhookEndpointCreate{
					URL: "https://" + c.host + "/hook", EventTypes: []string{"*"}})
				if err != nil {
					t.Fatal(err)
				}
				a.User(steward.RoleUser)
				drain(t, a, "r1")
				log, _ := a.Store.ListWebhookDeliveries(ctx, e.ID, "", 10)
				if len(log) != 1 || log[0].Succeeded || !strings.Contains(log[0].Error, "refused") ||
					!strings.Contains(log[0].Error, c.want) {
					t.Errorf("delivery log: %+v", log)
				}
			}, apptest.Options{Service: func(cfg *service.Config) {
				cfg.Webhooks = c.policy
				cfg.Webhooks.Resolve = resolve
			}})
		})
	}
}

// TestWebhookRetryAndReplay: a manual retry sends the delivery's event
// again at once with its webhook-id and logs the attempt; a replay since
// a time re-sends, in order and with their ids, the events written since
// then; the delivery log pages newest first.
func TestWebhookRetryAndReplay(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		ctx := apptest.System()
		rc := newReceiver(t)
		e, err := a.Svc.Webhooks.CreateWebhook(ctx, steward.WebhookEndpointCreate{URL: rc.srv.URL, EventTypes: []string{"user.created"}})
		if err != nil {
			t.Fatal(err)
		}
		rc.secrets = []string{e.Secret}
		var times []time.Time
		for range 3 {
			a.Clock.Advance(time.Minute)
			times = append(times, a.Clock.Now())
			a.User(steward.RoleUser)
		}
		drain(t, a, "r1")
		first := rc.requests()
		if len(first) != 3 {
			t.Fatalf("first delivery: %v", first)
		}
		pg, err := a.Svc.Webhooks.ListWebhookDeliveries(ctx, e.ID, steward.ListParams{Limit: 2})
		if err != nil || len(pg.Data) != 2 || !pg.HasMore || pg.Data[0].EventID != first[2].id {
			t.Fatalf("log page: %+v %v", pg, err)
		}
		next, _ := a.Svc.Webhooks.ListWebhookDeliveries(ctx, e.ID, steward.ListParams{Limit: 2, Cursor: *pg.NextCursor})
		if len(next.Data) != 1 || next.Data[0].EventID != first[0].id || next.HasMore {
			t.Fatalf("log second page: %+v", next)
		}

		d, err := a.Svc.Webhooks.RetryWebhookDelivery(ctx, next.Data[0].ID)
		if err != nil || !d.Succeeded || d.Attempt != 2 || d.EventID != first[0].id {
			t.Fatalf("retry: %+v %v", d, err)
		}
		if got := rc.requests(); len(got) != 4 || got[3].id != first[0].id || !got[3].ok {
			t.Fatalf("after the retry: %v", got)
		}
		if _, err := a.Svc.Webhooks.RetryWebhookDelivery(ctx, "dlv_missing"); err == nil {
			t.Error("retry of an unknown delivery succeeded")
		}

		if _, err := a.Svc.Webhooks.ReplayWebhook(ctx, e.ID, times[1], time.Time{}); err != nil {
			t.Fatal(err)
		}
		if n := drain(t, a, "r1"); n != 2 {
			t.Fatalf("replay sent %d, want 2", n)
		}
		got := rc.requests()[4:]
		if len(got) != 2 || got[0].id != first[1].id || got[1].id != first[2].id {
			t.Errorf("replayed %v, want %s then %s", got, first[1].id, first[2].id)
		}
		if entries, _ := a.Store.ListAudit(ctx, steward.AuditFilter{TargetID: e.ID, Limit: 10}); len(entries) != 3 {
			t.Errorf("%d audit entries (create, retry, replay), want 3", len(entries))
		}
	}, loopbackOK)
}
