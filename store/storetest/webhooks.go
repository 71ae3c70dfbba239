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

// testWebhookEndpoints: an endpoint round-trips every field (secrets
// included, the previous one's end time too); updates replace every field
// but the id and creation time; list is oldest first; unknown ids are
// ErrNotFound for get, update and delete; LastWebhookEventSeq follows the
// outbox.
func testWebhookEndpoints(t *testing.T, s store.Store) {
	ctx := t.Context()
	seq, err := s.LastWebhookEventSeq(ctx)
	must(t, "LastWebhookEventSeq", err)
	equal(t, "last seq of an empty outbox", seq, int64(0))
	a := &steward.WebhookEndpoint{ID: "whk_a", URL: "https://a.example.com/h", EventTypes: []string{"*"},
		Enabled: true, SigningSecret: "whsec_QUFB", AfterSeq: 0, CreatedAt: at(0), UpdatedAt: at(0)}
	until := at(time.Hour)
	b := &steward.WebhookEndpoint{ID: "whk_b", URL: "https://b.example.com/h", EventTypes: []string{"user.*", "tenant.suspended"},
		TenantID: "ten_1", Description: "b", Enabled: false, DisabledReason: "failing", SigningSecret: "whsec_QkJC",
		PreviousSecret: "whsec_T0xE", PreviousSecretUntil: &until, AfterSeq: 7, CreatedAt: at(time.Second), UpdatedAt: at(2 * time.Second)}
	update(t, s, func(tx store.Tx) error {
		if err := tx.CreateWebhookEndpoint(ctx, b); err != nil {
			return err
		}
		return tx.CreateWebhookEndpoint(ctx, a)
	})
	got, err := s.GetWebhookEndpoint(ctx, "whk_b")
	must(t, "GetWebhookEndpoint", err)
	equal(t, "endpoint b", got, b)
	all, err := s.ListWebhookEndpoints(ctx)
	must(t, "ListWebhookEndpoints", err)
	equal(t, "endpoints", all, []*steward.WebhookEndpoint{a, b})

	a2 := *a
	a2.URL, a2.EventTypes, a2.TenantID, a2.Description = "https://a2.example.com", []string{"credits.granted"}, "ten_2", "two"
	a2.Enabled, a2.DisabledReason, a2.SigningSecret, a2.PreviousSecret = false, "x", "whsec_TkVX", "whsec_QUFB"
	a2.PreviousSecretUntil, a2.AfterSeq, a2.UpdatedAt = &until, 9, at(time.Minute)
	update(t, s, func(tx store.Tx) error { return tx.UpdateWebhookEndpoint(ctx, &a2) })
	got, _ = s.GetWebhookEndpoint(ctx, "whk_a")
	equal(t, "endpoint a updated", got, &a2)

	update(t, s, func(tx store.Tx) error { return tx.DeleteWebhookEndpoint(ctx, "whk_a") })
	for what, err := range map[string]error{
		"get":    func() error { _, err := s.GetWebhookEndpoint(ctx, "whk_a"); return err }(),
		"update": s.Update(ctx, func(tx store.Tx) error { return tx.UpdateWebhookEndpoint(ctx, &a2) }),
		"delete": s.Update(ctx, func(tx store.Tx) error { return tx.DeleteWebhookEndpoint(ctx, "whk_a") }),
	} {
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s of a deleted endpoint: %v, want ErrNotFound", what, err)
		}
	}
	e := &steward.WebhookEvent{ID: "msg_x", Type: "user.created", Payload: json.RawMessage(`{}`), CreatedAt: at(0)}
	update(t, s, func(tx store.Tx) error { return tx.InsertWebhookEvent(ctx, e) })
	seq, _ = s.LastWebhookEventSeq(ctx)
	equal(t, "last seq", seq, e.Seq)
}
