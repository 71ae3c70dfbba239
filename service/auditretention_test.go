package service_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
	"github.com/stewardhq/steward/service"
	"github.com/stewardhq/steward/store"
)

var auditRetSeq atomic.Int64

// appendEntries chains n entries of action onto the log at time at,
// straight in the store (the service only writes at its clock's now),
// sealed: the service's pending entries are sealed first, as the sequencer
// would have, so the chain's order is the order of the calls.
func appendEntries(a *apptest.App, n int, action string, at time.Time) ([]*steward.AuditEntry, error) {
	a.Svc.Audit.SealNow(context.Background())
	out := make([]*steward.AuditEntry, n)
	err := a.Store.Update(context.Background(), func(tx store.Tx) error {
		for i := range out {
			seq, prev, err := tx.LockAuditHead(context.Background())
			if err != nil {
				return err
			}
			e := &steward.AuditEntry{ID: fmt.Sprintf("aud_ret%015d", auditRetSeq.Add(1)), Seq: seq + 1, Time: at,
				Action: action, PrevHash: prev}
			e.Hash = e.ComputeHash()
			if err := tx.InsertAudit(context.Background(), e); err != nil {
				return err
			}
			out[i] = e
		}
		return nil
	})
	return out, err
}

func mustAppend(t *testing.T, a *apptest.App, n int, action string, at time.Time) []*steward.AuditEntry {
	t.Helper()
	list, err := appendEntries(a, n, action, at)
	if err != nil {
		t.Fatal(err)
	}
	return list
}

func setRetention(t *testing.T, a *apptest.App, set string, days string) {
	t.Helper()
	if _, err := a.Svc.Retention.UpdateRetention(apptest.System(), steward.RetentionPatch{set: json.RawMessage(days)}); err != nil {
		t.Fatal(err)
	}
}

func countAudit(t *testing.T, a *apptest.App, f steward.AuditFilter) int64 {
	t.Helper()
	n, err := a.Store.CountAudit(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func verifyOK(t *testing.T, a *apptest.App) *steward.AuditVerification {
	t.Helper()
	res, err := a.Svc.Audit.VerifyChain(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK {
		t.Fatalf("verify: %+v", res.FirstBreak)
	}
	return res
}

// Exactly the entries past their age go, batch by batch, each batch
// anchoring the chain and audited audit.anchor; the chain verifies from
// the anchor (the API and the run say where), checkpoints of purged
// entries break nothing, new checkpoints can still be made, and the
// export starts at the oldest kept entry.
func TestRetentionAuditLogPurgeAnchors(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		sys := apptest.System()
		setRetention(t, a, "audit_log", "5")
		if _, err := a.Svc.Audit.CreateAuditCheckpoint(sys); err != nil {
			t.Fatal(err)
		}
		old := mustAppend(t, a, 10, "test.old", a.Clock.Now())
		oldCount := countAudit(t, a, steward.AuditFilter{})
		a.Clock.Advance(5 * 24 * time.Hour)
		// Exactly five days old: not yet past the age.
		young := mustAppend(t, a, 3, "test.young", a.Clock.Now())
		svc := service.New(service.Config{Store: a.Store, Now: a.Clock.Now, RetentionBatch: 4})
		run, err := svc.Retention.RunRetention(sys)
		if err != nil || run.Tables["audit_log"].Purged != 0 || run.Tables["audit_log"].Anchor != nil {
			t.Fatalf("at the age: %+v, %v", run, err)
		}
		a.Clock.Advance(time.Second)
		run, err = svc.Retention.RunRetention(sys)
		if err != nil {
			t.Fatal(err)
		}
		tr := run.Tables["audit_log"]
		last := old[len(old)-1]
		want := &steward.AuditAnchor{Seq: last.Seq, Hash: last.Hash, At: a.Clock.Now()}
		if tr.Purged != oldCount || tr.RetentionDays != 5 || fmt.Sprint(tr.Anchor) != fmt.Sprint(want) {
			t.Fatalf("audit_log run = %+v (anchor %+v), want %d purged, anchor %+v", tr, tr.Anchor, oldCount, want)
		}
		// One audit.anchor entry per batch of 4, each naming its anchor.
		anchors := auditActions(t, a, "audit.anchor")
		if want := (oldCount + 3) / 4; int64(len(anchors)) != want {
			t.Fatalf("%d audit.anchor entries, want %d", len(anchors), want)
		}
		var claim struct {
			Seq  int64  `json:"seq"`
			Hash string `json:"hash"`
		}
		if err := json.Unmarshal(anchors[0].Metadata, &claim); err != nil || claim.Seq != last.Seq || claim.Hash != last.Hash {
			t.Fatalf("latest audit.anchor metadata %s", anchors[0].Metadata)
		}
		if n := countAudit(t, a, steward.AuditFilter{Action: "test.old"}); n != 0 {
			t.Errorf("%d old entries kept", n)
		}
		if n := countAudit(t, a, steward.AuditFilter{Action: "test.young"}); n != 3 {
			t.Errorf("%d young entries kept, want 3", n)
		}
		res := verifyOK(t, a)
		if res.FromSeq != last.Seq+1 || res.Anchor == nil || res.Anchor.Seq != last.Seq || res.Anchor.Hash != last.Hash {
			t.Fatalf("verify from %d, anchor %+v", res.FromSeq, res.Anchor)
		}
		if res.Checkpoints != 1 {
			t.Errorf("checkpoints %d, want 1 (below the anchor, still checked)", res.Checkpoints)
		}
		r := a.Do("GET", "/api/v1/admin/audit-log/verify", a.RootToken, nil)
		if r.Status != 200 || r.Get("ok") != true || r.Get("from_seq") != float64(last.Seq+1) ||
			r.Get("anchor.seq") != float64(last.Seq) || r.Get("anchor.hash") != last.Hash || r.Get("anchor.at") == nil {
			t.Fatalf("GET verify: %d %s", r.Status, r.Raw)
		}
		r = a.Do("POST", "/api/v1/admin/retention/run", a.RootToken, nil)
		if r.Status != 200 || r.Get("tables.audit_log.purged") != float64(0) || r.Get("tables.audit_log.retention_days") != float64(5) {
			t.Fatalf("POST run: %d %s", r.Status, r.Raw)
		}
		// The export starts at the oldest kept entry.
		var first int64
		err = a.Svc.Audit.ExportAudit(sys, steward.AuditFilter{}, "ndjson", func(e *steward.AuditEntry) error {
			if first == 0 {
				first = e.Seq
			}
			return nil
		})
		if err != nil || first != young[0].Seq || first != res.FromSeq {
			t.Fatalf("export starts at %d, want %d: %v", first, young[0].Seq, err)
		}
		// The latest checkpoint signed a purged entry: checkpoints go on.
		if _, err := a.Svc.Audit.CreateAuditCheckpoint(sys); err != nil {
			t.Fatalf("checkpoint after the purge: %v", err)
		}
		verifyOK(t, a)
		// Later, that checkpoint's entry goes too, and the chain still
		// verifies, from the new anchor.
		a.Clock.Advance(6 * 24 * time.Hour)
		mustAppend(t, a, 1, "test.later", a.Clock.Now())
		run, err = a.Svc.Retention.RunRetention(sys)
		if err != nil || run.Tables["audit_log"].Anchor == nil {
			t.Fatalf("second run: %+v, %v", run, err)
		}
		res = verifyOK(t, a)
		if res.Anchor.Seq != run.Tables["audit_log"].Anchor.Seq || res.Checkpoints != 2 {
			t.Fatalf("after the second run: %+v", res)
		}
		if _, err := a.Svc.Audit.CheckpointIfDue(context.Background()); err != nil {
			t.Fatalf("periodic checkpoint after the second run: %v", err)
		}
		verifyOK(t, a)
	})
}

// When every entry is past its age the head stays: the next entry links
// to it.
func TestRetentionAuditLogKeepsTheHead(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		setRetention(t, a, "audit_log", "1")
		old := mustAppend(t, a, 5, "test.old", a.Clock.Now())
		head := old[len(old)-1]
		a.Clock.Advance(48 * time.Hour)
		run, err := a.Svc.Retention.RunRetention(apptest.System())
		if err != nil {
			t.Fatal(err)
		}
		if an := run.Tables["audit_log"].Anchor; an == nil || an.Seq != head.Seq-1 {
			t.Fatalf("anchor %+v, want seq %d", an, head.Seq-1)
		}
		list, err := a.Store.ListAudit(context.Background(), steward.AuditFilter{Action: "test.old", Limit: 10})
		if err != nil || len(list) != 1 || list[0].Hash != head.Hash {
			t.Fatalf("kept old entries: %d, %v", len(list), err)
		}
		res := verifyOK(t, a)
		if res.FromSeq != head.Seq {
			t.Fatalf("from %d, want %d", res.FromSeq, head.Seq)
		}
	})
}

// Writers append while a run purges in small batches, and verifiers walk
// the chain meanwhile: nothing young is lost, every old entry goes, and
// every verification passes, from whichever anchor it found.
func TestRetentionAuditLogConcurrentWriters(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		setRetention(t, a, "audit_log", "1")
		mustAppend(t, a, 300, "test.old", a.Clock.Now())
		oldCount := countAudit(t, a, steward.AuditFilter{})
		a.Clock.Advance(48 * time.Hour)
		svc := service.New(service.Config{Store: a.Store, Now: a.Clock.Now, RetentionBatch: 20})
		var (
			wg   sync.WaitGroup
			done atomic.Bool
		)
		for range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 10 {
					if _, err := appendEntries(a, 2, "test.young", a.Clock.Now()); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		var verified atomic.Int64
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !done.Load() || verified.Load() == 0 {
				res, err := a.Svc.Audit.VerifyChain(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				if !res.OK {
					t.Errorf("verify during the purge: %+v", res.FirstBreak)
					return
				}
				verified.Add(1)
			}
		}()
		run, err := svc.Retention.RunRetention(apptest.System())
		done.Store(true)
		wg.Wait()
		if err != nil {
			t.Fatal(err)
		}
		if got := run.Tables["audit_log"].Purged; got != oldCount {
			t.Fatalf("purged %d, want %d", got, oldCount)
		}
		if n := countAudit(t, a, steward.AuditFilter{Action: "test.young"}); n != 60 {
			t.Fatalf("%d young entries, want 60", n)
		}
		verifyOK(t, a)
	})
}

// Entries deleted outside a retention run, with an anchor row set to hide
// it, are a break: no audit.anchor entry records that anchor. An anchor
// whose hash was changed no longer links to the oldest entry.
func TestRetentionAuditLogForgedAnchor(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		old := mustAppend(t, a, 6, "test.old", a.Clock.Now())
		cut := old[2]
		err := a.Store.Update(context.Background(), func(tx store.Tx) error {
			if _, err := tx.DeleteAuditThrough(context.Background(), cut.Seq); err != nil {
				return err
			}
			return tx.SetAuditAnchor(context.Background(), &steward.AuditAnchor{Seq: cut.Seq, Hash: cut.Hash, At: a.Clock.Now()})
		})
		if err != nil {
			t.Fatal(err)
		}
		res, err := a.Svc.Audit.VerifyChain(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if res.OK || res.FirstBreak.Seq != cut.Seq+1 || !strings.Contains(res.FirstBreak.Reason, "no audit.anchor entry records that anchor") {
			t.Fatalf("forged anchor: %+v", res.FirstBreak)
		}
		err = a.Store.Update(context.Background(), func(tx store.Tx) error {
			return tx.SetAuditAnchor(context.Background(), &steward.AuditAnchor{Seq: cut.Seq, Hash: old[1].Hash, At: a.Clock.Now()})
		})
		if err != nil {
			t.Fatal(err)
		}
		res, err = a.Svc.Audit.VerifyChain(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if res.OK || res.FirstBreak.Seq != cut.Seq+1 || res.FirstBreak.Reason != "prev_hash does not match the previous entry's hash" {
			t.Fatalf("anchor with another hash: %+v", res.FirstBreak)
		}
	})
}
