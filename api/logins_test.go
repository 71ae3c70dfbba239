package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/api"
	"github.com/stewardhq/steward/internal/apptest"
)

// behindProxy makes the test server trust its loopback peer as a reverse
// proxy, so a test can speak from any client address with X-Forwarded-For.
var behindProxy = apptest.Options{API: func(d *api.Deps) {
	d.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
}}

// loginFrom posts a login as client address ip (sent as X-Forwarded-For).
func loginFrom(t *testing.T, a *apptest.App, ip string, body map[string]string) *apptest.Response {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, a.Server.URL+"/api/v1/auth/login", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if ip != "" {
		req.Header.Set("X-Forwarded-For", ip)
	}
	resp, err := a.Server.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := &apptest.Response{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	_ = json.Unmarshal(raw, &r.Body)
	return r
}

// answer is what a caller can compare between two logins: status, code,
// message, details and Retry-After; not the request id.
func answer(r *apptest.Response) string {
	d, _ := json.Marshal(r.Body["details"])
	return fmt.Sprintf("%d %v %q %s retry-after=%q", r.Status, r.Body["code"], r.Body["message"], d, r.Header.Get("Retry-After"))
}

// TestLoginAnswersDoNotRevealAccounts runs one attack twice, against an
// email that has an account and against one that does not, and compares
// every answer: ten failures from one address, then that address held, a
// second address still answered, the per-account cap reached from fifty
// more addresses, and finally the right password for the real account from
// a new address. Then it checks that the owner's usual address is never
// held by all that, and that a new address is slowed, not locked.
func TestLoginAnswersDoNotRevealAccounts(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		owner := a.User(steward.RoleOwner)
		const home = "192.0.2.200"
		if r := loginFrom(t, a, home, map[string]string{"email": owner.Email, "password": apptest.Password}); r.Status != 200 {
			t.Fatalf("the owner's usual login: %s", r.Raw)
		}
		attack := func(email, net, finalPassword string) []string {
			var seq []string
			try := func(host int, pw string) {
				seq = append(seq, answer(loginFrom(t, a, fmt.Sprintf("%s.%d", net, host), map[string]string{"email": email, "password": pw})))
			}
			for i := 0; i < 12; i++ {
				try(1, "wrong-password")
			}
			try(1, finalPassword)
			try(2, "wrong-password")
			for host := 3; host < 60; host++ {
				try(host, "wrong-password")
			}
			try(60, finalPassword)
			return seq
		}
		known := attack(owner.Email, "198.51.100", apptest.Password)
		unknown := attack("no-such-account@example.com", "203.0.113", "any-password-at-all")
		if len(known) != len(unknown) {
			t.Fatalf("sequences of %d and %d answers", len(known), len(unknown))
		}
		for i := range known {
			if known[i] != unknown[i] {
				t.Errorf("answer %d differs:\n  account:    %s\n  no account: %s", i+1, known[i], unknown[i])
			}
		}
		// What the sequence must be, so that "the same" is not "the same bug".
		for i, want := range map[int]string{0: "401 INVALID_CREDENTIALS", 9: "401 INVALID_CREDENTIALS",
			10: "429 RATE_LIMITED", 12: "429 RATE_LIMITED", 13: "401 INVALID_CREDENTIALS", len(known) - 1: "429 RATE_LIMITED"} {
			if got := known[i]; len(got) < len(want) || got[:len(want)] != want {
				t.Errorf("answer %d = %s, want %s", i+1, got, want)
			}
		}

		// The owner's usual address is exempt from the per-account cap the
		// attack filled: an attacker elsewhere cannot lock them out.
		if r := loginFrom(t, a, home, map[string]string{"email": owner.Email, "password": apptest.Password}); r.Status != 200 {
			t.Fatalf("the owner at their usual address during the attack: %s", r.Raw)
		}
		// From a new address the owner is slowed: told when, and let in then.
		r := loginFrom(t, a, "192.0.2.201", map[string]string{"email": owner.Email, "password": apptest.Password})
		wait, _ := r.Body["retry_after"].(float64)
		if r.Status != 429 || wait < 1 || wait > 120 || r.Body["details"].(map[string]any)["retry_after"] != wait {
			t.Fatalf("the owner from a new address under the cap: %s", r.Raw)
		}
		a.Clock.Advance(time.Duration(wait) * time.Second)
		if r := loginFrom(t, a, "192.0.2.201", map[string]string{"email": owner.Email, "password": apptest.Password}); r.Status != 200 {
			t.Fatalf("the owner from a new address after Retry-After: %s", r.Raw)
		}
	}, behindProxy)
}

// TestForwardedForFromAnUntrustedPeerIsIgnored: a client that is not a
// trusted proxy cannot pick its address with X-Forwarded-For, neither to
// spread its guesses over many addresses nor to be recorded as another.
func TestForwardedForFromAnUntrustedPeerIsIgnored(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		u := a.User(steward.RoleUser)
		for i := 0; i < 10; i++ {
			r := loginFrom(t, a, fmt.Sprintf("198.51.100.%d", i+1), map[string]string{"email": u.Email, "password": "wrong-password"})
			if r.Status != 401 {
				t.Fatalf("failure %d: %s", i+1, r.Raw)
			}
		}
		r := loginFrom(t, a, "198.51.100.99", map[string]string{"email": u.Email, "password": apptest.Password})
		if r.Status != 429 || r.Body["retry_after"] != 900.0 {
			t.Fatalf("a changed X-Forwarded-For dodged the per-address limit: %s", r.Raw)
		}
		e := a.Do(http.MethodGet, "/api/v1/admin/audit-log?action=auth.lockout&target_id="+u.ID, a.RootToken, nil)
		data, _ := e.Body["data"].([]any)
		if len(data) != 1 || data[0].(map[string]any)["ip"] != "127.0.0.1" {
			t.Fatalf("the lockout is recorded under the real peer: %s", e.Raw)
		}
	}, apptest.Options{API: func(d *api.Deps) {
		d.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	}})
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		u := a.User(steward.RoleUser)
		loginFrom(t, a, "1.2.3.4, 198.51.100.7", map[string]string{"email": u.Email, "password": "wrong-password"})
		e := a.Do(http.MethodGet, "/api/v1/admin/audit-log?action=auth.login_failed&target_id="+u.ID, a.RootToken, nil)
		data, _ := e.Body["data"].([]any)
		if len(data) != 1 || data[0].(map[string]any)["ip"] != "198.51.100.7" {
			t.Fatalf("behind a trusted proxy the client is the right-most hop: %s", e.Raw)
		}
	}, behindProxy)
}
