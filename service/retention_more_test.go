package service_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
	"github.com/stewardhq/steward/store"
)

// Idempotency records are purged by the retention run only, once older
// than their retention, so an answer still replays for its whole 24 hours
// (the once-a-minute maintenance no longer deletes them).
func TestRetentionIdempotencyKeepsTheReplay(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		sys := apptest.System()
		calls := 0
		do := func() (steward.Answer, bool) {
			t.Helper()
			ans, replayed, err := a.Svc.Idempotency.Idempotent(context.Background(), "scope", "key-ret", []byte(`{}`), func() steward.Answer {
				calls++
				return steward.Answer{Status: 201, Body: []byte(fmt.Sprintf(`{"call":%d}`, calls))}
			})
			if err != nil {
				t.Fatal(err)
			}
			return ans, replayed
		}
		days := steward.RetentionDays(1)
		run := func(want int64) {
			t.Helper()
			if err := a.Svc.Maintain(context.Background()); err != nil {
				t.Fatal(err)
			}
			r, err := a.Svc.Retention.RunRetention(sys)
			if err != nil || r.Tables["idempotency"].Purged != want || r.Tables["idempotency"].RetentionDays != days {
				t.Fatalf("run: %+v, %v; want %d purged", r.Tables["idempotency"], err, want)
			}
		}
		do()
		a.Clock.Advance(24*time.Hour - time.Second)
		run(0)
		if ans, replayed := do(); !replayed || string(ans.Body) != `{"call":1}` {
			t.Fatalf("within 24 hours: %v %s", replayed, ans.Body)
		}
		a.Clock.Advance(2 * time.Second)
		run(1)
		if ans, replayed := do(); replayed || string(ans.Body) != `{"call":2}` {
			t.Fatalf("after the purge: %v %s", replayed, ans.Body)
		}
		// A longer retention keeps the (expired, replaying nothing) record
		// that long.
		setRetention(t, a, "idempotency", "3")
		days = 3
		a.Clock.Advance(3 * 24 * time.Hour)
		run(0)
		a.Clock.Advance(time.Second)
		run(1)
	})
}

// Activity rows older than user_activity's retention go; with the default
// (400 days) the dashboard's longest window (365 days) reads the same
// before and after, and the counters still agree with the rows.
func TestRetentionUserActivity(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		sys := apptest.System()
		u1, u2, u3 := a.User(steward.RoleUser), a.User(steward.RoleUser), a.User(steward.RoleUser)
		record := func(at time.Time, users ...*steward.User) {
			t.Helper()
			ids, hours := make([]string, len(users)), make([]time.Time, len(users))
			for i, u := range users {
				ids[i], hours[i] = u.ID, at.Truncate(time.Hour)
			}
			if err := a.Store.Update(context.Background(), func(tx store.Tx) error {
				return tx.RecordActivity(context.Background(), ids, hours)
			}); err != nil {
				t.Fatal(err)
			}
		}
		start := a.Clock.Now()
		record(start, u1, u2, u3)
		record(start.Add(100*24*time.Hour), u1)
		a.Clock.Advance(401 * 24 * time.Hour)
		record(a.Clock.Now(), u2)
		before, err := a.Svc.Series.Dashboard(sys, 365, "UTC")
		if err != nil {
			t.Fatal(err)
		}
		run, err := a.Svc.Retention.RunRetention(sys)
		if err != nil {
			t.Fatal(err)
		}
		// Three activity hours at the start, and u3's latest active hour.
		if got := run.Tables["user_activity"]; got.Purged != 4 || got.RetentionDays != 400 {
			t.Fatalf("user_activity run: %+v", got)
		}
		after, err := a.Svc.Series.Dashboard(sys, 365, "UTC")
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(after.Series.ActiveUsers) != fmt.Sprint(before.Series.ActiveUsers) {
			t.Fatalf("active users changed by the purge:\n%v\n%v", before.Series.ActiveUsers, after.Series.ActiveUsers)
		}
		var sum int64
		for _, d := range after.Series.ActiveUsers {
			sum += d.Value
		}
		if sum != 2 {
			t.Fatalf("active users over the window sum to %d, want 2 (u1's day 100, u2 today)", sum)
		}
		drifts, err := a.Svc.Series.CheckCounters(sys, false)
		if err != nil || len(drifts) != 0 {
			t.Fatalf("counters after the purge: %+v, %v", drifts, err)
		}
		n, err := a.Store.ActiveUsers(context.Background(), start.Add(-time.Hour), start.Add(time.Hour))
		if err != nil || n != 0 {
			t.Fatalf("activity at the start after the purge: %d, %v", n, err)
		}
	})
}
