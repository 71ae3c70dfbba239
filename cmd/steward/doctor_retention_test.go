package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
	"github.com/stewardhq/steward/store"
)

// TestDoctorAfterRetention on both stores: after a run purging every data
// set (the audit log included), doctor says the chain is ok from the
// anchor, and where that is, holds it to a checkpoint of a purged entry
// without a break, and finds the counters equal to the rows.
func TestDoctorAfterRetention(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		ctx, sys := context.Background(), apptest.System()
		patch := steward.RetentionPatch{}
		for _, set := range []string{"sessions", "impersonations", "usage_events", "key_usage", "idempotency", "user_activity", "audit_log"} {
			patch[set] = json.RawMessage(`1`)
		}
		if _, err := a.Svc.Retention.UpdateRetention(sys, patch); err != nil {
			t.Fatal(err)
		}
		u := a.User(steward.RoleUser)
		a.Login(u.Email)
		if err := a.Store.Update(ctx, func(tx store.Tx) error {
			return tx.RecordActivity(ctx, []string{u.ID}, []time.Time{a.Clock.Now().Truncate(time.Hour)})
		}); err != nil {
			t.Fatal(err)
		}
		a.EnsureTenant(t, "ten_doc")
		old := a.Clock.Now()
		if _, err := a.Svc.Credits.RecordUsage(sys, &steward.UsageBatch{Events: []steward.UsageEventInput{
			{ID: "old", TenantID: "ten_doc", Metric: "tokens", Quantity: 5, OccurredAt: &old}}}); err != nil {
			t.Fatal(err)
		}
		cp, err := a.Svc.Audit.CreateAuditCheckpoint(sys)
		if err != nil {
			t.Fatal(err)
		}
		a.Clock.Advance(100 * 24 * time.Hour) // past every session's expiry too
		a.User(steward.RoleUser)
		run, err := a.Svc.Retention.RunRetention(sys)
		if err != nil {
			t.Fatal(err)
		}
		anchor := run.Tables["audit_log"].Anchor
		if anchor == nil || anchor.Seq < cp.Seq || run.Tables["usage_events"].Purged != 1 || run.Tables["user_activity"].Purged == 0 ||
			run.Tables["sessions"].Purged == 0 {
			t.Fatalf("run: %+v", run)
		}
		var out bytes.Buffer
		if err := doctor(ctx, a.Svc, []*steward.AuditCheckpoint{cp}, &out); err != nil ||
			!strings.Contains(out.String(), fmt.Sprintf("entries from seq %d,", anchor.Seq+1)) ||
			!strings.Contains(out.String(), fmt.Sprintf("audit chain: anchored at seq %d (hash %s, since ", anchor.Seq, anchor.Hash)) {
			t.Fatalf("doctor after the purge: %v\n%s", err, out.String())
		}
		out.Reset()
		if ok, err := doctorCounters(ctx, a.Svc, false, &out); err != nil || !ok || !strings.Contains(out.String(), "counters: ok") {
			t.Fatalf("counters after the purge: %v %v\n%s", ok, err, out.String())
		}
	})
}
