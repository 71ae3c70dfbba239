package storetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// appendAudit chains entries onto the log as the service does.
func appendAudit(t *testing.T, s store.Store, entries ...*steward.AuditEntry) {
	t.Helper()
	update(t, s, func(tx store.Tx) error {
		for _, e := range entries {
			seq, prev, err := tx.LockAuditHead(t.Context())
			if err != nil {
				return err
			}
			e.Seq, e.PrevHash = seq+1, prev
			e.Hash = e.ComputeHash()
			if err := tx.InsertAudit(t.Context(), e); err != nil {
				return err
			}
		}
		return nil
	})
}

// auditFixture is 25 entries, a minute apart, with every field set on some.
func auditFixture() []*steward.AuditEntry {
	changes := []json.RawMessage{
		nil,
		json.RawMessage(`{"role":{"before":"user","after":"admin"}}`),
		json.RawMessage("{ \"a\" : 1 ,\"b\":[1, 2],\n\"a\":2 }"), // not canonical, duplicate key
		json.RawMessage(`{}`),
	}
	var out []*steward.AuditEntry
	for i := 1; i <= 25; i++ {
		e := &steward.AuditEntry{
			ID:         auditID(i),
			Time:       at(time.Duration(i) * time.Minute),
			ActorType:  steward.ActorOperator,
			ActorID:    userID(i%3 + 1),
			ActorRole:  string(steward.RoleAdmin),
			Action:     []string{"user.ban", "user.update", "session.revoke", "user.delete"}[i%4],
			TargetType: []string{"user", "session"}[i%2],
			TargetID:   userID(i%5 + 10),
			Reason:     fmt.Sprintf("reason %d", i),
			Changes:    changes[i%4],
			Metadata:   changes[(i+1)%4],
			IP:         "198.51.100.1",
			UserAgent:  "admin-cli",
			RequestID:  fmt.Sprintf("req_%d", i),
		}
		if i%4 == 0 {
			e.TenantID = "ten_a"
		}
		if i%6 == 0 {
			e.ImpersonatorID, e.CredentialID = userID(99), sessionID(i)
			e.ActorType = steward.ActorUser
		}
		if i == 7 {
			e.ActorType, e.ActorID, e.ActorRole = steward.ActorSystem, "system", ""
		}
		if i == 5 {
			e.Metadata = json.RawMessage{} // empty, not nil: reads back as nil
		}
		out = append(out, e)
	}
	return out
}

func auditMatches(e *steward.AuditEntry, f steward.AuditFilter) bool {
	return (f.ActorID == "" || e.ActorID == f.ActorID) &&
		(f.Action == "" || e.Action == f.Action) &&
		(f.TargetType == "" || e.TargetType == f.TargetType) &&
		(f.TargetID == "" || e.TargetID == f.TargetID) &&
		(f.TenantID == "" || e.TenantID == f.TenantID) &&
		(f.Since == nil || !e.Time.Before(*f.Since)) &&
		(f.Until == nil || e.Time.Before(*f.Until))
}

var auditFilters = []struct {
	name string
	f    steward.AuditFilter
}{
	{"none", steward.AuditFilter{}},
	{"actor", steward.AuditFilter{ActorID: userID(2)}},
	{"action", steward.AuditFilter{Action: "user.ban"}},
	{"action is exact", steward.AuditFilter{Action: "user"}},
	{"target type", steward.AuditFilter{TargetType: "session"}},
	{"target", steward.AuditFilter{TargetType: "user", TargetID: userID(11)}},
	{"tenant", steward.AuditFilter{TenantID: "ten_a"}},
	{"since", steward.AuditFilter{Since: ptr(at(20 * time.Minute))}},
	{"until", steward.AuditFilter{Until: ptr(at(5 * time.Minute))}},
	{"window", steward.AuditFilter{Since: ptr(at(3 * time.Minute)), Until: ptr(at(17*time.Minute + time.Second))}},
	{"actor and action", steward.AuditFilter{ActorID: userID(1), Action: "user.update"}},
}

func testAuditListFilters(t *testing.T, s store.Store) {
	ctx := t.Context()
	update(t, s, func(tx store.Tx) error {
		seq, hash, err := tx.LockAuditHead(ctx)
		if seq != 0 || hash != "" || err != nil {
			t.Errorf("LockAuditHead of an empty log = %d, %q, %v", seq, hash, err)
		}
		return err
	})
	entries := auditFixture()
	appendAudit(t, s, entries[:10]...)
	appendAudit(t, s, entries[10:]...)
	for _, e := range entries {
		if len(e.Changes) == 0 {
			e.Changes = nil // empty reads back as absent
		}
		if len(e.Metadata) == 0 {
			e.Metadata = nil
		}
	}
	last := entries[len(entries)-1]
	update(t, s, func(tx store.Tx) error {
		seq, hash, err := tx.LockAuditHead(ctx)
		if seq != last.Seq || hash != last.Hash || err != nil {
			t.Errorf("LockAuditHead = %d, %q, %v; want %d, %q", seq, hash, err, last.Seq, last.Hash)
		}
		return err
	})

	got, err := s.ListAudit(ctx, steward.AuditFilter{})
	must(t, "ListAudit", err)
	if len(got) != len(entries) {
		t.Fatalf("ListAudit = %d entries, want %d", len(got), len(entries))
	}
	for i, e := range got {
		want := entries[len(entries)-1-i]
		equal(t, "ListAudit entry", e, want)
		if e.ComputeHash() != e.Hash {
			t.Errorf("entry %d: hash no longer verifies after a round trip", e.Seq)
		}
	}

	for _, tc := range auditFilters {
		var want []string
		for i := len(entries) - 1; i >= 0; i-- {
			if auditMatches(entries[i], tc.f) {
				want = append(want, entries[i].ID)
			}
		}
		got, err := s.ListAudit(ctx, tc.f)
		must(t, "ListAudit", err)
		sameIDs(t, tc.name, ids(got, func(e *steward.AuditEntry) string { return e.ID }), want)

		// Counts ignore the page: BeforeSeq and Limit are set to show it.
		cf := tc.f
		cf.BeforeSeq, cf.Limit = 12, 1
		n, err := s.CountAudit(ctx, cf)
		must(t, "CountAudit", err)
		if n != int64(len(want)) {
			t.Errorf("%s: CountAudit = %d, want %d", tc.name, n, len(want))
		}

		var paged []string
		f := tc.f
		f.Limit = 4
		for range len(want) + 1 {
			page, err := s.ListAudit(ctx, f)
			must(t, "ListAudit", err)
			paged = append(paged, ids(page, func(e *steward.AuditEntry) string { return e.ID })...)
			if len(page) < f.Limit {
				break
			}
			f.BeforeSeq = page[len(page)-1].Seq
		}
		sameIDs(t, tc.name+" paged by 4", paged, want)
	}

	dup := *entries[3]
	dup.Seq = 100
	err = s.Update(ctx, func(tx store.Tx) error { return tx.InsertAudit(ctx, &dup) })
	var de *store.DuplicateError
	if !errors.As(err, &de) {
		t.Errorf("InsertAudit with a taken id: err = %v, want a DuplicateError", err)
	}
	dup = *entries[3]
	dup.ID = auditID(100)
	err = s.Update(ctx, func(tx store.Tx) error { return tx.InsertAudit(ctx, &dup) })
	if !errors.As(err, &de) {
		t.Errorf("InsertAudit with a taken seq: err = %v, want a DuplicateError", err)
	}
}

func testAuditScan(t *testing.T, s store.Store) {
	ctx := t.Context()
	entries := auditFixture()
	appendAudit(t, s, entries...)

	for _, tc := range auditFilters {
		var want []string
		for _, e := range entries {
			if auditMatches(e, tc.f) {
				want = append(want, e.ID)
			}
		}
		f := tc.f
		f.BeforeSeq, f.Limit = 3, 1 // ignored by scans
		var got []string
		prev := int64(0)
		err := s.ScanAudit(ctx, f, func(e *steward.AuditEntry) error {
			if e.Seq <= prev {
				t.Errorf("%s: seq %d after %d", tc.name, e.Seq, prev)
			}
			prev = e.Seq
			got = append(got, e.ID)
			return nil
		})
		must(t, "ScanAudit", err)
		sameIDs(t, "scan "+tc.name, got, want)
	}

	stop := errors.New("stop here")
	calls := 0
	err := s.ScanAudit(ctx, steward.AuditFilter{}, func(e *steward.AuditEntry) error {
		calls++
		if calls == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Errorf("ScanAudit whose fn fails: err = %v, want %v", err, stop)
	}
	if calls != 3 {
		t.Errorf("ScanAudit went on after fn failed: %d calls, want 3", calls)
	}

	// fn may read and write through the store while the scan is open.
	calls = 0
	err = s.ScanAudit(ctx, steward.AuditFilter{}, func(e *steward.AuditEntry) error {
		calls++
		if _, err := s.ListAudit(ctx, steward.AuditFilter{Limit: 1}); err != nil {
			return err
		}
		if calls == 1 {
			return s.Update(ctx, func(tx store.Tx) error {
				return tx.InsertSigningKey(ctx, &steward.SigningKey{ID: "key_scan", PrivateKey: []byte{1}, CreatedAt: t0})
			})
		}
		return nil
	})
	if err != nil {
		t.Errorf("ScanAudit whose fn uses the store: %v", err)
	}

	// The store stays usable after a scan stopped part way.
	appendAudit(t, s, &steward.AuditEntry{ID: auditID(26), Time: t0, Action: "after.scan"})
}

// testAuditScanPages crosses the stores' page boundaries (500 entries a
// page on both) with and without a filter, and checks that a scan ends at
// the head as of its start: entries appended while it runs, between
// pages, are left for the next scan.
func testAuditScanPages(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n = 1203
	entries := make([]*steward.AuditEntry, n)
	for i := range entries {
		action := "odd"
		if i%2 == 0 {
			action = "even"
		}
		entries[i] = &steward.AuditEntry{ID: auditID(i + 1), Time: t0, Action: action}
	}
	appendAudit(t, s, entries...)
	for _, tc := range []struct {
		f    steward.AuditFilter
		want int
	}{{steward.AuditFilter{}, n}, {steward.AuditFilter{Action: "even"}, (n + 1) / 2}} {
		late := n + len(tc.f.Action)*10 // distinct ids per case
		var got []int64
		appended := false
		err := s.ScanAudit(ctx, tc.f, func(e *steward.AuditEntry) error {
			got = append(got, e.Seq)
			if !appended && len(got) == 600 { // on the second page
				appended = true
				appendAudit(t, s, &steward.AuditEntry{ID: auditID(late + 1), Time: t0, Action: tc.f.Action + "late"},
					&steward.AuditEntry{ID: auditID(late + 2), Time: t0, Action: tc.f.Action})
			}
			return nil
		})
		must(t, "ScanAudit", err)
		if len(got) != tc.want {
			t.Errorf("ScanAudit(%+v) = %d entries, want %d", tc.f, len(got), tc.want)
		}
		for i := 1; i < len(got); i++ {
			if got[i] <= got[i-1] {
				t.Fatalf("ScanAudit(%+v): seq %d after %d", tc.f, got[i], got[i-1])
			}
		}
		if len(got) > 0 && got[len(got)-1] > n {
			t.Errorf("ScanAudit(%+v) returned seq %d, appended after the scan began", tc.f, got[len(got)-1])
		}
	}
}

func testAuditBytes(t *testing.T, s store.Store) {
	ctx := t.Context()
	odd := []json.RawMessage{
		json.RawMessage(`{"k":"\u00e9 é",  "n": 1.50, "big": 12345678901234567890}`),
		json.RawMessage("[\n\t1,\n\t2\n]\n"),
		json.RawMessage(`"just a string"`),
		json.RawMessage(`null`),
		json.RawMessage(`{"z":1,"a":{"y":[],"b":{}}}`),
	}
	var entries []*steward.AuditEntry
	for i, raw := range odd {
		entries = append(entries, &steward.AuditEntry{ID: auditID(i + 1), Time: t0, Action: "bytes",
			Changes: raw, Metadata: odd[len(odd)-1-i]})
	}
	appendAudit(t, s, entries...)
	var got []*steward.AuditEntry
	must(t, "ScanAudit", s.ScanAudit(ctx, steward.AuditFilter{}, func(e *steward.AuditEntry) error {
		got = append(got, e)
		return nil
	}))
	if len(got) != len(entries) {
		t.Fatalf("ScanAudit = %d entries, want %d", len(got), len(entries))
	}
	for i, e := range got {
		if !bytes.Equal(e.Changes, entries[i].Changes) || !bytes.Equal(e.Metadata, entries[i].Metadata) {
			t.Errorf("entry %d: Changes %q Metadata %q, want %q and %q byte for byte",
				e.Seq, e.Changes, e.Metadata, entries[i].Changes, entries[i].Metadata)
		}
		if e.ComputeHash() != entries[i].Hash {
			t.Errorf("entry %d: hash does not verify after a round trip", e.Seq)
		}
	}
}
