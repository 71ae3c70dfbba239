package service_test

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
	"github.com/stewardhq/steward/internal/testdb"
	"github.com/stewardhq/steward/service"
)

func patchCaps(t *testing.T, body string) *steward.UserCapsPatch {
	t.Helper()
	var p steward.UserCapsPatch
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatal(err)
	}
	return &p
}

// fundedTenant is a tenant holding 1000 credits.
func fundedTenant(t *testing.T, a *apptest.App, name string) *steward.Tenant {
	t.Helper()
	sys := apptest.System()
	tn, err := a.Svc.Tenants.CreateTenant(sys, &steward.TenantCreate{Name: name, Plan: "scale"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Svc.Credits.Grant(sys, &steward.GrantInput{TenantID: tn.ID, Amount: 1000, Description: "funds"}); err != nil {
		t.Fatal(err)
	}
	return tn
}

// TestUserCapResolution: each cap is the user's own, else the tenant's
// user_* default, else the platform's, else none, and explain names the
// tier; null at a tier falls through to the next.
func TestUserCapResolution(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		sys := apptest.System()
		tn := fundedTenant(t, a, "Caps")
		u := a.User(steward.RoleUser, func(in *steward.UserCreate) { in.TenantID = tn.ID })
		loner := a.User(steward.RoleUser)
		setTenant := func(body string) {
			var p steward.TenantPatch
			if err := json.Unmarshal([]byte(body), &p); err != nil {
				t.Fatal(err)
			}
			if _, err := a.Svc.Tenants.UpdateTenant(sys, tn.ID, &p); err != nil {
				t.Fatal(err)
			}
		}
		type want struct{ monthly, daily, session any }
		check := func(what string, uid string, tiers, values want) {
			t.Helper()
			v, err := a.Svc.UserSpending.UserSpending(sys, uid)
			if err != nil {
				t.Fatal(err)
			}
			got := want{v.Explain["monthly_cap"], v.Explain["daily_cap"], v.Explain["session_cap"]}
			if got != tiers {
				t.Fatalf("%s: explain %v, want %v", what, v.Explain, tiers)
			}
			if gv := (want{deref(v.Effective.MonthlyCap), deref(v.Effective.DailyCap), deref(v.Effective.SessionCap)}); gv != values {
				t.Fatalf("%s: effective %v, want %v", what, gv, values)
			}
		}
		none := want{"none", "none", "none"}
		check("nothing set", u.ID, none, want{nil, nil, nil})
		mustPutConfig(t, a, `{"spending": {"user_monthly_cap": 100, "user_daily_cap": 30, "user_session_cap": 5}}`)
		check("platform", u.ID, want{"platform", "platform", "platform"}, want{int64(100), int64(30), int64(5)})
		setTenant(`{"spending": {"user_monthly_cap": 50, "user_session_cap": 0}}`)
		check("tenant over platform", u.ID, want{"tenant", "platform", "tenant"}, want{int64(50), int64(30), int64(0)})
		if _, err := a.Svc.UserSpending.UpdateUserSpending(sys, u.ID, patchCaps(t, `{"monthly_cap": 10, "daily_cap": 20}`)); err != nil {
			t.Fatal(err)
		}
		check("user over tenant", u.ID, want{"user", "user", "tenant"}, want{int64(10), int64(20), int64(0)})
		if _, err := a.Svc.UserSpending.UpdateUserSpending(sys, u.ID, patchCaps(t, `{"monthly_cap": null}`)); err != nil {
			t.Fatal(err)
		}
		check("a user null falls to the tenant", u.ID, want{"tenant", "user", "tenant"}, want{int64(50), int64(20), int64(0)})
		setTenant(`{"spending": {"user_monthly_cap": null}}`)
		check("a tenant null falls to the platform", u.ID, want{"platform", "user", "tenant"}, want{int64(100), int64(20), int64(0)})
		check("a user in no tenant", loner.ID, want{"platform", "platform", "platform"}, want{int64(100), int64(30), int64(5)})
		mustPutConfig(t, a, `{"spending": null}`)
		check("platform reset", loner.ID, none, want{nil, nil, nil})
	})
}

// TestUserCapsRefuse: a deduct or usage event naming a user that would take
// it past a cap is 402 SPENDING_CAP_REACHED naming scope, tier, cap, limit
// and spent, and writes nothing; the day and the billing period start
// again; another user is not held by the first one's spend; in a usage
// batch the refused event fails alone.
func TestUserCapsRefuse(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		sys := apptest.System()
		tn := fundedTenant(t, a, "Refuse")
		u := a.User(steward.RoleUser, func(in *steward.UserCreate) { in.TenantID = tn.ID })
		mustPutConfig(t, a, `{"spending": {"user_daily_cap": 10}}`)
		var p steward.TenantPatch
		_ = json.Unmarshal([]byte(`{"spending": {"user_monthly_cap": 25}}`), &p)
		if _, err := a.Svc.Tenants.UpdateTenant(sys, tn.ID, &p); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Svc.UserSpending.UpdateUserSpending(sys, u.ID, patchCaps(t, `{"session_cap": 4}`)); err != nil {
			t.Fatal(err)
		}
		spent := int64(0) // what the tenant's balance has lost
		deduct := func(uid, sid string, n int64) error {
			_, err := a.Svc.Credits.Deduct(sys, &steward.DeductInput{TenantID: tn.ID, UserID: uid, SessionID: sid,
				Amount: steward.Credits(n), Description: "use"})
			if err == nil {
				spent += n
			}
			return err
		}
		refused := func(err error, tier, cap string, limit, already int64) {
			t.Helper()
			var se *steward.Error
			if !errors.As(err, &se) || se.Code != steward.CodeSpendingCapReached || se.Details["scope"] != "user" ||
				se.Details["tier"] != tier || se.Details["cap"] != cap || se.Details["limit"] != limit ||
				se.Details["spent"] != already || se.Details["user_id"] != u.ID {
				t.Fatalf("got %v (%+v), want SPENDING_CAP_REACHED %s %s cap %d with %d spent", err, se, tier, cap, limit, already)
			}
			bal, err := a.Svc.Credits.Balance(sys, tn.ID)
			if err != nil || bal.Balance != 1000-spent {
				t.Fatalf("balance after a refusal: %+v %v, want %d", bal, err, 1000-spent)
			}
		}
		spentBy := func(uid string) steward.UserSpent {
			t.Helper()
			v, err := a.Svc.UserSpending.UserSpending(sys, uid)
			if err != nil {
				t.Fatal(err)
			}
			return v.Spent
		}
		if err := deduct(u.ID, "s1", 3); err != nil {
			t.Fatal(err)
		}
		refused(deduct(u.ID, "s1", 2), "user", "session", 4, 3)
		if got := spentBy(u.ID); got != (steward.UserSpent{Monthly: 3, Daily: 3}) {
			t.Fatalf("spent after a refusal: %+v", got)
		}
		if err := deduct(u.ID, "s2", 4); err != nil { // another session starts at 0
			t.Fatal(err)
		}
		if err := deduct(u.ID, "", 3); err != nil { // 10: at the daily cap, not past it
			t.Fatal(err)
		}
		refused(deduct(u.ID, "", 1), "platform", "daily", 10, 10)
		if err := deduct("someone-else", "", 10); err != nil {
			t.Fatalf("another user: %v", err)
		}

		a.Clock.Advance(24 * time.Hour) // a new day, the same billing period
		if got := spentBy(u.ID); got != (steward.UserSpent{Monthly: 10, Daily: 0}) {
			t.Fatalf("spent the next day: %+v", got)
		}
		if err := deduct(u.ID, "", 10); err != nil {
			t.Fatal(err)
		}
		a.Clock.Advance(24 * time.Hour)
		refused(deduct(u.ID, "", 6), "tenant", "monthly", 25, 20)

		at := a.Clock.Now()
		res, err := a.Svc.Credits.RecordUsage(sys, &steward.UsageBatch{Events: []steward.UsageEventInput{
			{ID: "e1", TenantID: tn.ID, UserID: u.ID, SessionID: "s3", Metric: "tokens", Credits: 3, OccurredAt: &at},
			{ID: "e2", TenantID: tn.ID, UserID: u.ID, SessionID: "s3", Metric: "tokens", Credits: 3, OccurredAt: &at},
			{ID: "e3", TenantID: tn.ID, UserID: "someone-else", Metric: "tokens", Credits: 3, OccurredAt: &at},
			{ID: "e4", TenantID: tn.ID, UserID: u.ID, SessionID: "bad session", Metric: "tokens", Credits: 1, OccurredAt: &at},
		}})
		if err != nil {
			t.Fatal(err)
		}
		r := res.Results
		if r[0].Status != steward.UsageRecorded || r[1].Status != steward.UsageRejected || r[1].Code != steward.CodeSpendingCapReached ||
			r[2].Status != steward.UsageRecorded || r[3].Code != steward.CodeValidation || res.Recorded != 2 {
			t.Fatalf("batch results %+v", r)
		}
		spent += 6
		bal, err := a.Svc.Credits.Balance(sys, tn.ID)
		if err != nil || bal.Balance != 1000-spent {
			t.Fatalf("balance after the batch: %+v %v, want %d", bal, err, 1000-spent)
		}
		if got := spentBy(u.ID); got != (steward.UserSpent{Monthly: 23, Daily: 3}) {
			t.Fatalf("spent after the batch: %+v", got)
		}
		// The refused event was not recorded: sent again within the cap's
		// room it is new, not a duplicate.
		res, err = a.Svc.Credits.RecordUsage(sys, &steward.UsageBatch{Events: []steward.UsageEventInput{
			{ID: "e2", TenantID: tn.ID, UserID: u.ID, Metric: "tokens", Credits: 2, OccurredAt: &at}}})
		if err != nil || res.Results[0].Status != steward.UsageRecorded {
			t.Fatalf("resent event: %+v %v", res, err)
		}

		// A deduct's session_id is validated like other ids.
		_, err = a.Svc.Credits.Deduct(sys, &steward.DeductInput{TenantID: tn.ID, UserID: u.ID, SessionID: "no spaces",
			Amount: 1, Description: "use"})
		var se *steward.Error
		if !errors.As(err, &se) || se.Code != steward.CodeValidation || se.Details["fields"].(map[string]any)["session_id"] == nil {
			t.Fatalf("bad session_id: %v", err)
		}
	})
}

// TestUserSpendExactUnderConcurrency: deducts of one user, at once (on
// PostgreSQL from two services with pools of their own, as two processes),
// against a monthly cap of 7: exactly 7 succeed, the counter says 7 and the
// balance lost 7.
func TestUserSpendExactUnderConcurrency(t *testing.T) {
	for _, be := range testdb.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			a := apptest.New(t, be)
			other := a.Svc
			if be.Share != nil {
				other = service.New(service.Config{Store: be.Share(t, a.Store), Now: a.Clock.Now,
					Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			}
			sys := apptest.System()
			tn := fundedTenant(t, a, "Race")
			u := a.User(steward.RoleUser, func(in *steward.UserCreate) { in.TenantID = tn.ID })
			if _, err := a.Svc.UserSpending.UpdateUserSpending(sys, u.ID, patchCaps(t, `{"monthly_cap": 7, "session_cap": 5}`)); err != nil {
				t.Fatal(err)
			}
			const n = 30
			var wg sync.WaitGroup
			var mu sync.Mutex
			codes := map[string]int{}
			for i := range n {
				svc := a.Svc
				if i%2 == 1 {
					svc = other
				}
				sid := ""
				if i%3 == 0 {
					sid = "s"
				}
				wg.Go(func() {
					_, err := svc.Credits.Deduct(sys, &steward.DeductInput{TenantID: tn.ID, UserID: u.ID, SessionID: sid,
						Amount: 1, Description: "race"})
					mu.Lock()
					codes[steward.ErrorCode(err)]++
					mu.Unlock()
				})
			}
			wg.Wait()
			if codes[""] != 7 || codes[steward.CodeSpendingCapReached] != n-7 {
				t.Fatalf("outcomes %v, want 7 successes", codes)
			}
			v, err := a.Svc.UserSpending.UserSpending(sys, u.ID)
			if err != nil || v.Spent.Monthly != 7 {
				t.Fatalf("spent %+v %v", v, err)
			}
			if s, err := a.Store.GetSessionSpend(sys, tn.ID, u.ID, "s"); err != nil || s > 5 {
				t.Fatalf("session spend %d %v, want at most its cap 5", s, err)
			}
			bal, err := a.Svc.Credits.Balance(sys, tn.ID)
			if err != nil || bal.Balance != 993 {
				t.Fatalf("balance %+v %v", bal, err)
			}
		})
	}
}

// TestUpdateUserSpending: a merge patch of the user's own caps, audited
// user.spending_update with before and after (a no-op writes nothing); a
// bad value is 422 naming the cap; operators change users below them only.
func TestUpdateUserSpending(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		sys := apptest.System()
		u := a.User(steward.RoleUser)
		admin := a.User(steward.RoleAdmin)
		owner := a.User(steward.RoleOwner)
		us := a.Svc.UserSpending
		v, err := us.UpdateUserSpending(apptest.As(admin), u.ID, patchCaps(t, `{"monthly_cap": 100, "session_cap": 0}`))
		if err != nil || deref(v.Caps.MonthlyCap) != int64(100) || deref(v.Caps.SessionCap) != int64(0) || v.Caps.DailyCap != nil {
			t.Fatalf("%+v %v", v, err)
		}
		v, err = us.UpdateUserSpending(apptest.As(admin), u.ID, patchCaps(t, `{"daily_cap": 5, "session_cap": null}`))
		if err != nil || deref(v.Caps.MonthlyCap) != int64(100) || deref(v.Caps.DailyCap) != int64(5) || v.Caps.SessionCap != nil {
			t.Fatalf("merge: %+v %v", v, err)
		}
		if _, err := us.UpdateUserSpending(apptest.As(admin), u.ID, patchCaps(t, `{"daily_cap": 5}`)); err != nil {
			t.Fatal(err)
		}
		for body, field := range map[string]string{`{"monthly_cap": -1}`: "monthly_cap",
			`{"session_cap": 1000000000001}`: "session_cap"} {
			_, err := us.UpdateUserSpending(sys, u.ID, patchCaps(t, body))
			var se *steward.Error
			if !errors.As(err, &se) || se.Code != steward.CodeValidation || se.Details["fields"].(map[string]any)[field] == nil {
				t.Fatalf("%s: %v", body, err)
			}
		}
		if _, err := us.UpdateUserSpending(apptest.As(admin), owner.ID, patchCaps(t, `{"daily_cap": 1}`)); code(err) != steward.CodeInsufficientRole {
			t.Fatalf("admin on an owner: %v", err)
		}
		if _, err := us.UpdateUserSpending(apptest.As(a.User(steward.RoleSupport)), u.ID, patchCaps(t, `{"daily_cap": 1}`)); code(err) != steward.CodeForbidden {
			t.Fatalf("support: %v", err)
		}
		if _, err := us.UserSpending(sys, "usr_nope"); code(err) != steward.CodeNotFound {
			t.Fatalf("unknown user: %v", err)
		}
		entries, err := a.Store.ListAudit(sys, steward.AuditFilter{Action: "user.spending_update", Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 2 || entries[0].TargetID != u.ID || entries[0].ActorID != admin.ID {
			t.Fatalf("%d entries (%+v), want 2 by the admin on the user", len(entries), entries)
		}
		var ch map[string]struct{ Before, After any }
		_ = json.Unmarshal(entries[0].Changes, &ch)
		if len(ch) != 2 || ch["daily_cap"].Before != nil || ch["daily_cap"].After != 5.0 || ch["session_cap"].Before != 0.0 || ch["session_cap"].After != nil {
			t.Fatalf("latest changes %+v", ch)
		}
	})
}
