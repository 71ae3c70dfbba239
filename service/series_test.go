package service_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
	"github.com/stewardhq/steward/store/postgres"
	"github.com/stewardhq/steward/store/sqlite"
)

// advanceTo moves the fake clock forward to t.
func advanceTo(t *testing.T, a *apptest.App, at time.Time) {
	t.Helper()
	d := at.Sub(a.Clock.Now())
	if d < 0 {
		t.Fatalf("the clock is at %s, past %s", a.Clock.Now(), at)
	}
	a.Clock.Advance(d)
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// nonZeroDays is a series' days with a value other than 0.
func nonZeroDays(series []steward.DayValue) map[string]int64 {
	out := map[string]int64{}
	for _, d := range series {
		if d.Value != 0 {
			out[d.Date] = d.Value
		}
	}
	return out
}

func sameMap(t *testing.T, what string, got, want map[string]int64) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Errorf("%s = %s; want %s", what, g, w)
	}
}

// TestDashboardDaysInZones: signups land on the day of the zone asked
// for, across New York's and Auckland's DST changes and a month boundary;
// every day is present, oldest first, today last.
func TestDashboardDaysInZones(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		// The bootstrap owner signed up at apptest.Start, 2026-03-01 12:00Z.
		var users []*steward.User
		for _, at := range []string{
			"2026-03-07T04:30:00Z", // New York 03-06 23:30 EST
			"2026-03-08T06:30:00Z", // New York 03-08 01:30 EST, before the change at 07:00Z
			"2026-03-09T04:30:00Z", // New York 03-09 00:30 EDT (03-08 23:30 had it stayed EST)
			"2026-03-31T11:30:00Z", // Auckland 04-01 00:30 NZDT
			"2026-03-31T18:45:00Z", // Kolkata 04-01 00:15, in the UTC hour starting 03-31 23:30 there
			"2026-04-05T11:30:00Z", // Auckland 04-05 23:30 NZST, after the change at 04-04 14:00Z
		} {
			advanceTo(t, a, utc(at))
			users = append(users, a.User(steward.RoleUser))
		}
		advanceTo(t, a, utc("2026-04-06T10:00:00Z"))
		cases := []struct {
			tz        string
			today     string
			firstDate string
			want      map[string]int64
		}{
			{"", "2026-04-06", "2026-02-26", map[string]int64{"2026-03-01": 1, "2026-03-07": 1, "2026-03-08": 1,
				"2026-03-09": 1, "2026-03-31": 2, "2026-04-05": 1}},
			{"America/New_York", "2026-04-06", "2026-02-26", map[string]int64{"2026-03-01": 1, "2026-03-06": 1,
				"2026-03-08": 1, "2026-03-09": 1, "2026-03-31": 2, "2026-04-05": 1}},
			{"Pacific/Auckland", "2026-04-06", "2026-02-26", map[string]int64{"2026-03-02": 1, "2026-03-07": 1,
				"2026-03-08": 1, "2026-03-09": 1, "2026-04-01": 2, "2026-04-05": 1}},
			// A +05:30 zone: a day is the UTC hours starting in it, so the
			// 18:45Z signup (04-01 00:15 local) counts for 03-31, as
			// docs/overview.md says.
			{"Asia/Kolkata", "2026-04-06", "2026-02-26", map[string]int64{"2026-03-01": 1, "2026-03-07": 1,
				"2026-03-08": 1, "2026-03-09": 1, "2026-03-31": 2, "2026-04-05": 1}},
		}
		for _, c := range cases {
			d, err := a.Svc.Series.Dashboard(apptest.System(), 40, c.tz)
			if err != nil {
				t.Fatalf("Dashboard(%q): %v", c.tz, err)
			}
			s := d.Series.Signups
			if len(s) != 40 || s[0].Date != c.firstDate || s[39].Date != c.today || d.Days != 40 {
				t.Fatalf("%s: %d days from %s to %s; want 40 from %s to %s", c.tz, len(s), s[0].Date, s[39].Date,
					c.firstDate, c.today)
			}
			for i := 1; i < len(s); i++ {
				prev, _ := time.Parse(time.DateOnly, s[i-1].Date)
				if got := prev.AddDate(0, 0, 1).Format(time.DateOnly); got != s[i].Date {
					t.Fatalf("%s: day %d is %s after %s; want %s", c.tz, i, s[i].Date, s[i-1].Date, got)
				}
			}
			sameMap(t, c.tz+" signups", nonZeroDays(s), c.want)
			if len(d.Series.ActiveUsers) != 40 || len(d.Series.CreditsUsed) != 40 {
				t.Errorf("%s: every series has 40 days", c.tz)
			}
		}

		// The closed days were remembered; purging a user changes a
		// remembered day's bucket, which forgets that day, and the next
		// dashboard shows the rows Steward holds.
		memo, err := a.Store.SeriesMemo(apptest.System(), "America/New_York", "2026-02-26", "2026-04-06")
		if err != nil || len(memo) != 39 {
			t.Fatalf("remembered New York days = %d, %v; want the 39 closed ones", len(memo), err)
		}
		if err := a.Svc.Users.PurgeUser(apptest.System(), users[0].ID, ""); err != nil {
			t.Fatal(err)
		}
		d, err := a.Svc.Series.Dashboard(apptest.System(), 40, "America/New_York")
		if err != nil {
			t.Fatal(err)
		}
		sameMap(t, "New York signups after a purge", nonZeroDays(d.Series.Signups), map[string]int64{"2026-03-01": 1,
			"2026-03-08": 1, "2026-03-09": 1, "2026-03-31": 2, "2026-04-05": 1})
	})
}

// TestPeriodFiguresMonthInZone: this month's ledger and usage figures are
// the zone's month: just after midnight UTC on April 1st it is still March
// in New York.
func TestPeriodFiguresMonthInZone(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		sys := apptest.System()
		a.EnsureTenant(t, "ten_series")
		advanceTo(t, a, utc("2026-03-31T23:30:00Z"))
		noErr(t, "grant")(a.Svc.Credits.Grant(sys, &steward.GrantInput{TenantID: "ten_series", Amount: 100, Description: "m"}))
		noErr(t, "deduct")(a.Svc.Credits.Deduct(sys, &steward.DeductInput{TenantID: "ten_series", Amount: 30, Description: "m"}))
		advanceTo(t, a, utc("2026-04-01T00:30:00Z"))
		noErr(t, "grant")(a.Svc.Credits.Grant(sys, &steward.GrantInput{TenantID: "ten_series", Amount: 50, Description: "a"}))
		d, err := a.Svc.Credits.Deduct(sys, &steward.DeductInput{TenantID: "ten_series", Amount: 10, Description: "a"})
		if err != nil {
			t.Fatal(err)
		}
		noErr(t, "refund")(a.Svc.Credits.Refund(sys, &steward.RefundInput{TenantID: "ten_series", Amount: 4,
			Description: "a", TransactionID: d.Transaction.ID}))
		if _, err := a.Svc.Credits.RecordUsage(sys, &steward.UsageBatch{Events: []steward.UsageEventInput{
			{ID: "e1", TenantID: "ten_series", Metric: "tokens", Quantity: 7, CostMicros: 11, OccurredAt: ptr(a.Clock.Now())},
			{ID: "e2", TenantID: "ten_series", Metric: "images", Quantity: 1, OccurredAt: ptr(a.Clock.Now())}}}); err != nil {
			t.Fatal(err)
		}
		advanceTo(t, a, utc("2026-04-01T00:45:00Z"))

		f, err := a.Svc.Series.PeriodFigures(sys, time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		want := steward.CreditStats{Granted: 50, Deducted: 10, Refunded: 4, Used: 6}
		if f.Credits != want || f.Month != "2026-04" || f.Today != "2026-04-01" || f.TZ != "UTC" {
			t.Errorf("UTC figures = %+v (%s, %s); want %+v in 2026-04", f.Credits, f.Month, f.Today, want)
		}
		if f.Usage.Events != 2 || f.Usage.Quantity != 8 || f.Usage.CostMicros != 11 ||
			f.Usage.ByMetric["tokens"] != (steward.MetricUsage{Events: 1, Quantity: 7, CostMicros: 11}) {
			t.Errorf("UTC usage = %+v", f.Usage)
		}
		ny, _ := time.LoadLocation("America/New_York")
		f, err = a.Svc.Series.PeriodFigures(sys, ny)
		if err != nil {
			t.Fatal(err)
		}
		want = steward.CreditStats{Granted: 150, Deducted: 40, Refunded: 4, Used: 36}
		if f.Credits != want || f.Month != "2026-03" || f.Today != "2026-03-31" || f.Usage.Events != 2 {
			t.Errorf("New York figures = %+v (%s, %s); want %+v in 2026-03", f.Credits, f.Month, f.Today, want)
		}

		dash, err := a.Svc.Series.Dashboard(sys, 2, "")
		if err != nil {
			t.Fatal(err)
		}
		sameMap(t, "credits used by day", nonZeroDays(dash.Series.CreditsUsed), map[string]int64{"2026-03-31": 30, "2026-04-01": 6})
		sameMap(t, "credits granted by day", nonZeroDays(dash.Series.CreditsGranted),
			map[string]int64{"2026-03-31": 100, "2026-04-01": 50})
		sameMap(t, "tokens by day", nonZeroDays(dash.Series.UsageQuantity["tokens"]), map[string]int64{"2026-04-01": 7})
		sameMap(t, "usage events by day", nonZeroDays(dash.Series.UsageEvents), map[string]int64{"2026-04-01": 2})
	})
}

// noErr fails t when the call it is applied to returned an error.
func noErr(t *testing.T, what string) func(any, error) {
	return func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
}

// TestActiveUsersDistinctPerDay: a user active in several hours, by login,
// refresh and session verification, counts once a day, as does a user
// whose API key is verified; activity reaches the
// figures when flushed; a closed day is remembered, today is counted live.
func TestActiveUsersDistinctPerDay(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		sys := apptest.System()
		alice, bob := a.User(steward.RoleUser), a.User(steward.RoleUser)
		advanceTo(t, a, utc("2026-03-02T09:10:00Z"))
		_, tok := a.Login(alice.Email)
		a.Login(bob.Email)
		advanceTo(t, a, utc("2026-03-02T15:00:00Z"))
		if _, err := a.Svc.Auth.Refresh(sys, tok); err != nil {
			t.Fatal(err)
		}
		active := func(days int) map[string]int64 {
			t.Helper()
			d, err := a.Svc.Series.Dashboard(sys, days, "")
			if err != nil {
				t.Fatal(err)
			}
			return nonZeroDays(d.Series.ActiveUsers)
		}
		sameMap(t, "before the flush", active(2), map[string]int64{})
		if err := a.Svc.Series.FlushActivity(sys); err != nil {
			t.Fatal(err)
		}
		sameMap(t, "after the flush", active(2), map[string]int64{"2026-03-02": 2})

		carol := a.User(steward.RoleUser)
		key, err := a.Svc.Keys.CreateKey(sys, &steward.KeyCreate{Name: "k", Type: steward.KeyUser, UserID: carol.ID})
		if err != nil {
			t.Fatal(err)
		}
		advanceTo(t, a, utc("2026-03-03T08:00:00Z"))
		res, err := a.Svc.Auth.VerifySession(sys, steward.SessionVerifyRequest{Token: tok})
		if err != nil || !res.Valid {
			t.Fatalf("VerifySession = %+v, %v", res, err)
		}
		if v, err := a.Svc.Keys.VerifyKey(sys, &steward.VerifyRequest{Key: key.Key}); err != nil || !v.Valid {
			t.Fatalf("VerifyKey = %+v, %v", v, err)
		}
		if err := a.Svc.Series.FlushActivity(sys); err != nil {
			t.Fatal(err)
		}
		// 03-02 has closed and settled: counted once and remembered (03-01
		// was when the first dashboards asked), today is not.
		sameMap(t, "the next day", active(2), map[string]int64{"2026-03-02": 2, "2026-03-03": 2})
		memo, err := a.Store.ActiveDays(sys, "UTC", "2026-03-01", "2026-03-03")
		if err != nil {
			t.Fatal(err)
		}
		sameMap(t, "remembered days", memo, map[string]int64{"2026-03-01": 0, "2026-03-02": 2})
	})
}

// TestBillingFigures: plans priced from the catalogue, month totals, top
// tenants, caps at the alert threshold, and a past month from its snapshot
// or said to be unavailable.
func TestBillingFigures(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		sys := apptest.System()
		mk := func(name, plan string, monthlyCap *int64) string {
			t.Helper()
			tn, err := a.Svc.Tenants.CreateTenant(sys, &steward.TenantCreate{Name: name, Plan: plan,
				Spending: &steward.SpendingCaps{MonthlyCap: monthlyCap}})
			if err != nil {
				t.Fatal(err)
			}
			return tn.ID
		}
		capped := mk("Capped", "pro", ptr(int64(100)))
		busy := mk("Busy", "starter", nil)
		mk("Idle", "starter", nil)
		noErr(t, "grant")(a.Svc.Credits.Grant(sys, &steward.GrantInput{TenantID: capped, Amount: 500, Description: "x"}))
		noErr(t, "grant")(a.Svc.Credits.Grant(sys, &steward.GrantInput{TenantID: busy, Amount: 500, Description: "x"}))
		noErr(t, "deduct")(a.Svc.Credits.Deduct(sys, &steward.DeductInput{TenantID: capped, Amount: 85, Description: "x"}))
		noErr(t, "deduct")(a.Svc.Credits.Deduct(sys, &steward.DeductInput{TenantID: busy, Amount: 20, Description: "x"}))
		var events []steward.UsageEventInput
		for i := range 3 {
			events = append(events, steward.UsageEventInput{ID: fmt.Sprint("b", i), TenantID: busy, Metric: "tokens", Quantity: 5,
				OccurredAt: ptr(a.Clock.Now())})
		}
		events = append(events, steward.UsageEventInput{ID: "c0", TenantID: capped, Metric: "tokens", Quantity: 1,
			OccurredAt: ptr(a.Clock.Now())})
		noErr(t, "usage")(a.Svc.Credits.RecordUsage(sys, &steward.UsageBatch{Events: events}))

		b, err := a.Svc.Series.Billing(sys, "")
		if err != nil {
			t.Fatal(err)
		}
		if b.Month != "2026-03" || b.PlansSource != steward.PlansLive {
			t.Fatalf("billing month %s from %s", b.Month, b.PlansSource)
		}
		if p := b.Plans["starter"]; p.Tenants != 2 || p.Active != 2 || p.PriceCents != 2_900 || p.RevenueCents != 5_800 {
			t.Errorf("starter = %+v", p)
		}
		if p := b.Plans["scale"]; !p.InCatalogue || p.Tenants != 0 {
			t.Errorf("scale, with no tenant, is listed with 0: %+v", p)
		}
		if b.RevenueCents["USD"] != 5_800+9_900 {
			t.Errorf("revenue = %v", b.RevenueCents)
		}
		if b.Credits.Used != 105 || b.Credits.Outstanding == nil || b.Usage.Events != 4 || b.Usage.Quantity != 16 {
			t.Errorf("credits %+v usage %+v", b.Credits, b.Usage)
		}
		if len(b.TopTenantsByUsage) != 2 || b.TopTenantsByUsage[0].TenantID != busy || b.TopTenantsByUsage[0].UsageEvents != 3 {
			t.Errorf("top by usage = %+v", b.TopTenantsByUsage)
		}
		if len(b.TopTenantsByCredits) != 2 || b.TopTenantsByCredits[0].TenantID != capped || b.TopTenantsByCredits[0].CreditsUsed != 85 {
			t.Errorf("top by credits used = %+v", b.TopTenantsByCredits)
		}
		wantCap := steward.CapStanding{TenantID: capped, Name: "Capped", Cap: "monthly", Limit: 100, Spent: 85, Percent: 85,
			ThresholdPercent: 80}
		if len(b.SpendingCaps) != 1 || b.SpendingCaps[0] != wantCap {
			t.Errorf("caps = %+v; want %+v", b.SpendingCaps, wantCap)
		}

		// February has no snapshot: no figures are invented.
		b, err = a.Svc.Series.Billing(sys, "2026-02")
		if err != nil {
			t.Fatal(err)
		}
		if b.PlansSource != steward.PlansUnavailable || b.Plans != nil || b.Credits.Outstanding != nil || b.SpendingCaps != nil {
			t.Errorf("a past month without a snapshot = %+v", b)
		}
		// March closes; the next maintenance run takes its snapshot once.
		advanceTo(t, a, utc("2026-04-01T00:01:00Z"))
		if err := a.Svc.Maintain(sys); err != nil {
			t.Fatal(err)
		}
		if took, err := a.Svc.Series.SnapshotBilling(sys); err != nil || took {
			t.Fatalf("a second snapshot of March: %v, %v", took, err)
		}
		if _, err := a.Svc.Tenants.ChangePlan(sys, busy, &steward.PlanChangeInput{Plan: "scale"}); err != nil {
			t.Fatal(err)
		}
		b, err = a.Svc.Series.Billing(sys, "2026-03")
		if err != nil {
			t.Fatal(err)
		}
		if b.PlansSource != steward.PlansSnapshot || b.Plans["starter"].Active != 2 || b.PlansAsOf == nil ||
			!b.PlansAsOf.Equal(utc("2026-04-01T00:01:00Z")) || b.Credits.Used != 105 {
			t.Errorf("March from its snapshot = %+v", b)
		}
	})
}

func ptr[T any](v T) *T { return &v }

// TestSeriesBadInputs: every bad parameter is a 422 naming it.
func TestSeriesBadInputs(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		sys := apptest.System()
		field := func(what string, err error, name string) {
			t.Helper()
			var e *steward.Error
			if !errors.As(err, &e) || e.Code != steward.CodeValidation {
				t.Fatalf("%s: %v; want VALIDATION_FAILED", what, err)
			}
			if f, _ := e.Details["fields"].(map[string]any); f[name] == nil {
				t.Fatalf("%s: %v does not name %s", what, e.Details, name)
			}
		}
		for _, days := range []int{-1, 366, 100000} {
			_, err := a.Svc.Series.Dashboard(sys, days, "")
			field(fmt.Sprint("days ", days), err, "days")
		}
		for _, tz := range []string{"Mars/Olympus", "Local", "../../etc/passwd", "+05:30"} {
			_, err := a.Svc.Series.Dashboard(sys, 7, tz)
			field("tz "+tz, err, "tz")
		}
		for _, m := range []string{"2026-13", "2026-3", "march", "2026-04", "9999-12"} {
			_, err := a.Svc.Series.Billing(sys, m)
			field("month "+m, err, "month")
		}
	})
}

// TestCheckCountersRepairs: after a mixed sequence with purges the recount
// finds nothing; a bucket put wrong is found, and repair fixes it, audited.
func TestSeriesCheckCountersRepairs(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		sys := apptest.System()
		u := a.User(steward.RoleUser, func(c *steward.UserCreate) { c.TenantID = "ten_check" })
		a.Login(u.Email)
		noErr(t, "grant")(a.Svc.Credits.Grant(sys, &steward.GrantInput{TenantID: "ten_check", Amount: 9, Description: "x"}))
		noErr(t, "usage")(a.Svc.Credits.RecordUsage(sys, &steward.UsageBatch{Events: []steward.UsageEventInput{
			{ID: "e", TenantID: "ten_check", Metric: "tokens", Quantity: 3, Credits: 2, OccurredAt: ptr(a.Clock.Now())}}}))
		a.Clock.Advance(26 * time.Hour)
		other := a.User(steward.RoleUser)
		if err := a.Svc.Users.PurgeUser(sys, other.ID, ""); err != nil {
			t.Fatal(err)
		}
		drift, err := a.Svc.Series.CheckCounters(sys, false)
		if err != nil || len(drift) != 0 {
			t.Fatalf("CheckCounters after a mixed sequence = %+v, %v", drift, err)
		}
		// Put one bucket wrong, as a bug or a hand edit would.
		corruptSignups(t, a)
		drift, err = a.Svc.Series.CheckCounters(sys, false)
		if err != nil || len(drift) != 1 || drift[0].Counter != "stat_hourly.signups" || drift[0].Recounted+5 != drift[0].Stored {
			t.Fatalf("CheckCounters after corruption = %+v, %v", drift, err)
		}
		repaired, err := a.Svc.Series.CheckCounters(sys, true)
		if err != nil || len(repaired) != 1 {
			t.Fatalf("repair = %+v, %v", repaired, err)
		}
		if drift, err := a.Svc.Series.CheckCounters(sys, false); err != nil || len(drift) != 0 {
			t.Fatalf("after repair = %+v, %v", drift, err)
		}
		page, err := a.Svc.Audit.ListAudit(sys, steward.AuditFilter{Action: "counters.repair"}, steward.ListParams{})
		if err != nil || len(page.Data) != 1 {
			t.Fatalf("counters.repair audit entries = %v, %v", page, err)
		}
	})
}

// corruptSignups adds 5 to one signups bucket behind the triggers' back.
func corruptSignups(t *testing.T, a *apptest.App) {
	t.Helper()
	const bump = "UPDATE stat_hourly SET value = value + 5 WHERE name = 'signups' AND hour = (SELECT MIN(hour) FROM stat_hourly WHERE name = 'signups')"
	var err error
	switch st := a.Store.(type) {
	case *sqlite.Store:
		_, err = st.WriterDB().Exec(bump)
	case *postgres.Store:
		// One shard row only: a bucket has up to 16.
		_, err = st.Pool().Exec(t.Context(), "UPDATE stat_hourly SET value = value + 5 WHERE ctid = "+
			"(SELECT ctid FROM stat_hourly WHERE name = 'signups' ORDER BY hour, shard LIMIT 1)")
	default:
		t.Fatalf("no way to corrupt a %T", st)
	}
	if err != nil {
		t.Fatal(err)
	}
}
