package service_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
	"github.com/stewardhq/steward/service"
)

// recountStats is the oracle: every Stats figure counted from the rows
// through the stores' ordinary list and count queries at the app's now,
// none of which reads a counter.
func recountStats(t *testing.T, a *apptest.App) *steward.Stats {
	t.Helper()
	ctx := context.Background()
	now := a.Clock.Now().UTC().Truncate(time.Microsecond)
	st := &steward.Stats{
		Users:   steward.UserStats{ByStatus: map[steward.UserStatus]int64{}, ByRole: map[steward.Role]int64{}},
		Tenants: steward.TenantStats{ByStatus: map[steward.TenantStatus]int64{}, ByPlan: map[string]int64{}},
	}
	for _, s := range []steward.UserStatus{steward.StatusActive, steward.StatusSuspended, steward.StatusBanned, steward.StatusDeleted} {
		n, err := a.Store.CountUsers(ctx, steward.UserFilter{Status: s})
		must(t, err)
		st.Users.ByStatus[s] = n
		st.Users.Total += n
	}
	// A ban that has ended shows as active until the sweeper lifts it.
	lifted, err := a.Store.ListUsersBanExpired(ctx, now, 100000)
	must(t, err)
	st.Users.ByStatus[steward.StatusBanned] -= int64(len(lifted))
	st.Users.ByStatus[steward.StatusActive] += int64(len(lifted))
	for _, r := range steward.Roles {
		n, err := a.Store.CountUsers(ctx, steward.UserFilter{Role: r})
		must(t, err)
		st.Users.ByRole[r] = n
	}
	for _, s := range []steward.TenantStatus{steward.TenantActive, steward.TenantSuspended, steward.TenantDeleted} {
		n, err := a.Store.CountTenants(ctx, steward.TenantFilter{Status: s})
		must(t, err)
		st.Tenants.ByStatus[s] = n
		st.Tenants.Total += n
	}
	for _, p := range steward.DefaultPlans() {
		n, err := a.Store.CountTenants(ctx, steward.TenantFilter{Plan: p.ID})
		must(t, err)
		st.Tenants.ByPlan[p.ID] = n
	}
	ks, err := a.Store.APIKeyStats(ctx, now)
	must(t, err)
	st.APIKeys = steward.KeyCounts{Total: ks.Total, ByStatus: ks.ByStatus, ByType: ks.ByType}
	st.Sessions.Active, err = a.Store.CountSessions(ctx, steward.SessionFilter{Status: steward.SessionActive, Now: now})
	must(t, err)
	active := true
	imps, err := a.Store.ListImpersonations(ctx, steward.ImpersonationFilter{Active: &active, Now: now, Limit: 100000})
	must(t, err)
	st.Impersonations.Active = int64(len(imps))
	totals, err := a.Store.LedgerTotals(ctx)
	must(t, err)
	for _, tl := range totals {
		st.Credits.Outstanding += tl.Account
	}
	st.Resources = recountResources(t, a)
	return st
}

// checkStats fails t unless Stats equals the recount and CheckCounters
// finds no drift.
func checkStats(t *testing.T, a *apptest.App, when string) *steward.Stats {
	t.Helper()
	got, err := a.Svc.Overview.Stats(apptest.System(), nil)
	must(t, err)
	want := recountStats(t, a)
	same := got.Users.Total == want.Users.Total && maps.Equal(got.Users.ByStatus, want.Users.ByStatus) &&
		maps.Equal(got.Users.ByRole, want.Users.ByRole) &&
		got.Tenants.Total == want.Tenants.Total && maps.Equal(got.Tenants.ByStatus, want.Tenants.ByStatus) &&
		maps.Equal(got.Tenants.ByPlan, want.Tenants.ByPlan) &&
		got.APIKeys.Total == want.APIKeys.Total && maps.Equal(got.APIKeys.ByStatus, want.APIKeys.ByStatus) &&
		maps.Equal(got.APIKeys.ByType, want.APIKeys.ByType) &&
		got.Sessions.Active == want.Sessions.Active && got.Impersonations.Active == want.Impersonations.Active &&
		got.Credits.Outstanding == want.Credits.Outstanding
	// Stale is the rows last seen before now less the configured age.
	if d, err := time.ParseDuration(got.Resources.StaleAfter); err != nil {
		t.Fatalf("%s: stale_after %q: %v", when, got.Resources.StaleAfter, err)
	} else {
		want.Resources.Stale = staleResources(t, a, a.Clock.Now().Add(-d))
	}
	if gr, wr := got.Resources, want.Resources; gr.Total != wr.Total || !maps.Equal(gr.ByStatus, wr.ByStatus) ||
		!maps.Equal(gr.ByDesired, wr.ByDesired) || gr.HeldByTenant != wr.HeldByTenant || gr.Stale != wr.Stale {
		t.Fatalf("%s: resources %+v, recount %+v", when, gr, wr)
	}
	if !same {
		t.Fatalf("%s: Stats disagrees with the recount\n stats:   users %+v tenants %+v keys %+v sessions %d imps %d credits %d\n recount: users %+v tenants %+v keys %+v sessions %d imps %d credits %d",
			when, got.Users, got.Tenants, got.APIKeys, got.Sessions.Active, got.Impersonations.Active, got.Credits.Outstanding,
			want.Users, want.Tenants, want.APIKeys, want.Sessions.Active, want.Impersonations.Active, want.Credits.Outstanding)
	}
	drifts, err := a.Svc.Overview.CheckCounters(context.Background(), false)
	must(t, err)
	if len(drifts) != 0 {
		t.Fatalf("%s: counters drifted: %+v", when, drifts)
	}
	return got
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// refused accepts the service's refusals (a *steward.Error: the random
// sequence asks for moves the state machine may not allow) and fails on
// anything else.
func refused(t *testing.T, op string, err error) bool {
	t.Helper()
	var se *steward.Error
	if err != nil && !errors.As(err, &se) {
		t.Fatalf("%s: %v", op, err)
	}
	return err != nil
}

// TestStatsMatchRecountAfterRandomSequence runs a seeded random sequence of
// every move the counters follow — user and role lifecycles, tenant
// lifecycles with their cascades and plan changes, key creation, rotation,
// revocation and expiry, logins, logouts and session expiry,
// impersonations, ledger writes, the clock passing expiries and the
// sweepers — and checks Stats against a recount from the rows, on both
// stores, every few steps and at the end.
func TestStatsMatchRecountAfterRandomSequence(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		seed := uint64(time.Now().UnixNano())
		t.Logf("seed %d", seed)
		rng := rand.New(rand.NewPCG(seed, 1))
		sys, root := apptest.System(), apptest.As(a.Root)
		ctx := context.Background()
		var (
			users, tenants, keys, tokens, imps, deducts []string
			emails                                      = map[string]string{}
		)
		pick := func(list []string) string {
			if len(list) == 0 {
				return ""
			}
			return list[rng.IntN(len(list))]
		}
		newTenant := func() {
			tn, err := a.Svc.Tenants.CreateTenant(sys, &steward.TenantCreate{Name: fmt.Sprintf("T %d", rng.Int())})
			if !refused(t, "create tenant", err) {
				tenants = append(tenants, tn.ID)
			}
		}
		newUser := func() {
			in := &steward.UserCreate{Email: fmt.Sprintf("r%d@example.com", rng.Int()), Password: apptest.Password,
				Role: []steward.Role{steward.RoleUser, steward.RoleUser, steward.RoleSupport}[rng.IntN(3)]}
			if tid := pick(tenants); tid != "" && rng.IntN(2) == 0 {
				in.TenantID = tid
			}
			u, err := a.Svc.Users.CreateUser(sys, in)
			if !refused(t, "create user", err) {
				users = append(users, u.ID)
				emails[u.ID] = u.Email
			}
		}
		newTenant()
		newTenant()
		for range 4 {
			newUser()
		}
		type op struct {
			name string
			fn   func()
		}
		ops := []op{
			{"create user", newUser},
			{"suspend", func() { _, err := a.Svc.Users.SuspendUser(sys, pick(users), "r"); refused(t, "suspend", err) }},
			{"unsuspend", func() { _, err := a.Svc.Users.UnsuspendUser(sys, pick(users)); refused(t, "unsuspend", err) }},
			{"ban", func() {
				until := a.Clock.Now().Add(time.Duration(1+rng.IntN(3)) * time.Hour)
				_, err := a.Svc.Users.BanUser(sys, pick(users), steward.BanInput{Reason: "r", ExpiresAt: &until})
				refused(t, "ban", err)
			}},
			{"unban", func() { _, err := a.Svc.Users.UnbanUser(sys, pick(users)); refused(t, "unban", err) }},
			{"delete", func() { _, err := a.Svc.Users.DeleteUser(sys, pick(users), "r"); refused(t, "delete", err) }},
			{"restore", func() { _, err := a.Svc.Users.RestoreUser(sys, pick(users)); refused(t, "restore", err) }},
			{"purge", func() { refused(t, "purge", a.Svc.Users.PurgeUser(sys, pick(users), "r")) }},
			{"change role", func() {
				_, err := a.Svc.Users.ChangeRole(sys, pick(users), []steward.Role{steward.RoleUser, steward.RoleSupport, steward.RoleAdmin}[rng.IntN(3)])
				refused(t, "change role", err)
			}},
			{"force logout", func() { _, err := a.Svc.Users.ForceLogout(sys, pick(users)); refused(t, "force logout", err) }},
			{"create tenant", newTenant},
			{"suspend tenant", func() {
				_, err := a.Svc.Tenants.SuspendTenant(sys, pick(tenants), "r")
				refused(t, "suspend tenant", err)
			}},
			{"unsuspend tenant", func() {
				_, err := a.Svc.Tenants.UnsuspendTenant(sys, pick(tenants))
				refused(t, "unsuspend tenant", err)
			}},
			{"delete tenant", func() {
				_, err := a.Svc.Tenants.DeleteTenant(sys, pick(tenants), "r")
				refused(t, "delete tenant", err)
			}},
			{"restore tenant", func() { _, err := a.Svc.Tenants.RestoreTenant(sys, pick(tenants)); refused(t, "restore tenant", err) }},
			{"purge tenant", func() { _, err := a.Svc.Tenants.PurgeTenant(sys, pick(tenants), "r"); refused(t, "purge tenant", err) }},
			{"change plan", func() {
				p := steward.DefaultPlans()[rng.IntN(len(steward.DefaultPlans()))].ID
				_, err := a.Svc.Tenants.ChangePlan(sys, pick(tenants), &steward.PlanChangeInput{Plan: p})
				refused(t, "change plan", err)
			}},
			{"create key", func() {
				in := &steward.KeyCreate{Name: "k", Type: steward.KeyUser, UserID: pick(users)}
				if rng.IntN(2) == 0 {
					exp := a.Clock.Now().Add(time.Duration(1+rng.IntN(3)) * time.Hour)
					in.ExpiresAt = &exp
				}
				k, err := a.Svc.Keys.CreateKey(sys, in)
				if !refused(t, "create key", err) {
					keys = append(keys, k.ID)
				}
			}},
			{"revoke key", func() { _, err := a.Svc.Keys.RevokeKey(sys, pick(keys), "r"); refused(t, "revoke key", err) }},
			{"rotate key", func() {
				k, err := a.Svc.Keys.RotateKey(sys, pick(keys), &steward.KeyRotate{GracePeriodSeconds: rng.IntN(2) * 3600})
				if !refused(t, "rotate key", err) {
					keys = append(keys, k.ID)
				}
			}},
			{"login", func() {
				res, err := a.Svc.Auth.Login(ctx, steward.LoginInput{Email: emails[pick(users)], Password: apptest.Password, IP: "192.0.2.1"})
				if !refused(t, "login", err) {
					tokens = append(tokens, res.SessionToken)
				}
			}},
			{"logout", func() {
				if tok := pick(tokens); tok != "" {
					refused(t, "logout", a.Svc.Auth.Logout(ctx, tok))
				}
			}},
			{"start impersonation", func() {
				res, err := a.Svc.Impersonations.StartImpersonation(root, steward.ImpersonationStart{UserID: pick(users),
					Reason: "ticket", Duration: time.Duration(10+rng.IntN(120)) * time.Minute})
				if !refused(t, "start impersonation", err) {
					imps = append(imps, res.ImpersonationID)
				}
			}},
			{"stop impersonation", func() {
				if id := pick(imps); id != "" {
					_, err := a.Svc.Impersonations.StopImpersonation(root, id)
					refused(t, "stop impersonation", err)
				}
			}},
			{"grant", func() {
				in := &steward.GrantInput{TenantID: pick(tenants), Amount: steward.Credits(1 + rng.IntN(100)), Description: "g"}
				if rng.IntN(2) == 0 {
					exp := a.Clock.Now().Add(time.Duration(1+rng.IntN(3)) * time.Hour)
					in.ExpiresAt = &exp
				}
				_, err := a.Svc.Credits.Grant(sys, in)
				refused(t, "grant", err)
			}},
			{"deduct", func() {
				res, err := a.Svc.Credits.Deduct(sys, &steward.DeductInput{TenantID: pick(tenants), Amount: steward.Credits(1 + rng.IntN(30)), Description: "d"})
				if !refused(t, "deduct", err) {
					deducts = append(deducts, res.Transaction.TenantID+"/"+res.Transaction.ID)
				}
			}},
			{"refund", func() {
				if d := pick(deducts); d != "" {
					var tid, id string
					for i := range d {
						if d[i] == '/' {
							tid, id = d[:i], d[i+1:]
						}
					}
					_, err := a.Svc.Credits.Refund(sys, &steward.RefundInput{TenantID: tid, TransactionID: id, Amount: 1, Description: "r"})
					refused(t, "refund", err)
				}
			}},
			{"report resource", func() {
				id := fmt.Sprintf("vm-%d", rng.IntN(12))
				in := &steward.ResourceReport{Kind: "computer", TenantID: pick(tenants),
					Status: steward.ResourceStatuses[rng.IntN(len(steward.ResourceStatuses))]}
				if r, err := a.Store.GetResource(ctx, id); err == nil {
					in.TenantID = r.TenantID // a resource cannot change tenant
				}
				_, err := a.Svc.Resources.ReportResource(sys, id, in)
				refused(t, "report resource", err)
			}},
			{"resource action", func() {
				id := fmt.Sprintf("vm-%d", rng.IntN(12))
				var err error
				switch rng.IntN(4) {
				case 0:
					_, err = a.Svc.Resources.SuspendResource(sys, id)
				case 1:
					_, err = a.Svc.Resources.ResumeResource(sys, id)
				case 2:
					_, err = a.Svc.Resources.RestartResource(sys, id)
				default:
					_, err = a.Svc.Resources.DeleteResource(sys, id)
				}
				refused(t, "resource action", err)
			}},
			{"purge stale resources", func() {
				_, err := a.Svc.Resources.PurgeStaleResources(sys, "")
				refused(t, "purge stale resources", err)
			}},
			{"time passes", func() { a.Clock.Advance(time.Duration(rng.IntN(90)) * time.Minute) }},
			{"maintain", func() { must(t, a.Svc.Maintain(ctx)) }},
		}
		// Creations weigh more, so the sequence keeps enough rows to move.
		for _, name := range []string{"create user", "create user", "create key", "create key", "login", "login",
			"start impersonation", "grant", "deduct", "create tenant", "report resource", "report resource"} {
			for _, o := range ops {
				if o.name == name {
					ops = append(ops, o)
				}
			}
		}
		steps := 400
		if testing.Short() {
			steps = 100
		}
		for i := range steps {
			op := ops[rng.IntN(len(ops))]
			op.fn()
			if i%25 == 24 {
				checkStats(t, a, fmt.Sprintf("step %d (%s)", i, op.name))
			}
		}
		// Long after everything lapsed, before and after the sweep.
		a.Clock.Advance(48 * time.Hour)
		checkStats(t, a, "everything lapsed")
		must(t, a.Svc.Maintain(ctx))
		st := checkStats(t, a, "swept")
		t.Logf("users %v, tenants %v, keys %v, sessions active %d, outstanding %d, resources %+v",
			st.Users.ByStatus, st.Tenants.ByStatus, st.APIKeys.ByStatus, st.Sessions.Active, st.Credits.Outstanding, st.Resources)
		// Sessions expire and resources go stale mid-sequence.
	}, apptest.Options{Service: func(c *service.Config) { c.SessionTTL, c.ResourceStaleAfter = 3*time.Hour, 2*time.Hour }})
}

// TestStatsMatchRecountUnderConcurrentWriters runs goroutines that create,
// suspend and unsuspend users, log in and deduct credits at the same time:
// no counter move is lost (PostgreSQL's shards included).
func TestStatsMatchRecountUnderConcurrentWriters(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		sys := apptest.System()
		tn, err := a.Svc.Tenants.CreateTenant(sys, &steward.TenantCreate{Name: "Busy", Plan: "scale"})
		must(t, err)
		_, err = a.Svc.Credits.Grant(sys, &steward.GrantInput{TenantID: tn.ID, Amount: 1000, Description: "g"})
		must(t, err)
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for w := range 4 {
			wg.Add(2)
			go func() {
				defer wg.Done()
				for i := range 8 {
					u, err := a.Svc.Users.CreateUser(sys, &steward.UserCreate{Email: fmt.Sprintf("c%d-%d@example.com", w, i),
						Password: apptest.Password, Role: steward.RoleUser, TenantID: tn.ID})
					if err != nil {
						errs <- err
						return
					}
					if _, err := a.Svc.Auth.Login(context.Background(), steward.LoginInput{Email: u.Email, Password: apptest.Password, IP: "192.0.2.1"}); err != nil {
						errs <- err
						return
					}
					if _, err := a.Svc.Users.SuspendUser(sys, u.ID, "c"); err != nil {
						errs <- err
						return
					}
					if i%2 == 0 {
						if _, err := a.Svc.Users.UnsuspendUser(sys, u.ID); err != nil {
							errs <- err
							return
						}
					}
				}
			}()
			go func() {
				defer wg.Done()
				for range 10 {
					if _, err := a.Svc.Credits.Deduct(sys, &steward.DeductInput{TenantID: tn.ID, Amount: 3, Description: "c"}); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		st := checkStats(t, a, "after the writers")
		// Root plus 32 users, half of them left suspended; 4 × 10 deducts of 3.
		if st.Users.Total != 33 || st.Users.ByStatus[steward.StatusSuspended] != 16 || st.Credits.Outstanding != 1000-120 {
			t.Fatalf("stats after the writers: users %+v, outstanding %d", st.Users, st.Credits.Outstanding)
		}
	})
}

// TestStatsShape: every known status, role, key type and catalogue plan is
// present with 0 where none; a plan outside the catalogue appears when a
// tenant is on it; month and tz follow the zone asked for; stats:read is
// required (support and up).
func TestStatsShape(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		// 2026-03-31 23:00 UTC is April already in Tokyo (UTC+9).
		a.Clock.Advance(30*24*time.Hour + 11*time.Hour)
		a.EnsureTenant(t, "ten_outside") // apptest puts it on "scale"
		a.Backend.Exec(t, a.Store, "UPDATE tenants SET plan = 'legacy' WHERE id = 'ten_outside'")
		tokyo, err := time.LoadLocation("Asia/Tokyo")
		must(t, err)
		support := a.User(steward.RoleSupport)
		a.Login(support.Email)
		st, err := a.Svc.Overview.Stats(apptest.As(support), tokyo)
		must(t, err)
		if st.Month != "2026-04" || st.TZ != "Asia/Tokyo" || !st.GeneratedAt.Equal(a.Clock.Now()) {
			t.Fatalf("month %q tz %q generated_at %v", st.Month, st.TZ, st.GeneratedAt)
		}
		if utc, err := a.Svc.Overview.Stats(apptest.As(support), nil); err != nil || utc.Month != "2026-03" || utc.TZ != "UTC" {
			t.Fatalf("in UTC: %+v, %v", utc, err)
		}
		wantPlans := map[string]int64{"legacy": 1}
		for _, p := range steward.DefaultPlans() {
			wantPlans[p.ID] = 0
		}
		if !maps.Equal(st.Tenants.ByPlan, wantPlans) {
			t.Fatalf("by_plan %v, want %v", st.Tenants.ByPlan, wantPlans)
		}
		if len(st.Users.ByStatus) != 4 || len(st.Users.ByRole) != len(steward.Roles) || len(st.Tenants.ByStatus) != 3 ||
			len(st.APIKeys.ByStatus) != 4 || len(st.APIKeys.ByType) != 3 || st.Usage.ByMetric == nil {
			t.Fatalf("missing keys: %+v", st)
		}
		// Root and the support operator; root's session expired (30-day TTL),
		// the support operator's is active.
		if st.Users.Total != 2 || st.Users.ByRole[steward.RoleSuperAdmin] != 1 || st.Users.ByRole[steward.RoleSupport] != 1 ||
			st.Users.ByStatus[steward.StatusBanned] != 0 || st.Sessions.Active != 1 {
			t.Fatalf("users %+v sessions %+v", st.Users, st.Sessions)
		}
		if _, err := a.Svc.Overview.Stats(apptest.As(a.User(steward.RoleUser)), nil); steward.ErrorCode(err) != steward.CodeForbidden {
			t.Fatalf("an end user reading stats: %v", err)
		}
	})
}

// TestCheckCountersRepairs: a counter corrupted in the database is
// reported with its stored and recounted values; repair overwrites it in
// one transaction with one counters.repair audit entry by the system, after
// which nothing drifts and later writes count on from the right value.
func TestCheckCountersRepairs(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		ctx := context.Background()
		a.User(steward.RoleUser)
		a.Backend.Exec(t, a.Store, "INSERT INTO stat_counters (name, key, shard, value) VALUES ('users.status', 'active', 99, 5)")
		a.Backend.Exec(t, a.Store, "INSERT INTO stat_counters (name, key, shard, value) VALUES ('users.role', 'ghost', 3, 2)")
		want := []steward.CounterDrift{
			{Counter: "users.role", Key: "ghost", Stored: 2, Recounted: 0},
			{Counter: "users.status", Key: "active", Stored: 7, Recounted: 2},
		}
		got, err := a.Svc.Overview.CheckCounters(ctx, false)
		must(t, err)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("CheckCounters = %+v, want %+v", got, want)
		}
		if again, _ := a.Svc.Overview.CheckCounters(ctx, false); len(again) != 2 {
			t.Fatalf("a check without repair changed the counters: %+v", again)
		}
		got, err = a.Svc.Overview.CheckCounters(ctx, true)
		must(t, err)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("CheckCounters(repair) = %+v, want %+v", got, want)
		}
		entries, err := a.Store.ListAudit(ctx, steward.AuditFilter{Action: "counters.repair", Limit: 10})
		must(t, err)
		if len(entries) != 1 || entries[0].ActorType != steward.ActorSystem ||
			string(entries[0].Metadata) != `{"drifts":[{"counter":"users.role","key":"ghost","stored":2,"recounted":0},{"counter":"users.status","key":"active","stored":7,"recounted":2}]}` {
			t.Fatalf("audit: %d entries, %+v", len(entries), entries)
		}
		a.User(steward.RoleUser)
		st := checkStats(t, a, "after the repair")
		if st.Users.ByStatus[steward.StatusActive] != 3 {
			t.Fatalf("active users %d, want 3", st.Users.ByStatus[steward.StatusActive])
		}
	})
}

// TestSweepLapsedChangesNoAnswer: marking lapsed sessions and keys moves
// only the counters; what the API reads of them is the same before and
// after, and Stats is the same too.
func TestSweepLapsedChangesNoAnswer(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		ctx, sys := context.Background(), apptest.System()
		u := a.User(steward.RoleUser)
		a.Login(u.Email)
		exp := a.Clock.Now().Add(time.Hour)
		k, err := a.Svc.Keys.CreateKey(sys, &steward.KeyCreate{Name: "k", Type: steward.KeyUser, UserID: u.ID, ExpiresAt: &exp})
		must(t, err)
		r, err := a.Svc.Keys.CreateKey(sys, &steward.KeyCreate{Name: "r", Type: steward.KeyUser, UserID: u.ID})
		must(t, err)
		_, err = a.Svc.Keys.RotateKey(sys, r.ID, &steward.KeyRotate{GracePeriodSeconds: 60})
		must(t, err)
		a.Clock.Advance(31 * 24 * time.Hour) // past the key, the grace and the session
		read := func() string {
			keys, err := a.Svc.Keys.ListKeys(sys, steward.KeyFilter{UserID: u.ID}, steward.ListParams{})
			must(t, err)
			sessions, err := a.Svc.Sessions.ListSessions(sys, steward.SessionFilter{UserID: u.ID}, steward.ListParams{})
			must(t, err)
			got, err := a.Svc.Keys.GetKey(sys, k.ID)
			must(t, err)
			b, err := json.Marshal([]any{keys.Data, sessions.Data, got})
			must(t, err)
			return string(b)
		}
		before, statsBefore := read(), checkStats(t, a, "before the sweep")
		ns, nk, err := a.Svc.Overview.SweepLapsed(ctx)
		must(t, err)
		if ns != 2 || nk != 2 { // root's session and the user's
			t.Fatalf("swept %d sessions and %d keys, want 2 and 2", ns, nk)
		}
		after, statsAfter := read(), checkStats(t, a, "after the sweep")
		if before != after {
			t.Fatalf("the sweep changed an answer:\n%s\n%s", before, after)
		}
		if b, _ := json.Marshal(statsBefore); string(b) != func() string { a, _ := json.Marshal(statsAfter); return string(a) }() {
			t.Fatalf("the sweep changed the stats:\n%+v\n%+v", statsBefore, statsAfter)
		}
	})
}
