package storetest

import (
	"encoding/json"
	"errors"
	"slices"
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
	insertEvents(t, s, written...)
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
	insertEvents(t, s, e)
	seq, _ = s.LastWebhookEventSeq(ctx)
	equal(t, "last seq", seq, e.Seq)
}

// testWebhookClaims: a claim leases the enabled endpoints that have an
// event after their cursor and are due, not those disabled, caught up,
// waiting for a retry or leased by another owner until the lease runs
// out; the delivery log lists newest first, continues after a cursor and
// purges oldest first.
func testWebhookClaims(t *testing.T, s store.Store) {
	ctx := t.Context()
	e := &steward.WebhookEvent{ID: "msg_c", Type: "user.created", Payload: json.RawMessage(`{}`), CreatedAt: at(0)}
	insertEvents(t, s, e)
	later := at(time.Hour)
	mk := func(id string, mod func(*steward.WebhookEndpoint)) *steward.WebhookEndpoint {
		w := &steward.WebhookEndpoint{ID: id, URL: "https://x.example", EventTypes: []string{"*"}, Enabled: true,
			SigningSecret: "whsec_QUFB", AfterSeq: e.Seq - 1, CreatedAt: at(0), UpdatedAt: at(0)}
		if mod != nil {
			mod(w)
		}
		return w
	}
	eps := []*steward.WebhookEndpoint{
		mk("whk_1due", nil),
		mk("whk_2off", func(w *steward.WebhookEndpoint) { w.Enabled = false }),
		mk("whk_3done", func(w *steward.WebhookEndpoint) { w.AfterSeq = e.Seq }),
		mk("whk_4wait", func(w *steward.WebhookEndpoint) { w.NextAttemptAt = &later }),
		mk("whk_5leased", func(w *steward.WebhookEndpoint) { w.LeaseOwner, w.LeaseUntil = "other", &later }),
	}
	update(t, s, func(tx store.Tx) error {
		for _, w := range eps {
			if err := tx.CreateWebhookEndpoint(ctx, w); err != nil {
				return err
			}
		}
		return nil
	})
	claim := func(owner string, now time.Time) []string {
		var got []*steward.WebhookEndpoint
		update(t, s, func(tx store.Tx) (err error) {
			got, err = tx.ClaimWebhookEndpoints(ctx, owner, now, now.Add(time.Minute), 10)
			return err
		})
		var ids []string
		for _, w := range got {
			if w.LeaseOwner != owner || !w.LeaseUntil.Equal(now.Add(time.Minute)) {
				t.Errorf("claimed %s: lease %q until %v", w.ID, w.LeaseOwner, w.LeaseUntil)
			}
			ids = append(ids, w.ID)
		}
		slices.Sort(ids) // in no particular order
		return ids
	}
	equal(t, "first claim", claim("me", at(0)), []string{"whk_1due"})
	equal(t, "claim while leased", claim("you", at(time.Second)), nil)
	equal(t, "claim after the leases ran out", claim("you", at(2*time.Hour)), []string{"whk_1due", "whk_4wait", "whk_5leased"})

	var ds []*steward.WebhookDelivery
	for i := range 3 {
		d := &steward.WebhookDelivery{ID: "dlv_" + string(rune('a'+i)), EndpointID: "whk_1due", EventID: e.ID, EventSeq: e.Seq,
			EventType: e.Type, Attempt: i + 1, Succeeded: i == 2, HTTPStatus: 500 + i, LatencyMS: 1.5, Response: "r",
			Error: "e", CreatedAt: at(time.Duration(i) * time.Second)}
		ds = append(ds, d)
		update(t, s, func(tx store.Tx) error { return tx.InsertWebhookDelivery(ctx, d) })
	}
	got, err := s.ListWebhookDeliveries(ctx, "whk_1due", "", 2)
	must(t, "ListWebhookDeliveries", err)
	equal(t, "newest deliveries", got, []*steward.WebhookDelivery{ds[2], ds[1]})
	got, _ = s.ListWebhookDeliveries(ctx, "whk_1due", "dlv_b", 10)
	equal(t, "deliveries after the cursor", got, []*steward.WebhookDelivery{ds[0]})
	var n int64
	update(t, s, func(tx store.Tx) (err error) {
		n, err = tx.PurgeWebhookDeliveries(ctx, at(2*time.Second), 10)
		return err
	})
	got, _ = s.ListWebhookDeliveries(ctx, "whk_1due", "", 10)
	if n != 2 || len(got) != 1 || got[0].ID != "dlv_c" {
		t.Errorf("purge: %d, left %+v", n, got)
	}
}

// insertEvents writes events in one transaction and, where the store leaves
// ordering them to the sequencer (PostgreSQL), seals them as it would, then
// sets each one's Seq as stored.
func insertEvents(t *testing.T, s store.Store, evs ...*steward.WebhookEvent) {
	t.Helper()
	ctx := t.Context()
	update(t, s, func(tx store.Tx) error {
		for _, e := range evs {
			if err := tx.InsertWebhookEvent(ctx, e); err != nil {
				return err
			}
		}
		return nil
	})
	seqs := map[string]int64{}
	deadline := time.Now().Add(10 * time.Second) // the horizon: see sealAll
	for len(seqs) < len(evs) && time.Now().Before(deadline) {
		update(t, s, func(tx store.Tx) error {
			if _, _, err := tx.LockAuditHead(ctx); err != nil {
				return err
			}
			_, err := tx.SealWebhookEvents(ctx, 1000)
			return err
		})
		all, err := s.ListWebhookEvents(ctx, 0, 1000)
		must(t, "ListWebhookEvents", err)
		for _, e := range all {
			seqs[e.ID] = e.Seq
		}
		for k := range seqs {
			if !slices.ContainsFunc(evs, func(e *steward.WebhookEvent) bool { return e.ID == k }) {
				delete(seqs, k)
			}
		}
	}
	for _, e := range evs {
		if e.Seq = seqs[e.ID]; e.Seq == 0 {
			t.Fatalf("event %s was never sealed", e.ID)
		}
	}
}
