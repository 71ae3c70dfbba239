package api_test

import (
	"context"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
)

// Key analytics over HTTP: what POST /platform/keys/verify and a key used
// as a credential counted shows up per key and over a tenant's keys once
// flushed, /api-keys/usage is not taken for a key id, and bad input is
// refused naming the field.
func TestKeyUsageOverHTTP(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		pk := platformKey(t, a)
		owner := createUser(t, a, steward.RoleUser, func(in *steward.UserCreate) { in.TenantID = "ten_ku" })
		k, err := a.Svc.Keys.CreateKey(apptest.As(a.Root), &steward.KeyCreate{Name: "k", Type: steward.KeyUser, UserID: owner.ID, RateLimitRPM: 1})
		if err != nil {
			t.Fatal(err)
		}
		for _, key := range []string{k.Key, k.Key, k.Key, "stw_u_nothing"} {
			if r := a.Do("POST", verifyPath, pk, M{"key": key}); r.Status != 200 {
				t.Fatalf("verify: %d %s", r.Status, r.Raw)
			}
		}
		if err := a.Svc.KeyUsage.FlushKeyUsage(context.Background()); err != nil {
			t.Fatal(err)
		}
		r := a.Do("GET", keysPath+"/"+k.ID+"/usage?granularity=minute", a.RootToken, nil)
		if r.Status != 200 || r.Get("key_id") != k.ID || r.Get("granularity") != "minute" ||
			r.Get("totals.VALID") != 1.0 || r.Get("totals.RATE_LIMITED") != 2.0 || r.Get("totals.REVOKED") != 0.0 || r.Get("total") != 3.0 {
			t.Fatalf("one key: %d %s", r.Status, r.Raw)
		}
		series, _ := r.Get("series").([]any)
		if len(series) != 24*60+1 {
			t.Fatalf("one key: %d buckets, want 1441", len(series))
		}
		last, _ := series[len(series)-1].(map[string]any)
		if last["at"] != apptest.Start.Format(time.RFC3339) || last["total"] != 3.0 {
			t.Fatalf("last bucket: %v", last)
		}

		// The platform key was verified as a credential four times.
		r = a.Do("GET", keysPath+"/usage?code=VALID", a.RootToken, nil)
		top, _ := r.Get("top_keys").([]any)
		if r.Status != 200 || r.Get("total") != 5.0 || len(top) != 2 {
			t.Fatalf("every key, VALID: %d %s", r.Status, r.Raw)
		}
		if first, _ := top[0].(map[string]any); first["total"] != 4.0 || first["tenant_id"] != nil {
			t.Fatalf("top key: %v", first)
		}
		r = a.Do("GET", keysPath+"/usage?tenant_id=ten_ku&granularity=day", a.RootToken, nil)
		top, _ = r.Get("top_keys").([]any)
		if r.Status != 200 || r.Get("tenant_id") != "ten_ku" || r.Get("total") != 3.0 || r.Get("totals.NOT_FOUND") != 0.0 || len(top) != 1 {
			t.Fatalf("a tenant: %d %s", r.Status, r.Raw)
		}
		if one, _ := top[0].(map[string]any); one["key_id"] != k.ID || one["rate_limited"] != 2.0 || one["revoked"] != 0.0 {
			t.Fatalf("the tenant's top key: %v", one)
		}
		r = a.Do("GET", keysPath+"/usage", a.RootToken, nil)
		if r.Status != 200 || r.Get("totals.NOT_FOUND") != 1.0 {
			t.Fatalf("NOT_FOUND over every key: %d %s", r.Status, r.Raw)
		}
		// Nothing matching is still a full report.
		r = a.Do("GET", keysPath+"/usage?tenant_id=ten_none&granularity=day", a.RootToken, nil)
		if top, _ := r.Get("top_keys").([]any); r.Status != 200 || r.Get("total") != 0.0 || top == nil {
			t.Fatalf("no rows: %d %s", r.Status, r.Raw)
		}

		for _, c := range []struct {
			path   string
			status int
			field  string
		}{
			{keysPath + "/usage?granularity=week", 422, "granularity"},
			{keysPath + "/usage?code=valid", 422, "code"},
			{keysPath + "/" + k.ID + "/usage?granularity=minute&since=2026-02-27T12:00:00Z", 422, "since"},
			{keysPath + "/" + k.ID + "/usage?since=2026-03-01T12:00:00Z&until=2026-03-01T11:00:00Z", 422, "until"},
			{keysPath + "/usage?since=0001-01-01T00:00:00Z", 422, "since"},
			{keysPath + "/usage?until=10000-01-01T00:00:00Z", 400, "until"},
			{keysPath + "/usage?since=yesterday", 400, "since"},
		} {
			r := a.Do("GET", c.path, a.RootToken, nil)
			if r.Status != c.status || r.Get("details.fields."+c.field) == nil {
				t.Errorf("GET %s: %d %s, want %d naming %s", c.path, r.Status, r.Raw, c.status, c.field)
			}
		}
		// The edges of the time rule: the last day's bucket ends in year 10000.
		for q, n := range map[string]int{"since=9999-12-30T00:00:00Z&until=9999-12-31T23:59:59Z": 2,
			"since=1970-01-01T00:00:00Z&until=1970-01-02T00:00:00Z": 1} {
			r := a.Do("GET", keysPath+"/usage?granularity=day&"+q, a.RootToken, nil)
			if series, _ := r.Get("series").([]any); r.Status != 200 || len(series) != n {
				t.Errorf("%s: %d %s", q, r.Status, r.Raw)
			}
		}
		if r := a.Do("GET", keysPath+"/"+unknownKey+"/usage", a.RootToken, nil); r.Status != 404 {
			t.Errorf("unknown key: %d %s", r.Status, r.Raw)
		}
		if r := a.Do("GET", keysPath+"/"+k.ID+"/usage?tenant_id=ten_ku", a.RootToken, nil); r.Status != 400 {
			t.Errorf("tenant_id on one key's report: %d %s", r.Status, r.Raw)
		}
	})
}
