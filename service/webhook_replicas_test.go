package service_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
	"github.com/stewardhq/steward/internal/id"
	"github.com/stewardhq/steward/internal/testdb"
	"github.com/stewardhq/steward/service"
	"github.com/stewardhq/steward/store"
)

// TestWebhookTwoReplicasPostgres: two replicas deliver 1,000 events to two
// endpoints from one PostgreSQL database. No endpoint ever has two
// requests in flight (so no event is sent twice at once); one replica is
// killed mid-run, and once its leases run out the other takes its
// endpoints over; every event reaches every endpoint, first in write
// order, and an event sent again keeps its webhook-id.
func TestWebhookTwoReplicasPostgres(t *testing.T) {
	var pg *testdb.Backend
	for _, b := range testdb.Backends(t) {
		if b.Name == "postgres" {
			pg = &b
		}
	}
	if pg == nil {
		t.Skip("no PostgreSQL (" + testdb.EnvPostgres + ")")
	}
	const events, endpoints = 1000, 2
	a := apptest.New(t, *pg, loopbackOK)
	ctx := apptest.System()

	killCtx, kill := context.WithCancel(context.Background())
	var mu sync.Mutex
	inFlight := map[string]int{}
	seen := map[string][]string{} // endpoint path → webhook-ids in arrival order
	var total int
	var overlap []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		ep := r.URL.Path
		mu.Lock()
		inFlight[ep]++
		if inFlight[ep] > 1 {
			overlap = append(overlap, ep+" "+r.Header.Get("webhook-id"))
		}
		mu.Unlock()
		mu.Lock()
		inFlight[ep]--
		seen[ep] = append(seen[ep], r.Header.Get("webhook-id"))
		total++
		if total == events*endpoints/3 {
			kill() // r2 dies a third of the way in, maybe mid-send
		}
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	for i := range endpoints {
		if _, err := a.Svc.Webhooks.CreateWebhook(ctx, steward.WebhookEndpointCreate{
			URL: fmt.Sprintf("%s/e%d", srv.URL, i), EventTypes: []string{"*"}}); err != nil {
			t.Fatal(err)
		}
	}
	var ids []string
	err := a.Store.Update(context.Background(), func(tx store.Tx) error {
		for range events {
			ev := &steward.WebhookEvent{ID: id.New("msg", a.Clock.Now()), Type: "user.created", Payload: []byte(`{"type":"user.created"}`),
				CreatedAt: a.Clock.Now()}
			if err := tx.InsertWebhookEvent(context.Background(), ev); err != nil {
				return err
			}
			ids = append(ids, ev.ID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	a.Svc.Audit.SealNow(ctx) // the sequencer orders events on PostgreSQL

	replica := func() *service.Service {
		return service.New(service.Config{Store: a.Store, Now: a.Clock.Now,
			Webhooks: service.WebhookAddressPolicy{AllowInsecure: true}})
	}
	r1, r2 := replica(), replica()
	var wg sync.WaitGroup
	var r2Sent int
	r2Stopped := make(chan struct{})
	wg.Go(func() { // r2 runs until killed
		defer close(r2Stopped)
		for killCtx.Err() == nil {
			n, _ := r2.Webhooks.DeliverDue(killCtx, "r2")
			r2Sent += n
		}
	})
	done := func() bool {
		mu.Lock()
		defer mu.Unlock()
		for i := range endpoints {
			if len(unique(seen[fmt.Sprintf("/e%d", i)])) < events {
				return false
			}
		}
		return true
	}
	takeovers := 0
	for rounds := 0; !done() && rounds < 10*events; {
		n, err := r1.Webhooks.DeliverDue(context.Background(), "r1")
		if err != nil {
			t.Fatal(err)
		}
		if killCtx.Err() != nil {
			rounds++ // bounded once r1 is alone; before, r2 may hold both
		}
		if n == 0 && killCtx.Err() != nil {
			// Only r1 is alive: let the dead replica's leases run out,
			// once it has stopped (a stopping replica records what it
			// sent; a slow one would otherwise lose its lease first and
			// its last batch be sent again, which at-least-once allows
			// but this test counts).
			<-r2Stopped
			a.Clock.Advance(time.Minute + time.Second)
			takeovers++
		}
	}
	kill()
	wg.Wait()
	if r2Sent == 0 || takeovers == 0 {
		t.Errorf("r2 sent %d before it was killed, r1 waited out leases %d times: want both above 0", r2Sent, takeovers)
	}

	if len(overlap) > 0 {
		t.Errorf("requests in flight at once to one endpoint: %v", overlap[:min(5, len(overlap))])
	}
	for i := range endpoints {
		got := seen[fmt.Sprintf("/e%d", i)]
		u := unique(got)
		if len(u) != events {
			t.Fatalf("endpoint %d got %d distinct events of %d", i, len(u), events)
		}
		for k := range u {
			if u[k] != ids[k] {
				t.Fatalf("endpoint %d: event %d arrived first as %s, want %s (write order)", i, k, u[k], ids[k])
			}
		}
		if extra := len(got) - events; extra > 1 {
			t.Errorf("endpoint %d got %d repeats, want at most the one the kill cut off", i, extra)
		}
	}
	if strings.Join(unique(seen["/e0"]), "") == "" {
		t.Fatal("nothing delivered")
	}
}

// unique keeps the first occurrence of each id, in order.
func unique(ids []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ids {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
