package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

func checkpointID(n int) string { return fmt.Sprintf("ckp_%020d", n) }

func newCheckpoint(n int, seq int64) *steward.AuditCheckpoint {
	return &steward.AuditCheckpoint{
		ID:        checkpointID(n),
		Seq:       seq,
		Hash:      fmt.Sprintf("%064x", seq),
		Time:      at(time.Duration(n) * time.Minute),
		KeyID:     fmt.Sprintf("jwk_%d", n%2),
		Signature: fmt.Sprintf("eyJhbGciOiJFZERTQSJ9.payload-%d.signature", n),
	}
}

// testAuditCheckpoints pins the checkpoint table: a round trip of every
// field, newest-first keyset pages, the latest by seq rather than by id,
// duplicates and rollback.
func testAuditCheckpoints(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.LatestAuditCheckpoint(ctx)
	notFound(t, "LatestAuditCheckpoint of a new store", err)
	list, err := s.ListAuditCheckpoints(ctx, "", 10)
	must(t, "ListAuditCheckpoints", err)
	if list == nil || len(list) != 0 {
		t.Fatalf("ListAuditCheckpoints of a new store = %#v, want an empty list", list)
	}

	// Checkpoint 4 was made (by a replica whose clock was behind) at a
	// lower seq than checkpoint 3: the latest is the highest seq.
	cps := []*steward.AuditCheckpoint{newCheckpoint(1, 5), newCheckpoint(2, 9), newCheckpoint(3, 40), newCheckpoint(4, 12), newCheckpoint(5, 41)}
	update(t, s, func(tx store.Tx) error {
		for _, i := range []int{2, 0, 4, 1, 3} {
			if err := tx.InsertAuditCheckpoint(ctx, cps[i]); err != nil {
				return err
			}
		}
		// Read back inside the transaction that wrote it.
		latest, err := tx.LatestAuditCheckpoint(ctx)
		if err != nil {
			return err
		}
		equal(t, "LatestAuditCheckpoint inside the transaction", latest, cps[4])
		return nil
	})
	latest, err := s.LatestAuditCheckpoint(ctx)
	must(t, "LatestAuditCheckpoint", err)
	equal(t, "LatestAuditCheckpoint", latest, cps[4])

	all, err := s.ListAuditCheckpoints(ctx, "", 0)
	must(t, "ListAuditCheckpoints", err)
	want := slices.Clone(cps)
	slices.Reverse(want)
	if len(all) != len(want) {
		t.Fatalf("ListAuditCheckpoints = %d, want %d", len(all), len(want))
	}
	for i := range want {
		equal(t, "ListAuditCheckpoints newest first", all[i], want[i])
	}
	// Keyset pages of two.
	var got []string
	before := ""
	for range 10 {
		page, err := s.ListAuditCheckpoints(ctx, before, 2)
		must(t, "ListAuditCheckpoints page", err)
		if len(page) == 0 {
			break
		}
		for _, c := range page {
			got = append(got, c.ID)
		}
		before = page[len(page)-1].ID
	}
	equal(t, "pages", got, ids(want, func(c *steward.AuditCheckpoint) string { return c.ID }))

	err = s.Update(ctx, func(tx store.Tx) error { return tx.InsertAuditCheckpoint(ctx, newCheckpoint(3, 99)) })
	isDuplicate(t, "InsertAuditCheckpoint with a taken id", err, "id")

	boom := errors.New("boom")
	err = s.Update(ctx, func(tx store.Tx) error {
		if err := tx.InsertAuditCheckpoint(ctx, newCheckpoint(6, 100)); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want boom", err)
	}
	latest, err = s.LatestAuditCheckpoint(ctx)
	must(t, "LatestAuditCheckpoint after a rollback", err)
	equal(t, "LatestAuditCheckpoint after a rollback", latest.ID, cps[4].ID)
}
