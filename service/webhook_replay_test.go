package service_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
)

// TestWebhookReplayRange: a replay of a range re-sends, in order and with
// their ids, exactly the events written from since to until, then goes on
// with the events written after the endpoint's old cursor, not re-sending
// those between until and it; until before since is refused naming until;
// a range with nothing sent yet changes nothing.
func TestWebhookReplayRange(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		ctx := apptest.System()
		rc := newReceiver(t)
		e, err := a.Svc.Webhooks.CreateWebhook(ctx, steward.WebhookEndpointCreate{URL: rc.srv.URL, EventTypes: []string{"user.created"}})
		if err != nil {
			t.Fatal(err)
		}
		rc.secrets = []string{e.Secret}
		var times []time.Time
		for range 5 {
			a.Clock.Advance(time.Minute)
			times = append(times, a.Clock.Now())
			a.User(steward.RoleUser)
		}
		drain(t, a, "r1")
		first := rc.requests()
		if len(first) != 5 {
			t.Fatalf("first delivery: %v", first)
		}

		_, err = a.Svc.Webhooks.ReplayWebhook(ctx, e.ID, times[3], times[1])
		if f := new(steward.Error); !errors.As(err, &f) || !hasField(f, "until") {
			t.Fatalf("until before since: %v", err)
		}
		a.Clock.Advance(time.Minute)
		if _, err := a.Svc.Webhooks.ReplayWebhook(ctx, e.ID, a.Clock.Now(), time.Time{}); err != nil {
			t.Fatal(err)
		}
		if n := drain(t, a, "r1"); n != 0 {
			t.Fatalf("a replay of a range with nothing sent sent %d", n)
		}

		if _, err := a.Svc.Webhooks.ReplayWebhook(ctx, e.ID, times[1], times[2]); err != nil {
			t.Fatal(err)
		}
		a.User(steward.RoleUser) // written after the replay: sent after the range
		if n := drain(t, a, "r1"); n != 3 {
			t.Fatalf("replay sent %d, want 3 (two replayed, one new)", n)
		}
		got := rc.requests()[5:]
		if len(got) != 3 || got[0].id != first[1].id || got[1].id != first[2].id || got[2].id == first[4].id {
			t.Errorf("replayed %v, want %s, %s then the new event", got, first[1].id, first[2].id)
		}
		stored, err := a.Store.GetWebhookEndpoint(ctx, e.ID)
		if err != nil || stored.ReplayToSeq != 0 || stored.ReplayResumeSeq != 0 {
			t.Errorf("after the replay: %+v %v", stored, err)
		}
		if entries, _ := a.Store.ListAudit(ctx, steward.AuditFilter{TargetID: e.ID, Action: "webhook.replay", Limit: 10}); len(entries) != 1 {
			t.Errorf("%d webhook.replay entries, want 1 (the empty one is not audited)", len(entries))
		}
	}, loopbackOK)
}

func hasField(e *steward.Error, field string) bool {
	fields, _ := e.Details["fields"].(map[string]any)
	_, ok := fields[field]
	return ok
}
