package service

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/api"
	"github.com/stewardhq/steward/internal/password"
	"github.com/stewardhq/steward/internal/testdb"
	"github.com/stewardhq/steward/store"
	"github.com/stewardhq/steward/store/postgres"
)

// flagBound is the staleness bound docs/flags.md states for a replica
// whose listener's connection died without a word: the listener's idle
// wait plus its ping's timeout. A connected listener hears of a change as
// soon as it commits.
const flagBound = postgres.FlagListenerIdle + postgres.FlagPingTimeout

// TestFlagsAcrossReplicas: two service+API stacks on one PostgreSQL
// database. A flag set through one is served by the other within the
// bound, from memory; after both listeners' connections are killed, a
// change made meanwhile and one made after they reconnect still reach the
// other replica.
func TestFlagsAcrossReplicas(t *testing.T) {
	var be *testdb.Backend
	for _, b := range testdb.Backends(t) {
		if b.Share != nil {
			be = &b
		}
	}
	if be == nil {
		t.Skip("needs PostgreSQL (STEWARD_TEST_POSTGRES)")
	}
	reg, err := steward.NewFlagRegistry([]*steward.Flag{{Key: "beta", Type: steward.FlagBool, Default: false,
		Tiers: []steward.FlagTier{steward.TierPlatform, steward.TierTenant, steward.TierUser}}})
	if err != nil {
		t.Fatal(err)
	}
	stA := be.Open(t)
	stB := be.Share(t, stA)
	replica := func(st store.Store) (*Service, *httptest.Server) {
		svc := New(Config{Store: st, Password: password.Cheap, Flags: reg})
		srv := httptest.NewServer(api.NewServer(api.Deps{Users: svc.Users, Sessions: svc.Sessions, Audit: svc.Audit,
			Auth: svc.Auth, Keys: svc.Keys, Tenants: svc.Tenants, Credits: svc.Credits, Idem: svc.Idempotency,
			PlatformConfig: svc.PlatformConfig, Features: svc.Features, AdminRatePerMinute: -1}))
		t.Cleanup(srv.Close)
		return svc, srv
	}
	a, srvA := replica(stA)
	b, srvB := replica(stB)
	ctx := sysCtx()
	op, err := a.Users.CreateUser(ctx, &steward.UserCreate{Email: "op@example.com", Password: "long-enough-pw", Role: steward.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	pk, err := a.Keys.CreateKey(ctx, &steward.KeyCreate{Name: "product", Type: steward.KeyPlatform, UserID: op.ID,
		Scopes: []steward.Permission{steward.PermFeaturesRead}})
	if err != nil {
		t.Fatal(err)
	}
	ak, err := a.Keys.CreateKey(ctx, &steward.KeyCreate{Name: "console", Type: steward.KeyAdmin, UserID: op.ID,
		Scopes: []steward.Permission{steward.PermTenantsWrite, steward.PermTenantsRead}})
	if err != nil {
		t.Fatal(err)
	}
	tn, err := a.Tenants.CreateTenant(ctx, &steward.TenantCreate{Name: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	call := func(method, url, key, body string) map[string]any {
		t.Helper()
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(res.Body).Decode(&m)
		if res.StatusCode != 200 {
			t.Fatalf("%s %s: %d %v", method, url, res.StatusCode, m)
		}
		return m
	}
	readB := func() any {
		m := call("GET", srvB.URL+"/api/v1/platform/features?tenant_id="+tn.ID, pk.Key, "")
		return m["features"].(map[string]any)["beta"]
	}
	setA := func(v bool) {
		call("PUT", srvA.URL+"/api/v1/admin/tenants/"+tn.ID+"/features", ak.Key, fmt.Sprintf(`{"beta": %t}`, v))
	}
	converge := func(what string, want bool) {
		t.Helper()
		start := time.Now()
		for readB() != want {
			if time.Since(start) > flagBound+2*time.Second {
				t.Fatalf("%s: replica B still serves beta != %v after %v (bound %v)", what, want, time.Since(start), flagBound)
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Logf("%s: replica B served it %v after the write returned", what, time.Since(start))
	}
	waitLive(t, a.flagCache) // a replica listens once it has served the endpoint
	waitLive(t, b.flagCache)
	if readB() != false {
		t.Fatal("beta before any change")
	}
	setA(true)
	converge("connected", true)
	b.flagCache.mu.RLock()
	_, cached := b.flagCache.tenants[tn.ID]
	b.flagCache.mu.RUnlock()
	if !cached {
		t.Fatal("replica B does not answer from memory")
	}

	// Kill both replicas' listeners; the change made meanwhile must still
	// reach B, and so must one made once they are back.
	ps := stA.(*postgres.Store)
	var schema string
	if err := ps.Pool().QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		t.Fatal(err)
	}
	like := postgres.FlagListenerApplication + " " + schema + "%"
	var killed int
	if err := ps.Pool().QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name LIKE $1`, like).Scan(&killed); err != nil {
		t.Fatal(err)
	}
	if killed != 2 {
		t.Fatalf("killed %d listeners, want 2", killed)
	}
	setA(false)
	converge("listeners killed", false)
	deadline := time.Now().Add(flagBound)
	for {
		var n int
		if err := ps.Pool().QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE $1", like).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d listeners back after %v", n, flagBound)
		}
		time.Sleep(10 * time.Millisecond)
	}
	waitLive(t, b.flagCache)
	if readB() != false {
		t.Fatal("after the reconnection")
	}
	setA(true)
	converge("reconnected", true)
}
