package service_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
	"github.com/stewardhq/steward/store"
)

// TestWebhookBatchLostLease: a replica records the outcomes of a batch of
// sends in one transaction; when its lease was taken over meanwhile it
// records nothing of that batch (no delivery log row, the cursor where it
// was), and the new holder sends the same events again, in order, with the
// same webhook-ids.
func TestWebhookBatchLostLease(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		ctx := apptest.System()
		var mu sync.Mutex
		var ids []string
		var wid string
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			mu.Lock()
			ids = append(ids, r.Header.Get("webhook-id"))
			n := len(ids)
			mu.Unlock()
			if n != 3 {
				return
			}
			// Mid-batch, another replica takes the endpoint over (its
			// lease runs out now, so the test's second replica can claim
			// it next).
			err := a.Store.Update(context.Background(), func(tx store.Tx) error {
				e, err := tx.GetWebhookEndpoint(context.Background(), wid)
				if err != nil {
					return err
				}
				now := a.Clock.Now()
				e.LeaseOwner, e.LeaseUntil = "thief", &now
				return tx.UpdateWebhookEndpoint(context.Background(), e)
			})
			if err != nil {
				t.Error(err)
			}
		}))
		t.Cleanup(srv.Close)
		e, err := a.Svc.Webhooks.CreateWebhook(ctx, steward.WebhookEndpointCreate{URL: srv.URL, EventTypes: []string{"user.created"}})
		if err != nil {
			t.Fatal(err)
		}
		wid = e.ID
		for range 5 {
			a.User(steward.RoleUser)
		}
		if n, err := a.Svc.Webhooks.DeliverDue(context.Background(), "r1"); n != 5 || err != nil {
			t.Fatalf("r1 sent %d (%v), want 5", n, err)
		}
		stored, err := a.Store.GetWebhookEndpoint(ctx, wid)
		if err != nil || stored.AfterSeq != e.AfterSeq || stored.LeaseOwner != "thief" {
			t.Fatalf("after the lost batch: after_seq %d (was %d), lease %q, %v", stored.AfterSeq, e.AfterSeq, stored.LeaseOwner, err)
		}
		if log, _ := a.Store.ListWebhookDeliveries(ctx, wid, "", 100); len(log) != 0 {
			t.Fatalf("the lost batch logged %d attempts, want none", len(log))
		}

		if n := drain(t, a, "r2"); n != 5 {
			t.Fatalf("the new holder sent %d, want 5", n)
		}
		mu.Lock()
		got := append([]string(nil), ids...)
		mu.Unlock()
		if len(got) != 10 {
			t.Fatalf("%d requests, want 10", len(got))
		}
		for i := range 5 {
			if got[i] != got[5+i] || got[i] == "" {
				t.Errorf("request %d: %s, then again %s, want the same webhook-id", i, got[i], got[5+i])
			}
		}
		if log, _ := a.Store.ListWebhookDeliveries(ctx, wid, "", 100); len(log) != 5 {
			t.Errorf("%d attempts logged after the takeover, want 5", len(log))
		}
	}, loopbackOK)
}
