package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// pendingEntry is an entry as the service appends it: no seq or hashes.
func pendingEntry(i int, tm time.Time, action string) *steward.AuditEntry {
	return &steward.AuditEntry{ID: auditID(100 + i), Time: tm, ActorType: steward.ActorSystem,
		ActorID: "system", Action: action, TargetType: "user", TargetID: userID(i), Pending: true}
}

// sealAll runs seal passes as the service's sequencer does until want
// entries are sealed (at least one pass), and returns them as sealed. On
// PostgreSQL an entry is sealable once every transaction older than its
// writer ended, in the whole cluster: other tests' transactions, short as
// they are, can hold a pass back, so it passes again until a deadline.
func sealAll(t *testing.T, s store.Store, want int) []*steward.AuditEntry {
	t.Helper()
	var out []*steward.AuditEntry
	deadline := time.Now().Add(10 * time.Second)
	for {
		out = append(out, sealPass(t, s)...)
		if len(out) >= want || time.Now().After(deadline) {
			return out
		}
	}
}

func sealPass(t *testing.T, s store.Store) []*steward.AuditEntry {
	t.Helper()
	var out []*steward.AuditEntry
	update(t, s, func(tx store.Tx) error {
		out = nil
		seq, prev, err := tx.LockAuditHead(t.Context())
		if err != nil {
			return err
		}
		batch, err := tx.SealableAudit(t.Context(), 1000)
		if err != nil {
			return err
		}
		for _, e := range batch {
			seq++
			e.Seq, e.PrevHash, e.Pending = seq, prev, false
			e.Hash = e.ComputeHash()
			prev = e.Hash
		}
		out = batch
		return tx.SealAudit(t.Context(), batch)
	})
	return out
}

func auditIDs(list []*steward.AuditEntry) []string {
	return ids(list, func(e *steward.AuditEntry) string { return e.ID })
}

// testAuditPendingSeal: pending entries are stored without seq or hashes,
// counted, listed first only when asked, left out of scans; a pass seals
// them in insertion order onto the sealed head, and the head moves.
func testAuditPendingSeal(t *testing.T, s store.Store) {
	ctx := t.Context()
	sealed := auditFixture()[:3]
	appendAudit(t, s, sealed...)

	p, err := s.AuditPending(ctx)
	must(t, "AuditPending", err)
	if p.Count != 0 || p.Oldest != nil {
		t.Errorf("AuditPending of a sealed log = %+v", p)
	}
	pend := []*steward.AuditEntry{
		pendingEntry(1, at(time.Hour), "user.ban"),
		pendingEntry(2, at(time.Hour+time.Second), "user.update"),
		pendingEntry(3, at(time.Hour+2*time.Second), "user.ban"),
	}
	update(t, s, func(tx store.Tx) error {
		for _, e := range pend[:2] {
			if err := tx.InsertAudit(ctx, e); err != nil {
				return err
			}
		}
		return nil
	})
	update(t, s, func(tx store.Tx) error { return tx.InsertAudit(ctx, pend[2]) })

	p, err = s.AuditPending(ctx)
	must(t, "AuditPending", err)
	if p.Count != 3 || p.Oldest == nil || !p.Oldest.Equal(pend[0].Time) {
		t.Errorf("AuditPending = %+v, want 3 from %v", p, pend[0].Time)
	}
	n, err := s.CountAudit(ctx, steward.AuditFilter{})
	must(t, "CountAudit", err)
	if n != 6 {
		t.Errorf("CountAudit = %d, want 6 (pending ones too)", n)
	}

	// Lists: pending first, newest first, unless sealed only.
	got, err := s.ListAudit(ctx, steward.AuditFilter{SealedOnly: true})
	must(t, "ListAudit sealed only", err)
	if want := []string{sealed[2].ID, sealed[1].ID, sealed[0].ID}; !slices.Equal(auditIDs(got), want) {
		t.Errorf("ListAudit sealed only = %v, want %v", auditIDs(got), want)
	}
	got, err = s.ListAudit(ctx, steward.AuditFilter{Limit: 4})
	must(t, "ListAudit with pending", err)
	if want := []string{pend[2].ID, pend[1].ID, pend[0].ID, sealed[2].ID}; !slices.Equal(auditIDs(got), want) {
		t.Errorf("ListAudit with pending = %v, want %v", auditIDs(got), want)
	}
	for _, e := range got[:3] {
		if !e.Pending || e.Seq != 0 || e.Hash != "" || e.PrevHash != "" {
			t.Errorf("pending entry read back as %+v", e)
		}
	}
	if got[3].Pending || got[3].Seq != sealed[2].Seq {
		t.Errorf("sealed entry read back as %+v", got[3])
	}
	got, err = s.ListAudit(ctx, steward.AuditFilter{Action: "user.ban"})
	must(t, "ListAudit with pending, filtered", err)
	if want := []string{pend[2].ID, pend[0].ID}; !slices.Equal(auditIDs(got), want) {
		t.Errorf("ListAudit user.ban with pending = %v, want %v", auditIDs(got), want)
	}
	got, err = s.ListAudit(ctx, steward.AuditFilter{BeforeSeq: sealed[2].Seq})
	must(t, "ListAudit with pending, second page", err)
	if want := []string{sealed[1].ID, sealed[0].ID}; !slices.Equal(auditIDs(got), want) {
		t.Errorf("a later page = %v, want only sealed %v", auditIDs(got), want)
	}
	var scanned []string
	must(t, "ScanAudit", s.ScanAudit(ctx, steward.AuditFilter{}, func(e *steward.AuditEntry) error {
		scanned = append(scanned, e.ID)
		return nil
	}))
	if len(scanned) != 3 {
		t.Errorf("ScanAudit = %v, want the 3 sealed entries", scanned)
	}

	// A pass seals them in insertion order onto the head.
	out := sealAll(t, s, 3)
	if !slices.Equal(auditIDs(out), auditIDs(pend)) {
		t.Fatalf("sealed %v, want %v in insertion order", auditIDs(out), auditIDs(pend))
	}
	var chain []*steward.AuditEntry
	must(t, "ScanAudit", s.ScanAudit(ctx, steward.AuditFilter{}, func(e *steward.AuditEntry) error {
		chain = append(chain, e)
		return nil
	}))
	if len(chain) != 6 {
		t.Fatalf("chain = %d entries, want 6", len(chain))
	}
	for i, e := range chain {
		if e.Seq != int64(i+1) || e.Pending || e.ComputeHash() != e.Hash || (i > 0 && e.PrevHash != chain[i-1].Hash) {
			t.Errorf("chain[%d] = seq %d pending %v: does not link", i, e.Seq, e.Pending)
		}
	}
	p, err = s.AuditPending(ctx)
	must(t, "AuditPending", err)
	if p.Count != 0 || p.Oldest != nil {
		t.Errorf("AuditPending after sealing = %+v", p)
	}
	update(t, s, func(tx store.Tx) error {
		seq, hash, err := tx.LockAuditHead(ctx)
		if seq != 6 || hash != chain[5].Hash {
			t.Errorf("head after sealing = %d %q, want 6 %q", seq, hash, chain[5].Hash)
		}
		return err
	})
	if more := sealPass(t, s); len(more) != 0 {
		t.Errorf("a second pass sealed %v", auditIDs(more))
	}

	// Sealing an entry that is no longer pending fails: nothing is sealed
	// twice, even by a sealer working from a stale read.
	err = s.Update(ctx, func(tx store.Tx) error {
		e := *chain[5]
		e.Seq = 7
		return tx.SealAudit(ctx, []*steward.AuditEntry{&e})
	})
	if err == nil {
		t.Error("SealAudit of a sealed entry succeeded")
	}
}

// testAuditSealOwn: a transaction's own pending entries are sealable to it
// (a checkpoint signs the entry it writes), and a rolled-back one leaves
// nothing behind.
func testAuditSealOwn(t *testing.T, s store.Store) {
	ctx := t.Context()
	e := pendingEntry(1, at(0), "audit.checkpoint")
	update(t, s, func(tx store.Tx) error {
		if err := tx.InsertAudit(ctx, e); err != nil {
			return err
		}
		batch, err := tx.SealableAudit(ctx, 10)
		if err != nil {
			return err
		}
		if len(batch) != 1 || batch[0].ID != e.ID {
			t.Errorf("SealableAudit in the writing transaction = %v", auditIDs(batch))
		}
		return nil
	})
	gone := pendingEntry(2, at(time.Second), "user.ban")
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.InsertAudit(ctx, gone); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("Update = %v", err)
	}
	out := sealAll(t, s, 1)
	if !slices.Equal(auditIDs(out), []string{e.ID}) {
		t.Errorf("sealed %v, want only the committed %s", auditIDs(out), e.ID)
	}
}

// testAuditPurgeSealedOnly: retention's bound and delete see sealed entries
// only, however old a pending one is.
func testAuditPurgeSealedOnly(t *testing.T, s store.Store) {
	ctx := t.Context()
	appendAudit(t, s, auditFixture()[:5]...)
	old := pendingEntry(1, at(0), "user.ban") // older than every sealed entry
	update(t, s, func(tx store.Tx) error { return tx.InsertAudit(ctx, old) })
	update(t, s, func(tx store.Tx) error {
		seq, _, err := tx.AuditPurgeBound(ctx, at(time.Hour), 5, 100)
		if err != nil {
			return err
		}
		if seq != 4 {
			t.Errorf("AuditPurgeBound = %d, want 4 (below the head)", seq)
		}
		n, err := tx.DeleteAuditThrough(ctx, seq)
		if n != 4 {
			t.Errorf("DeleteAuditThrough = %d, want 4", n)
		}
		return err
	})
	p, err := s.AuditPending(ctx)
	must(t, "AuditPending", err)
	if p.Count != 1 {
		t.Errorf("AuditPending after a purge = %+v, want the pending entry kept", p)
	}
	out := sealAll(t, s, 1)
	if len(out) != 1 || out[0].Seq != 6 {
		t.Errorf("sealed after a purge = %+v, want seq 6", out)
	}
}
