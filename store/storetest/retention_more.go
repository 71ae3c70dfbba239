package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// testRetentionAudit: the purge bound is the end of the oldest run of
// entries past the cut (however old the entries after the first young
// one), below the given seq and at most limit long; deleting through it
// and the anchor round trip.
func testRetentionAudit(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.AuditAnchor(ctx)
	notFound(t, "AuditAnchor of a new store", err)
	// Entries 1-4 before the cut, 5 on it, 6 before it again (a replica's
	// clock behind), 7 after.
	times := []time.Duration{-4 * time.Hour, -3 * time.Hour, -2 * time.Hour, -time.Hour, 0, -time.Hour, time.Hour}
	entries := make([]*steward.AuditEntry, len(times))
	for i, d := range times {
		entries[i] = &steward.AuditEntry{ID: fmt.Sprintf("aud_ret%02d", i+1), Time: at(d), Action: "test.entry"}
	}
	appendAudit(t, s, entries...)
	bound := func(below int64, limit int, want int64) {
		t.Helper()
		var seq int64
		var hash string
		update(t, s, func(tx store.Tx) (err error) {
			seq, hash, err = tx.AuditPurgeBound(ctx, t0, below, limit)
			return err
		})
		wantHash := ""
		if want > 0 {
			wantHash = entries[want-1].Hash
		}
		if seq != want || hash != wantHash {
			t.Errorf("AuditPurgeBound(below %d, limit %d) = %d %q, want %d %q", below, limit, seq, hash, want, wantHash)
		}
	}
	bound(8, 100, 4) // stops at entry 5, not past its age; 6 stays
	bound(8, 3, 3)
	bound(3, 100, 2) // below the head given
	bound(1, 100, 0)
	var n int64
	update(t, s, func(tx store.Tx) (err error) {
		if n, err = tx.DeleteAuditThrough(ctx, 3); err != nil {
			return err
		}
		return tx.SetAuditAnchor(ctx, &steward.AuditAnchor{Seq: 3, Hash: entries[2].Hash, At: at(time.Minute)})
	})
	if n != 3 {
		t.Errorf("DeleteAuditThrough(3) = %d, want 3", n)
	}
	bound(8, 100, 4)
	got, err := s.AuditAnchor(ctx)
	must(t, "AuditAnchor", err)
	equal(t, "AuditAnchor", got, &steward.AuditAnchor{Seq: 3, Hash: entries[2].Hash, At: at(time.Minute)})
	update(t, s, func(tx store.Tx) error {
		return tx.SetAuditAnchor(ctx, &steward.AuditAnchor{Seq: 4, Hash: entries[3].Hash, At: at(2 * time.Minute)})
	})
	got, err = s.AuditAnchor(ctx)
	must(t, "AuditAnchor moved", err)
	equal(t, "AuditAnchor moved", got, &steward.AuditAnchor{Seq: 4, Hash: entries[3].Hash, At: at(2 * time.Minute)})
	var kept []int64
	must(t, "ScanAudit", s.ScanAudit(ctx, steward.AuditFilter{}, func(e *steward.AuditEntry) error {
		kept = append(kept, e.Seq)
		return nil
	}))
	equal(t, "entries kept", kept, []int64{4, 5, 6, 7})
	// The head's seq and hash are still the chain's end.
	update(t, s, func(tx store.Tx) error {
		seq, hash, err := tx.LockAuditHead(ctx)
		if err == nil && (seq != 7 || hash != entries[6].Hash) {
			t.Errorf("LockAuditHead after a purge = %d %q", seq, hash)
		}
		return err
	})
}

// testRetentionActivityIdempotency: activity hours, latest active hours
// and remembered days before the cut go, within one limit, and the
// per-hour counts of latest active hours follow; idempotency records by
// expiry.
func testRetentionActivityIdempotency(t *testing.T, s store.Store) {
	ctx := t.Context()
	createUsers(t, s, newUser(1), newUser(2), newUser(3))
	hour := func(d time.Duration) time.Time { return t0.Truncate(time.Hour).Add(d) }
	update(t, s, func(tx store.Tx) error {
		// user 1: two old hours; user 2: an old hour and a young one (its
		// latest); user 3: young only.
		return tx.RecordActivity(ctx, []string{userID(1), userID(1), userID(2), userID(2), userID(3)},
			[]time.Time{hour(-72 * time.Hour), hour(-48 * time.Hour), hour(-72 * time.Hour), hour(time.Hour), hour(2 * time.Hour)})
	})
	cut := hour(-time.Hour)
	update(t, s, func(tx store.Tx) error {
		return tx.SaveActiveDays(ctx, "UTC", map[string]int64{
			"2025-03-11": 1, "2025-03-12": 2, "2025-03-13": 3, "2025-03-14": 4})
	})
	purge := func(limit int, want int64) {
		t.Helper()
		var n int64
		update(t, s, func(tx store.Tx) (err error) { n, err = tx.PurgeUserActivity(ctx, cut, limit); return err })
		if n != want {
			t.Errorf("PurgeUserActivity(limit %d) = %d, want %d", limit, n, want)
		}
	}
	// 3 activity hours, user 1's latest hour, 2 remembered days: the cut
	// is 2025-03-14 14:00 UTC, and the 13th may still be running in some
	// zone then, so it stays with the 14th.
	purge(2, 2)
	purge(2, 2)
	purge(2, 2)
	purge(2, 0)
	n, err := s.ActiveUsers(ctx, hour(-100*time.Hour), hour(-time.Hour))
	must(t, "ActiveUsers", err)
	if n != 0 {
		t.Errorf("ActiveUsers before the cut = %d, want 0", n)
	}
	n, err = s.ActiveUsers(ctx, cut, hour(3*time.Hour))
	must(t, "ActiveUsers", err)
	if n != 2 {
		t.Errorf("ActiveUsers after the cut = %d, want 2", n)
	}
	n, err = s.ActiveSince(ctx, hour(-100*time.Hour))
	must(t, "ActiveSince", err)
	if n != 2 {
		t.Errorf("ActiveSince = %d, want 2 (user 1's latest hour purged)", n)
	}
	days, err := s.ActiveDays(ctx, "UTC", "2000-01-01", "2100-01-01")
	must(t, "ActiveDays", err)
	equal(t, "ActiveDays kept", days, map[string]int64{"2025-03-13": 3, "2025-03-14": 4})
	drifts, err := s.RecountSeries(ctx)
	must(t, "RecountSeries", err)
	if len(drifts) != 0 {
		t.Errorf("RecountSeries after the purge: %+v", drifts)
	}

	// Idempotency records: expired before the cut go.
	rec := func(n int, expires time.Time) *steward.IdempotencyRecord {
		return &steward.IdempotencyRecord{KeyHash: []byte(fmt.Sprintf("ret%d", n)), RequestHash: []byte("req"),
			CreatedAt: expires.Add(-24 * time.Hour), ExpiresAt: expires}
	}
	recs := []*steward.IdempotencyRecord{rec(1, at(-2*time.Hour)), rec(2, at(-time.Hour)), rec(3, t0), rec(4, at(time.Hour))}
	update(t, s, func(tx store.Tx) error {
		for _, r := range recs {
			if err := tx.InsertIdempotency(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	for _, step := range []struct {
		limit int
		want  int64
	}{{1, 1}, {5, 1}, {5, 0}} {
		var got int64
		update(t, s, func(tx store.Tx) (err error) { got, err = tx.PurgeIdempotency(ctx, t0, step.limit); return err })
		if got != step.want {
			t.Errorf("PurgeIdempotency(limit %d) = %d, want %d", step.limit, got, step.want)
		}
	}
	for i, r := range recs {
		_, err := s.GetIdempotency(ctx, r.KeyHash)
		if i < 2 {
			notFound(t, "GetIdempotency purged", err)
		} else {
			must(t, "GetIdempotency kept", err)
		}
	}
}
