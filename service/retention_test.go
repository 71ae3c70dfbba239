package service_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
	"github.com/stewardhq/steward/service"
	"github.com/stewardhq/steward/store"
)

// countingStore counts write transactions, to see a purge's batches.
type countingStore struct {
	store.Store
	updates atomic.Int64
}

func (c *countingStore) Update(ctx context.Context, fn func(store.Tx) error) error {
	c.updates.Add(1)
	return c.Store.Update(ctx, fn)
}

var retentionSeq atomic.Int64

// endedSessions inserts n sessions of u revoked at revoked, straight in the
// store (the service only revokes at its clock's now).
func endedSessions(t *testing.T, a *apptest.App, u *steward.User, n int, revoked time.Time) []string {
	t.Helper()
	ids, err := insertEnded(a, u, n, revoked)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func insertEnded(a *apptest.App, u *steward.User, n int, revoked time.Time) ([]string, error) {
	ids := make([]string, n)
	err := a.Store.Update(context.Background(), func(tx store.Tx) error {
		for i := range ids {
			k := retentionSeq.Add(1)
			ids[i] = fmt.Sprintf("ses_ret%015d", k)
			s := &steward.Session{ID: ids[i], UserID: u.ID, TokenHash: []byte(ids[i]),
				CreatedAt: revoked.Add(-time.Hour), LastSeenAt: revoked, ExpiresAt: revoked.Add(30 * 24 * time.Hour),
				RevokedAt: &revoked, RevokedReason: "logout"}
			if err := tx.CreateSession(context.Background(), s); err != nil {
				return err
			}
		}
		return nil
	})
	return ids, err
}

func auditActions(t *testing.T, a *apptest.App, action string) []*steward.AuditEntry {
	t.Helper()
	list, err := a.Store.ListAudit(context.Background(), steward.AuditFilter{Action: action, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// Defaults, a merge patch, "never", null back to the default, and the
// audit entry's before and after; every refusal names its data set.
func TestRetentionSettings(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		ctx := apptest.System()
		got, err := a.Svc.Retention.Retention(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := steward.RetentionSettings{"sessions": 90, "impersonations": steward.RetentionNever, "usage_events": steward.RetentionNever, "key_usage": 90,
			"idempotency": 1, "user_activity": 400, "webhook_deliveries": 30, "audit_log": steward.RetentionNever}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("defaults = %v, want %v", got, want)
		}
		patch := steward.RetentionPatch{"sessions": json.RawMessage(`7`), "key_usage": json.RawMessage(`"never"`)}
		got, err = a.Svc.Retention.UpdateRetention(ctx, patch)
		if err != nil {
			t.Fatal(err)
		}
		want = steward.RetentionSettings{"sessions": 7, "impersonations": steward.RetentionNever, "usage_events": steward.RetentionNever, "key_usage": steward.RetentionNever,
			"idempotency": 1, "user_activity": 400, "webhook_deliveries": 30, "audit_log": steward.RetentionNever}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("after the patch = %v, want %v", got, want)
		}
		entries := auditActions(t, a, "retention.update")
		if len(entries) != 1 {
			t.Fatalf("retention.update entries: %d", len(entries))
		}
		if c := string(entries[0].Changes); c != `{"key_usage":{"before":90,"after":"never"},"sessions":{"before":90,"after":7}}` {
			t.Fatalf("changes = %s", c)
		}
		got, err = a.Svc.Retention.UpdateRetention(ctx, steward.RetentionPatch{"sessions": json.RawMessage(`null`)})
		if err != nil || got["sessions"] != 90 || got["key_usage"] != steward.RetentionNever {
			t.Fatalf("null reset: %v, %v", got, err)
		}
		// Setting what is already there changes nothing and audits nothing.
		if _, err := a.Svc.Retention.UpdateRetention(ctx, steward.RetentionPatch{"sessions": json.RawMessage(`null`)}); err != nil {
			t.Fatal(err)
		}
		if n := len(auditActions(t, a, "retention.update")); n != 2 {
			t.Fatalf("retention.update entries after a no-op: %d, want 2", n)
		}
		// The key_usage default follows --key-usage-retention, in whole days.
		other := service.New(service.Config{Store: a.Store, Now: a.Clock.Now, KeyUsageRetention: 10*24*time.Hour + time.Hour})
		if got, err := other.Retention.Retention(ctx); err != nil || got["key_usage"] != steward.RetentionNever {
			t.Fatalf("a stored key_usage beats the flag: %v, %v", got, err)
		}
		if _, err := other.Retention.UpdateRetention(ctx, steward.RetentionPatch{"key_usage": json.RawMessage(`null`)}); err != nil {
			t.Fatal(err)
		}
		if got, err := other.Retention.Retention(ctx); err != nil || got["key_usage"] != 10 {
			t.Fatalf("key_usage default from the flag: %v, %v", got, err)
		}
	})
}

func TestRetentionSettingsRefused(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		for _, tc := range []struct{ body, field string }{
			{`{"sessions": 0}`, "sessions"},
			{`{"sessions": -3}`, "sessions"},
			{`{"sessions": 1.5}`, "sessions"},
			{`{"sessions": "forever"}`, "sessions"},
			{`{"sessions": {}}`, "sessions"},
			{`{"ledger": 30}`, "ledger"},
			{`{"ledger": null}`, "ledger"},
			{`{"paperwork": 30}`, "paperwork"},
			{`{"idempotency": "never"}`, "idempotency"},
			{`{"idempotency": 0}`, "idempotency"},
			{`{"audit_log": 0}`, "audit_log"},
		} {
			var body map[string]any
			if err := json.Unmarshal([]byte(tc.body), &body); err != nil {
				t.Fatal(err)
			}
			r := a.Do("PUT", "/api/v1/admin/retention", a.RootToken, body)
			if r.Status != 422 || r.Get("code") != steward.CodeValidation || r.Get("details.fields."+tc.field) == nil {
				t.Errorf("%s: %d %s", tc.body, r.Status, r.Raw)
			}
		}
		r := a.Do("PUT", "/api/v1/admin/retention", a.RootToken, map[string]any{"paperwork": 1})
		if msg, _ := r.Get("details.fields.paperwork").(string); msg != "unknown data set; known: sessions, impersonations, usage_events, key_usage, idempotency, user_activity, webhook_deliveries, audit_log" {
			t.Errorf("unknown data set message: %q", msg)
		}
		// Nothing was stored by any refused patch.
		r = a.Do("GET", "/api/v1/admin/retention", a.RootToken, nil)
		if r.Status != 200 || r.Get("sessions") != float64(90) || r.Get("impersonations") != "never" {
			t.Errorf("after refusals: %d %s", r.Status, r.Raw)
		}
		r = a.Do("PUT", "/api/v1/admin/retention", a.RootToken, map[string]any{"sessions": 1, "impersonations": 365})
		if r.Status != 200 || r.Get("sessions") != float64(1) || r.Get("impersonations") != float64(365) {
			t.Errorf("a good patch: %d %s", r.Status, r.Raw)
		}
	})
}

// A run deletes exactly the ended rows past their age, answers the counts,
// audits them and keeps live sessions whatever their age.
func TestRetentionRunPurgesPastAge(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		u := a.User(steward.RoleUser)
		start := a.Clock.Now()
		old := endedSessions(t, a, u, 3, start)
		_, live := a.Login(u.Email) // live, and as old as the ended ones
		a.Clock.Advance(10 * 24 * time.Hour)
		young := endedSessions(t, a, u, 2, a.Clock.Now())
		if _, err := a.Svc.Retention.UpdateRetention(apptest.System(), steward.RetentionPatch{"sessions": json.RawMessage(`10`)}); err != nil {
			t.Fatal(err)
		}
		// At exactly ten days the old ones are not yet past their age.
		run, err := a.Svc.Retention.RunRetention(apptest.System())
		if err != nil || run.Tables["sessions"].Purged != 0 {
			t.Fatalf("at the age: %+v, %v", run, err)
		}
		a.Clock.Advance(time.Second)
		run, err = a.Svc.Retention.RunRetention(apptest.System())
		if err != nil {
			t.Fatal(err)
		}
		if got := run.Tables["sessions"]; got.Purged != 3 || got.RetentionDays != 10 || run.TotalPurged != 3 {
			t.Fatalf("run = %+v", run)
		}
		if got := run.Tables["impersonations"]; got.RetentionDays != steward.RetentionNever || got.Purged != 0 {
			t.Fatalf("impersonations = %+v", got)
		}
		for _, id := range old {
			if _, err := a.Store.GetSession(context.Background(), id); err == nil {
				t.Errorf("old session %s kept", id)
			}
		}
		for _, id := range young {
			if _, err := a.Store.GetSession(context.Background(), id); err != nil {
				t.Errorf("young session %s: %v", id, err)
			}
		}
		if r := a.Do("GET", "/api/v1/auth/me", live, nil); r.Status != 200 {
			t.Errorf("the live session after the run: %d %s", r.Status, r.Raw)
		}
		entries := auditActions(t, a, "retention.run")
		if len(entries) != 2 {
			t.Fatalf("retention.run entries: %d", len(entries))
		}
		var meta steward.RetentionRun
		if err := json.Unmarshal(entries[0].Metadata, &meta); err != nil || meta.TotalPurged != 3 || meta.Tables["sessions"].Purged != 3 {
			t.Fatalf("retention.run metadata %s: %v", entries[0].Metadata, err)
		}
		r := a.Do("POST", "/api/v1/admin/retention/run", a.RootToken, nil)
		if r.Status != 200 || r.Get("total_purged") != float64(0) || r.Get("tables.sessions.retention_days") != float64(10) ||
			r.Get("tables.impersonations.retention_days") != "never" {
			t.Fatalf("POST run: %d %s", r.Status, r.Raw)
		}
	})
}

// More rows than a batch take several short transactions, and all go.
func TestRetentionRunBatches(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		u := a.User(steward.RoleUser)
		endedSessions(t, a, u, 7, a.Clock.Now())
		a.Clock.Advance(91 * 24 * time.Hour)
		cs := &countingStore{Store: a.Store}
		svc := service.New(service.Config{Store: cs, Now: a.Clock.Now, RetentionBatch: 3})
		run, err := svc.Retention.RunRetention(apptest.System())
		if err != nil {
			t.Fatal(err)
		}
		if run.Tables["sessions"].Purged != 7 {
			t.Fatalf("purged %+v", run.Tables["sessions"])
		}
		// sessions: 3+3+1; key_usage, idempotency and user_activity: one
		// batch of 0 each; webhook_deliveries: one batch (the outbox's events:
		// the bootstrap, the user); impersonations, usage_events and audit_log: none
		// (kept forever); then the run's record and audit.
		if n := cs.updates.Load(); n != 3+3+1+1 {
			t.Fatalf("%d transactions, want 8", n)
		}
	})
}

// Writers adding and ending sessions while a run purges lose nothing: the
// run takes only rows past their age, batch by batch.
func TestRetentionRunConcurrentWriters(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		u := a.User(steward.RoleUser)
		endedSessions(t, a, u, 300, a.Clock.Now())
		a.Clock.Advance(91 * 24 * time.Hour)
		svc := service.New(service.Config{Store: a.Store, Now: a.Clock.Now, RetentionBatch: 20})
		var wg sync.WaitGroup
		written := make([][]string, 4)
		for w := range written {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 10 {
					ids, err := insertEnded(a, u, 2, a.Clock.Now())
					if err != nil {
						t.Error(err)
						return
					}
					written[w] = append(written[w], ids...)
				}
			}()
		}
		run, err := svc.Retention.RunRetention(apptest.System())
		wg.Wait()
		if err != nil {
			t.Fatal(err)
		}
		if run.Tables["sessions"].Purged != 300 {
			t.Fatalf("purged %d, want 300", run.Tables["sessions"].Purged)
		}
		for _, ids := range written {
			for _, id := range ids {
				if _, err := a.Store.GetSession(context.Background(), id); err != nil {
					t.Fatalf("session %s written during the run: %v", id, err)
				}
			}
		}
	})
}

// Maintain's sweep purges once a day, whatever how often Maintain runs.
func TestRetentionDailySweep(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		u := a.User(steward.RoleUser)
		endedSessions(t, a, u, 2, a.Clock.Now())
		a.Clock.Advance(91 * 24 * time.Hour)
		maintain := func() {
			t.Helper()
			if err := a.Svc.Maintain(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		maintain()
		runs := auditActions(t, a, "retention.run")
		if len(runs) != 1 || runs[0].ActorType != steward.SystemActor.Type {
			t.Fatalf("after the first sweep: %d runs", len(runs))
		}
		var meta steward.RetentionRun
		if err := json.Unmarshal(runs[0].Metadata, &meta); err != nil || meta.Tables["sessions"].Purged != 2 {
			t.Fatalf("first sweep metadata %s", runs[0].Metadata)
		}
		a.Clock.Advance(time.Minute)
		maintain()
		a.Clock.Advance(23*time.Hour + 58*time.Minute)
		maintain()
		if n := len(auditActions(t, a, "retention.run")); n != 1 {
			t.Fatalf("within the day: %d runs", n)
		}
		a.Clock.Advance(time.Minute)
		maintain()
		if n := len(auditActions(t, a, "retention.run")); n != 2 {
			t.Fatalf("a day on: %d runs", n)
		}
		// A manual run counts: the sweep waits a day from it.
		a.Clock.Advance(12 * time.Hour)
		if _, err := a.Svc.Retention.RunRetention(apptest.System()); err != nil {
			t.Fatal(err)
		}
		a.Clock.Advance(13 * time.Hour)
		maintain()
		if n := len(auditActions(t, a, "retention.run")); n != 3 {
			t.Fatalf("a day after the sweep but not the manual run: %d runs", n)
		}
	})
}

// Usage events past their age go; the ledger entry that charged one stays,
// so the balance does not move.
func TestRetentionUsageEventsKeepTheLedger(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		sys := apptest.System()
		a.EnsureTenant(t, "ten_ret")
		if _, err := a.Svc.Credits.Grant(sys, &steward.GrantInput{TenantID: "ten_ret", Amount: 100, Description: "funds"}); err != nil {
			t.Fatal(err)
		}
		old := a.Clock.Now()
		if _, err := a.Svc.Credits.RecordUsage(sys, &steward.UsageBatch{Events: []steward.UsageEventInput{
			{ID: "old", TenantID: "ten_ret", Metric: "tokens", Quantity: 5, Credits: 7, OccurredAt: &old}}}); err != nil {
			t.Fatal(err)
		}
		a.Clock.Advance(31 * 24 * time.Hour)
		young := a.Clock.Now()
		if _, err := a.Svc.Credits.RecordUsage(sys, &steward.UsageBatch{Events: []steward.UsageEventInput{
			{ID: "young", TenantID: "ten_ret", Metric: "tokens", Quantity: 1, OccurredAt: &young}}}); err != nil {
			t.Fatal(err)
		}
		before, err := a.Svc.Credits.Balance(sys, "ten_ret")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Svc.Retention.UpdateRetention(sys, steward.RetentionPatch{"usage_events": json.RawMessage(`30`)}); err != nil {
			t.Fatal(err)
		}
		run, err := a.Svc.Retention.RunRetention(sys)
		if err != nil || run.Tables["usage_events"].Purged != 1 {
			t.Fatalf("run = %+v, %v", run, err)
		}
		if _, err := a.Store.GetUsageEvent(context.Background(), "ten_ret", "old"); code(err) == "" {
			t.Error("the old event survived")
		}
		if _, err := a.Store.GetUsageEvent(context.Background(), "ten_ret", "young"); err != nil {
			t.Errorf("the young event: %v", err)
		}
		after, err := a.Svc.Credits.Balance(sys, "ten_ret")
		if err != nil || fmt.Sprint(after) != fmt.Sprint(before) {
			t.Fatalf("balance %+v → %+v, %v", before, after, err)
		}
	})
}
