package storetest

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// testWebhookEvents: outbox events get increasing seqs in write order,
// round-trip byte for byte and list in seq order after a seq; an event
// written in a transaction that rolls back is not kept; a purge takes the
// oldest first, within its limit.
func testWebhookEvents(t *testing.T, s store.Store) {
	ctx := t.Context()
	ev := func(id string, d time.Duration) *steward.WebhookEvent {
		return &steward.WebhookEvent{ID: id, Type: "user.suspended", TenantID: "ten_1",
			Payload: json.RawMessage(`{"type":"user.suspended","data":{"a": 1}}`), CreatedAt: at(d)}
	}
	written := []*steward.WebhookEvent{ev("msg_1", 0), ev("msg_2", time.Second), ev("msg_3", 2*time.Second)}
	update(t, s, func(tx store.Tx) error {
		for _, e := range written {
			if err := tx.InsertWebhookEvent(ctx, e); err != nil {
				return err
			}
		}
		return nil
	})
	if !(written[0].Seq < written[1].Seq && written[1].Seq < written[2].Seq) {
		t.Fatalf("seqs %d %d %d, want increasing", written[0].Seq, written[1].Seq, written[2].Seq)
	}
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.InsertWebhookEvent(ctx, ev("msg_4", 0)); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update: %v, want boom", err)
	}
	got, err := s.ListWebhookEvents(ctx, written[0].Seq, 10)
	must(t, "ListWebhookEvents", err)
	equal(t, "events after the first", got, []steward.WebhookEvent{*written[1], *written[2]})
	got, err = s.ListWebhookEvents(ctx, 0, 1)
	must(t, "ListWebhookEvents", err)
	equal(t, "first event", got, []steward.WebhookEvent{*written[0]})

	var n int64
	update(t, s, func(tx store.Tx) (err error) { n, err = tx.PurgeWebhookEvents(ctx, at(2*time.Second), 1); return err })
	got, _ = s.ListWebhookEvents(ctx, 0, 10)
	if n != 1 || len(got) != 2 || got[0].ID != "msg_2" {
		t.Fatalf("purge of 1: %d, left %+v", n, got)
	}
	update(t, s, func(tx store.Tx) (err error) { n, err = tx.PurgeWebhookEvents(ctx, at(2*time.Second), 10); return err })
	got, _ = s.ListWebhookEvents(ctx, 0, 10)
	if n != 1 || len(got) != 1 || got[0].ID != "msg_3" {
		t.Fatalf("purge before the last: %d, left %+v", n, got)
	}
}
