package storetest

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// testWebhookEvents: outbox events round-trip byte for byte and list in
// seq order after a seq; an event written in a transaction that rolls
// back is not kept.
func testWebhookEvents(t *testing.T, s store.Store) {
	ctx := t.Context()
	ev := func(seq int64, id string) *steward.WebhookEvent {
		return &steward.WebhookEvent{Seq: seq, ID: id, Type: "user.suspended", TenantID: "ten_1",
			Payload: json.RawMessage(`{"type":"user.suspended","data":{"a": 1}}`), CreatedAt: at(0)}
	}
	update(t, s, func(tx store.Tx) error {
		for _, e := range []*steward.WebhookEvent{ev(3, "msg_3"), ev(1, "msg_1"), ev(2, "msg_2")} {
			if err := tx.InsertWebhookEvent(ctx, e); err != nil {
				return err
			}
		}
		return nil
	})
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.InsertWebhookEvent(ctx, ev(4, "msg_4")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update: %v, want boom", err)
	}
	got, err := s.ListWebhookEvents(ctx, 1, 10)
	must(t, "ListWebhookEvents", err)
	equal(t, "events after seq 1", got, []steward.WebhookEvent{*ev(2, "msg_2"), *ev(3, "msg_3")})
	got, err = s.ListWebhookEvents(ctx, 0, 1)
	must(t, "ListWebhookEvents", err)
	equal(t, "first event", got, []steward.WebhookEvent{*ev(1, "msg_1")})
}
