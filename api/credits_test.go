package api_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
)

const (
	creditsPath = "/api/v1/admin/credits"
	usagePath   = "/api/v1/platform/usage"
)

func TestCreditScenarios(t *testing.T) { runScenarios(t, creditScenarios()) }

func creditScenarios() []scenario {
	var all []scenario
	for _, g := range [][]scenario{ledgerScenarios(), refundScenarios(), usageScenarios()} {
		all = append(all, g...)
	}
	return all
}

// grant gives tenant {tenant} amount credits as root ({name} is the entry id).
func (f *fix) grant(name, tenant string, amount int, expires string) {
	f.t.Helper()
	b := M{"tenant_id": "{" + tenant + "}", "amount": amount, "description": "grant " + name}
	if expires != "" {
		b["expires_at"] = expires
	}
	f.e[name] = str(f.must(201, post, creditsPath+"/grant", "{root}", b), "transaction.id")
}

// balance reads {tenant}'s balance.
func (f *fix) balance(tenant string) float64 {
	f.t.Helper()
	return num(f.must(200, get, creditsPath+"/{"+tenant+"}/balance", "{root}", nil), "balance")
}

// checkLedger fails the test when any tenant's ledger views disagree.
func (f *fix) checkLedger() {
	f.t.Helper()
	bad, err := f.a.Svc.Credits.CheckLedger(apptest.System())
	f.ok(err)
	for _, b := range bad {
		if b.TenantID == f.e["t"] || b.TenantID == f.e["u"] {
			f.t.Errorf("ledger disagrees: %+v", b)
		}
	}
}

func ledgerScenarios() []scenario {
	return []scenario{
		{Name: "credits: a grant opens a block and answers the balance", Method: post, Path: creditsPath + "/grant", Token: "{root}",
			Setup: func(f *fix) { f.tenant("t", nil) },
			Body:  M{"tenant_id": "{t}", "amount": 100, "description": " welcome ", "expires_at": "2026-03-25T00:00:00Z"}, Status: 201,
			Want: M{"transaction.id": prefix("txn_"), "transaction.kind": "grant", "transaction.amount": 100,
				"transaction.balance_after": 100, "transaction.description": "welcome", "transaction.tenant_id": "{t}",
				"transaction.expires_at": "2026-03-25T00:00:00Z", "transaction.seq": 1, "transaction.actor_id": "{root_id}", "transaction.draws": length(0),
				"balance": 100},
			After: func(f *fix, r *apptest.Response) {
				if str(r, "transaction.block_id") != str(r, "transaction.id") {
					f.t.Errorf("block id: %s", r.Raw)
				}
				e := f.audit(str(r, "transaction.id"), "credits.grant")
				if len(e) != 1 || e[0]["tenant_id"] != f.e["t"] {
					f.t.Errorf("audit: %v", e)
				}
				b := f.must(200, get, creditsPath+"/{t}/balance", "{root}", nil)
				if b.Get("balance") != 100.0 || str(b, "expiring.0.block_id") != str(r, "transaction.id") {
					f.t.Errorf("balance: %s", b.Raw)
				}
				f.checkLedger()
			}},
		{Name: "credits: deducts draw the soonest-expiring block first, then the oldest", Method: post, Path: creditsPath + "/deduct",
			Token: "{root}",
			Setup: func(f *fix) {
				f.tenant("t", nil)
				f.grant("forever", "t", 50, "")
				f.grant("late", "t", 30, "2026-03-20T00:00:00Z")
				f.grant("soon", "t", 20, "2026-03-10T00:00:00Z")
				f.grant("late2", "t", 5, "2026-03-21T00:00:00Z")
			},
			Body: M{"tenant_id": "{t}", "amount": 60, "description": "job 1"}, Status: 201,
			Want: M{"transaction.kind": "deduct", "transaction.amount": -60, "transaction.balance_after": 45, "balance": 45,
				"transaction.draws": []M{{"block_id": "{soon}", "amount": -20}, {"block_id": "{late}", "amount": -30},
					{"block_id": "{late2}", "amount": -5}, {"block_id": "{forever}", "amount": -5}}},
			After: func(f *fix, r *apptest.Response) { f.checkLedger() }},
		{Name: "credits: a deduct beyond the balance is 402 and changes nothing", Method: post, Path: creditsPath + "/deduct",
			Token: "{root}",
			Setup: func(f *fix) { f.tenant("t", nil); f.grant("g", "t", 10, "") },
			Body:  M{"tenant_id": "{t}", "amount": 11, "description": "too much"}, Status: 402,
			Want: M{"code": steward.CodeInsufficientCredits, "details.balance": 10, "details.requested": 11},
			After: func(f *fix, r *apptest.Response) {
				if f.balance("t") != 10 {
					f.t.Error("balance moved")
				}
				if n := len(f.walk(creditsPath+"/{t}/history", "{root}")); n != 1 {
					f.t.Errorf("%d entries", n)
				}
			}},
		{Name: "credits: amounts must be positive whole numbers", Method: post, Path: creditsPath + "/grant", Token: "{root}",
			Setup: func(f *fix) { f.tenant("t", nil) },
			Body:  M{"tenant_id": "{t}", "amount": 1.5, "description": ""}, Status: 422, Want: validation("amount", "description")},
		{Name: "credits: a string amount is named too", Method: post, Path: creditsPath + "/deduct", Token: "{root}",
			Setup: func(f *fix) { f.tenant("t", nil) },
			Body:  M{"tenant_id": "{t}", "amount": "10", "description": "x"}, Status: 422, Want: validation("amount")},
		{Name: "credits: zero and negative amounts are refused", Method: post, Path: creditsPath + "/grant", Token: "{root}",
			Setup: func(f *fix) { f.tenant("t", nil) },
			Body:  M{"tenant_id": "{t}", "amount": -5, "description": "x", "expires_at": "2020-01-01T00:00:00Z"}, Status: 422,
			Want: validation("amount", "expires_at")},
		{Name: "credits: an unknown tenant is NOT_FOUND", Method: post, Path: creditsPath + "/grant", Token: "{root}",
			Body: M{"tenant_id": "ten_00000000000000000000000000", "amount": 5, "description": "x"}, Status: 404,
			Want: code(steward.CodeNotFound)},
		{Name: "credits: a deleted tenant's ledger is closed", Method: post, Path: creditsPath + "/grant", Token: "{root}",
			Setup: func(f *fix) { f.tenant("t", nil); f.must(200, del, tenantsPath+"/{t}", "{root}", nil) },
			Body:  M{"tenant_id": "{t}", "amount": 5, "description": "x"}, Status: 409, Want: code(steward.CodeInvalidState)},
		{Name: "credits: a replayed Idempotency-Key answers the first transaction; another body is 409", Method: get,
			Path: creditsPath + "/{t}/history", Token: "{root}",
			Setup: func(f *fix) {
				f.tenant("t", nil)
				f.grant("g", "t", 100, "")
				body := M{"tenant_id": "{t}", "amount": 7, "description": "once"}
				r1 := f.idem(post, creditsPath+"/deduct", "{root}", "{t}-deduct-1", body)
				r2 := f.idem(post, creditsPath+"/deduct", "{root}", "{t}-deduct-1", body)
				if r1.Status != 201 || r2.Status != 201 || str(r1, "transaction.id") != str(r2, "transaction.id") ||
					r2.Header.Get("Idempotent-Replayed") != "true" {
					f.t.Fatalf("replay: %d %s / %d %s", r1.Status, r1.Raw, r2.Status, r2.Raw)
				}
				r3 := f.idem(post, creditsPath+"/deduct", "{root}", "{t}-deduct-1", M{"tenant_id": "{t}", "amount": 8, "description": "once"})
				f.expectErr(r3, 409, steward.CodeIdempotencyKeyReused)
				// Another operator with the same key reaches the ledger's own
				// record of it: the same transaction, never a second deduct.
				f.op("adm", steward.RoleAdmin)
				r4 := f.idem(post, creditsPath+"/deduct", "{adm_tok}", "{t}-deduct-1", body)
				if r4.Status != 200 || str(r4, "transaction.id") != str(r1, "transaction.id") || r4.Header.Get("Idempotent-Replayed") != "true" {
					f.t.Fatalf("ledger replay: %d %s", r4.Status, r4.Raw)
				}
				f.expectErr(f.idem(post, creditsPath+"/deduct", "{adm_tok}", "{t}-deduct-1", M{"tenant_id": "{t}", "amount": 9, "description": "x"}),
					409, steward.CodeIdempotencyKeyReused)
			},
			Status: 200, Want: M{"data": length(2), "data.0.amount": -7, "data.0.idempotency_key": "{t}-deduct-1"},
			After: func(f *fix, r *apptest.Response) {
				if f.balance("t") != 93 {
					f.t.Errorf("balance %v", f.balance("t"))
				}
			}},
		{Name: "credits: history filters by kind and pages", Method: get, Path: creditsPath + "/{t}/history?kind=deduct&limit=2",
			Token: "{sup_tok}",
			Setup: func(f *fix) {
				f.op("sup", steward.RoleSupport)
				f.tenant("t", nil)
				f.grant("g", "t", 100, "")
				for i := range 3 {
					f.must(201, post, creditsPath+"/deduct", "{root}", M{"tenant_id": "{t}", "amount": i + 1, "description": "d"})
				}
				all := f.walk(creditsPath+"/{t}/history?limit=1", "{root}")
				if len(all) != 4 {
					f.t.Errorf("walk: %d", len(all))
				}
			},
			Status: 200, Want: M{"data": length(2), "has_more": true, "data.0.kind": "deduct", "data.1.kind": "deduct"}},
		{Name: "credits: a bad history kind is named", Method: get, Path: creditsPath + "/{t}/history?kind=gift", Token: "{root}",
			Setup: func(f *fix) { f.tenant("t", nil) }, Status: 422, Want: validation("kind")},
		{Name: "credits: adjust needs a reason and credits:adjust", Method: post, Path: creditsPath + "/adjust", Token: "{adm_tok}",
			Setup: func(f *fix) { f.op("adm", steward.RoleAdmin); f.tenant("t", nil) },
			Body:  M{"tenant_id": "{t}", "amount": 5, "description": "fix", "reason": "support ticket 12"}, Status: 403,
			Want: M{"code": steward.CodeForbidden, "details.required_permission": "credits:adjust"}},
		{Name: "credits: adjust down draws like a deduct and up opens a block", Method: post, Path: creditsPath + "/adjust",
			Token: "{root}",
			Setup: func(f *fix) {
				f.tenant("t", nil)
				f.grant("g", "t", 10, "")
				f.expectErr(f.do(post, creditsPath+"/adjust", "{root}", M{"tenant_id": "{t}", "amount": -4, "description": "fix"}),
					422, steward.CodeValidation)
				f.must(201, post, creditsPath+"/adjust", "{root}", M{"tenant_id": "{t}", "amount": -4, "description": "fix", "reason": "double grant"})
			},
			Body: M{"tenant_id": "{t}", "amount": 3, "description": "fix up", "reason": "ticket 9"}, Status: 201,
			Want: M{"transaction.kind": "adjust", "transaction.amount": 3, "transaction.reason": "ticket 9", "balance": 9}},
		{Name: "credits: a daily spending cap is 402 SPENDING_CAP_REACHED", Method: post, Path: creditsPath + "/deduct", Token: "{root}",
			Setup: func(f *fix) {
				f.tenant("t", M{"spending": M{"daily_cap": 10, "alert_threshold_percent": 50}})
				f.grant("g", "t", 100, "")
				f.must(201, post, creditsPath+"/deduct", "{root}", M{"tenant_id": "{t}", "amount": 6, "description": "a"})
			},
			Body: M{"tenant_id": "{t}", "amount": 5, "description": "b"}, Status: 402,
			Want: M{"code": steward.CodeSpendingCapReached, "details.cap": "daily", "details.limit": 10, "details.spent": 6},
			After: func(f *fix, r *apptest.Response) {
				if e := f.audit(f.e["t"], "credits.spending_alert"); len(e) != 1 {
					f.t.Errorf("alerts: %v", e)
				}
				f.must(201, post, creditsPath+"/deduct", "{root}", M{"tenant_id": "{t}", "amount": 4, "description": "c"})
			}},
	}
}

func refundScenarios() []scenario {
	setup := func(f *fix) {
		f.tenant("t", nil)
		f.grant("a", "t", 10, "2026-03-10T00:00:00Z")
		f.grant("b", "t", 10, "")
		r := f.must(201, post, creditsPath+"/deduct", "{root}", M{"tenant_id": "{t}", "amount": 15, "description": "job"})
		f.e["d"] = str(r, "transaction.id")
	}
	return []scenario{
		{Name: "refunds: go back into the blocks drawn, last drawn first, capped at the deduct", Method: post,
			Path: creditsPath + "/refund", Token: "{root}", Setup: setup,
			Body: M{"tenant_id": "{t}", "amount": 7, "description": "partial", "transaction_id": "{d}"}, Status: 201,
			Want: M{"transaction.kind": "refund", "transaction.amount": 7, "transaction.related_id": "{d}", "balance": 12,
				"transaction.draws": []M{{"block_id": "{b}", "amount": 5}, {"block_id": "{a}", "amount": 2}}},
			After: func(f *fix, r *apptest.Response) {
				f.expectErr(f.do(post, creditsPath+"/refund", "{root}", M{"tenant_id": "{t}", "amount": 9, "description": "x", "transaction_id": "{d}"}),
					422, steward.CodeValidation)
				r2 := f.must(201, post, creditsPath+"/refund", "{root}", M{"tenant_id": "{t}", "amount": 8, "description": "rest", "transaction_id": "{d}"})
				if str(r2, "transaction.draws.0.block_id") != f.e["a"] || r2.Get("balance") != 20.0 {
					f.t.Errorf("second refund: %s", r2.Raw)
				}
				f.expectErr(f.do(post, creditsPath+"/refund", "{root}", M{"tenant_id": "{t}", "amount": 1, "description": "x", "transaction_id": "{d}"}),
					422, steward.CodeValidation)
				f.checkLedger()
			}},
		{Name: "refunds: naming a grant is refused", Method: post, Path: creditsPath + "/refund", Token: "{root}", Setup: setup,
			Body: M{"tenant_id": "{t}", "amount": 1, "description": "x", "transaction_id": "{a}"}, Status: 422, Want: validation("transaction_id")},
		{Name: "refunds: another tenant's deduct is NOT_FOUND", Method: post, Path: creditsPath + "/refund", Token: "{root}",
			Setup: func(f *fix) { setup(f); f.tenant("u", nil) },
			Body:  M{"tenant_id": "{u}", "amount": 1, "description": "x", "transaction_id": "{d}"}, Status: 404, Want: code(steward.CodeNotFound)},
		{Name: "refunds: without a deduct a refund opens a block", Method: post, Path: creditsPath + "/refund", Token: "{root}",
			Setup: func(f *fix) { f.tenant("t", nil) },
			Body:  M{"tenant_id": "{t}", "amount": 4, "description": "goodwill"}, Status: 201,
			Want: M{"transaction.kind": "refund", "transaction.block_id": present(), "balance": 4}},
	}
}

func usageScenarios() []scenario {
	usageKey := func(f *fix) {
		f.key("up", "{root}", M{"name": "usage", "key_type": "platform", "scopes": []string{"usage:write"}})
	}
	return []scenario{
		{Name: "usage: each event counts once; paid events draw credits; unpaid ones are reported", Method: post, Path: usagePath,
			Token: "{up_key}",
			Setup: func(f *fix) {
				usageKey(f)
				f.tenant("t", nil)
				f.grant("g", "t", 10, "")
				f.e["n"] = fmt.Sprint(uniq.Add(1))
			},
			Body: M{"events": []M{
				{"id": "ev-{n}-1", "tenant_id": "{t}", "user_id": "usr_x", "metric": "tokens", "quantity": 1000, "credits": 4, "model": "gpt", "occurred_at": "2026-03-01T11:00:00Z"},
				{"id": "ev-{n}-1", "tenant_id": "{t}", "metric": "tokens", "quantity": 1000, "credits": 4, "occurred_at": "2026-03-01T11:00:00Z"},
				{"id": "ev-{n}-2", "tenant_id": "{t}", "metric": "tokens", "quantity": 5, "credits": 7, "occurred_at": "2026-03-01T11:00:00Z"},
				{"id": "ev-{n}-3", "tenant_id": "{t}", "metric": "requests", "quantity": 1, "occurred_at": "2026-03-01T11:00:00Z"},
				{"id": "ev-{n}-4", "tenant_id": "{t}", "metric": "tokens", "quantity": 1.5, "occurred_at": "2026-03-01T11:00:00Z"},
				{"id": "ev-{n}-5", "tenant_id": "ten_00000000000000000000000000", "metric": "tokens", "quantity": 1, "occurred_at": "2026-03-01T11:00:00Z"},
			}},
			Status: 200,
			Want: M{"recorded": 2, "duplicates": 1, "rejected": 3,
				"results.0.status": "recorded", "results.0.transaction_id": prefix("txn_"), "results.0.balance": 6,
				"results.1.status": "duplicate", "results.2.status": "rejected", "results.2.code": steward.CodeInsufficientCredits,
				"results.3.status": "recorded", "results.4.code": steward.CodeValidation, "results.5.code": steward.CodeNotFound},
			After: func(f *fix, r *apptest.Response) {
				again := f.must(200, post, usagePath, "{up_key}", M{"events": []M{
					{"id": "ev-{n}-1", "tenant_id": "{t}", "metric": "tokens", "quantity": 1000, "credits": 4, "occurred_at": "2026-03-01T11:00:00Z"}}})
				if again.Get("duplicates") != 1.0 || f.balance("t") != 6 {
					f.t.Errorf("resend: %s, balance %v", again.Raw, f.balance("t"))
				}
				rep := f.must(200, get, "/api/v1/admin/usage?period=day&group_by=metric&tenant_id={t}", "{root}", nil)
				if rep.Get("totals.events") != 2.0 || rep.Get("totals.credits") != 4.0 || str(rep, "data.0.key") != "tokens" {
					f.t.Errorf("report: %s", rep.Raw)
				}
				f.checkLedger()
			}},
		{Name: "usage: a batch needs events", Method: post, Path: usagePath, Token: "{up_key}", Setup: usageKey,
			Body: M{"events": []M{}}, Status: 422, Want: validation("events")},
		{Name: "usage: an admin session is the wrong surface", Method: post, Path: usagePath, Token: "{root}",
			Body: M{"events": []M{}}, Status: 403, Want: code(steward.CodeWrongSurface)},
		{Name: "usage: a custom report needs start and end", Method: get, Path: "/api/v1/admin/usage?period=custom&start=2026-03-01T00:00:00Z",
			Token: "{root}", Status: 422, Want: validation("end")},
		{Name: "usage: a report by tenant over a week", Method: get, Path: "/api/v1/admin/usage?period=week&group_by=model&tenant_id={t}",
			Token: "{sup_tok}",
			Setup: func(f *fix) {
				f.op("sup", steward.RoleSupport)
				usageKey(f)
				f.tenant("t", nil)
				f.grant("g", "t", 100, "")
				f.e["n"] = fmt.Sprint(uniq.Add(1))
				f.must(200, post, usagePath, "{up_key}", M{"events": []M{
					{"id": "w-{n}-1", "tenant_id": "{t}", "metric": "tokens", "quantity": 10, "credits": 2, "cost_micros": 300, "model": "m1", "occurred_at": "2026-02-23T00:00:00Z"},
					{"id": "w-{n}-2", "tenant_id": "{t}", "metric": "tokens", "quantity": 10, "credits": 5, "model": "m2", "occurred_at": "2026-02-28T23:59:59Z"},
					{"id": "w-{n}-3", "tenant_id": "{t}", "metric": "tokens", "quantity": 10, "credits": 1, "model": "m1", "occurred_at": "2026-02-22T23:59:59Z"},
				}})
			},
			Status: 200,
			Want: M{"start": "2026-02-23T00:00:00Z", "end": "2026-03-02T00:00:00Z", "group_by": "model", "data": length(2),
				"data.0.key": "m2", "data.0.credits": 5, "data.1.key": "m1", "data.1.credits": 2, "data.1.cost_micros": 300,
				"totals.events": 2}},
	}
}

// TestCreditExpiryAtTheInstant: a block stops counting at the microsecond it
// expires, before any sweeper, and the next write records the expiry.
func TestCreditExpiryAtTheInstant(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		f := newFix(t, a)
		f.tenant("t", nil)
		exp := a.Clock.Now().Add(time.Hour)
		f.grant("g", "t", 10, exp.Format(time.RFC3339Nano))
		f.grant("h", "t", 5, "")
		a.Clock.Advance(time.Hour - time.Microsecond)
		if b := f.balance("t"); b != 15 {
			t.Fatalf("a microsecond before: %v", b)
		}
		a.Clock.Advance(time.Microsecond)
		if b := f.balance("t"); b != 5 {
			t.Fatalf("at the instant: %v", b)
		}
		f.expectErr(f.do(post, creditsPath+"/deduct", "{root}", M{"tenant_id": "{t}", "amount": 6, "description": "x"}),
			402, steward.CodeInsufficientCredits)
		h := f.walk(creditsPath+"/{t}/history", "{root}")
		if len(h) != 3 || h[0]["kind"] != "expire" || h[0]["amount"] != -10.0 || h[0]["balance_after"] != 5.0 || h[0]["related_id"] != f.e["g"] ||
			h[0]["actor_id"] != "system" {
			t.Fatalf("history: %v", h)
		}
		n, err := a.Svc.Credits.SweepExpiredCredits(apptest.System())
		f.ok(err)
		if n != 0 {
			t.Fatalf("sweeper found %d already expired", n)
		}
		f.checkLedger()
	})
}

// TestCreditSweeperWritesExpiries: the sweeper writes the expire entries a
// quiet tenant would otherwise never get.
func TestCreditSweeperWritesExpiries(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		f := newFix(t, a)
		f.tenant("t", nil)
		f.tenant("u", nil)
		exp := a.Clock.Now().Add(time.Minute).Format(time.RFC3339Nano)
		f.grant("g1", "t", 10, exp)
		f.grant("g2", "u", 3, exp)
		r := f.must(201, post, creditsPath+"/deduct", "{root}", M{"tenant_id": "{t}", "amount": 4, "description": "x"})
		_ = r
		a.Clock.Advance(time.Minute)
		n, err := a.Svc.Credits.SweepExpiredCredits(apptest.System())
		f.ok(err)
		if n != 2 {
			t.Fatalf("swept %d", n)
		}
		h := f.walk(creditsPath+"/{t}/history?kind=expire", "{root}")
		if len(h) != 1 || h[0]["amount"] != -6.0 || h[0]["balance_after"] != 0.0 {
			t.Fatalf("history: %v", h)
		}
		f.checkLedger()
	})
}

// TestCreditProration: an upgrade with prorate grants the prorated
// difference of included credits, expiring at the period's end.
func TestCreditProration(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		f := newFix(t, a)
		f.tenant("t", M{"plan": "starter"})      // period 2026-03-01 12:00 → 2026-04-01 12:00
		a.Clock.Advance(31 * 24 * time.Hour / 4) // a quarter through the 31-day period
		r := f.must(200, post, tenantsPath+"/{t}/plan", "{root}", M{"plan": "pro"})
		// (50,000 − 10,000) × 0.75 = 30,000.
		if r.Get("proration.amount") != 30000.0 || str(r, "proration.expires_at") != "2026-04-01T12:00:00Z" ||
			str(r, "proration.kind") != "grant" {
			t.Fatalf("proration: %s", r.Raw)
		}
		if f.balance("t") != 30000 {
			t.Fatalf("balance %v", f.balance("t"))
		}
		// A downgrade, and prorate=false, grant nothing.
		r = f.must(200, post, tenantsPath+"/{t}/plan", "{root}", M{"plan": "free"})
		if r.Get("proration") != nil {
			t.Fatalf("downgrade: %s", r.Raw)
		}
		r = f.must(200, post, tenantsPath+"/{t}/plan", "{root}", M{"plan": "scale", "prorate": false})
		if r.Get("proration") != nil || f.balance("t") != 30000 {
			t.Fatalf("prorate=false: %s", r.Raw)
		}
		d := f.must(200, get, tenantsPath+"/{t}/detail", "{root}", nil)
		if d.Get("credits.balance") != 30000.0 || str(d, "period_end") != "2026-04-01T12:00:00Z" {
			t.Fatalf("detail: %s", d.Raw)
		}
		f.checkLedger()
	})
}

// TestDeductRace: N concurrent deducts of 1 from a balance of B < N: exactly
// B succeed, the rest get 402, the balance ends at 0 and the ledger agrees.
func TestDeductRace(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		const n, b = 60, 37
		f := newFix(t, a)
		f.tenant("t", nil)
		f.grant("g", "t", b, "")
		var wg sync.WaitGroup
		var mu sync.Mutex
		codes := map[int]int{}
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := send(a, post, creditsPath+"/deduct", a.RootToken,
					[]byte(`{"tenant_id":"`+f.e["t"]+`","amount":1,"description":"race"}`), true, nil)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					codes[-1]++
					return
				}
				codes[r.Status]++
			}()
		}
		wg.Wait()
		if codes[201] != b || codes[402] != n-b {
			t.Fatalf("statuses: %v", codes)
		}
		if f.balance("t") != 0 {
			t.Fatalf("balance %v", f.balance("t"))
		}
		f.checkLedger()
	})
}
