package e2e

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stewardhq/steward/internal/testdb"
)

// The bounds of one run: the kill comes once killAfter writes were
// acknowledged (or loadFor has passed, if the machine is slow), and the
// writers stop at maxWrites whatever happens.
const (
	writers   = 4
	killAfter = 150
	maxWrites = 2000
	loadFor   = 10 * time.Second
	minAcked  = 20
)

// TestKillNineLosesNoAcknowledgedWrite starts the real binary, has a few
// clients grant credits and create users, SIGKILLs it mid-load, restarts it
// on the same database and checks that every write it answered 2xx is
// there, and that steward doctor finds the audit chain and the ledger
// sound.
func TestKillNineLosesNoAcknowledgedWrite(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		killNine(t, "sqlite:"+filepath.Join(t.TempDir(), "steward.db"))
	})
	t.Run("postgres", func(t *testing.T) {
		dsn, ok := testdb.PostgresDSN(t)
		if !ok {
			t.Skip(testdb.EnvPostgres + " is not set")
		}
		killNine(t, dsn)
	})
}

func killNine(t *testing.T, db string) {
	const email, password = "ops@example.com", "kill-nine-test-password"
	env := []string{"STEWARD_DB=" + db, "STEWARD_BOOTSTRAP_EMAIL=" + email,
		"STEWARD_BOOTSTRAP_PASSWORD=" + password, "STEWARD_LOG_LEVEL=info"}
	p := start(t, env)
	token := must(t, "POST", p.url+"/api/v1/auth/login", "", map[string]string{"email": email, "password": password}, 200)["session_token"].(string)
	tenant := must(t, "POST", p.url+"/api/v1/admin/tenants", token, map[string]any{"name": "Kill nine"}, 201)["id"].(string)

	var (
		mu       sync.Mutex
		grants   []string // acknowledged ledger entry ids
		users    []string // acknowledged user ids
		attempts int
	)
	acked := func() int { mu.Lock(); defer mu.Unlock(); return len(grants) + len(users) }
	ctx, cancel := context.WithTimeout(context.Background(), loadFor+20*time.Second)
	defer cancel()
	client := &http.Client{Timeout: 10 * time.Second}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := 0; ; i++ {
				mu.Lock()
				if attempts >= maxWrites {
					mu.Unlock()
					return
				}
				attempts++
				mu.Unlock()
				var (
					code int
					out  map[string]any
					err  error
				)
				if w%2 == 0 {
					code, out, err = call(ctx, client, "POST", p.url+"/api/v1/admin/credits/grant", token,
						map[string]any{"tenant_id": tenant, "amount": 1, "description": fmt.Sprintf("w%d-%d", w, i)})
				} else {
					code, out, err = call(ctx, client, "POST", p.url+"/api/v1/admin/users", token,
						map[string]any{"email": fmt.Sprintf("kill-%d-%d@example.com", w, i)})
				}
				if err != nil {
					return // the server is gone: nothing after this was acknowledged
				}
				if code/100 != 2 {
					continue // refused (a rate limit, say): not acknowledged, not counted
				}
				mu.Lock()
				if w%2 == 0 {
					tx, _ := out["transaction"].(map[string]any)
					id, _ := tx["id"].(string)
					if id == "" {
						t.Errorf("grant answered %d without a transaction id: %v", code, out)
					}
					grants = append(grants, id)
				} else {
					id, _ := out["id"].(string)
					if id == "" {
						t.Errorf("user create answered %d without an id: %v", code, out)
					}
					users = append(users, id)
				}
				mu.Unlock()
			}
		})
	}

	// Kill mid-load: the writers are still sending when SIGKILL lands.
	deadline := time.Now().Add(loadFor)
	for acked() < killAfter && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
	wg.Wait()
	mu.Lock()
	gotGrants, gotUsers := append([]string(nil), grants...), append([]string(nil), users...)
	mu.Unlock()
	if len(gotGrants)+len(gotUsers) < minAcked {
		t.Fatalf("only %d writes were acknowledged before the kill; the test proves nothing", len(gotGrants)+len(gotUsers))
	}
	t.Logf("killed after %d acknowledged grants and %d acknowledged user creates", len(gotGrants), len(gotUsers))

	// Restart on the same database: no second bootstrap, every
	// acknowledged write present.
	p = start(t, env)
	if logs := p.logs.String(); !strings.Contains(logs, "bootstrap skipped") {
		t.Errorf("the restart bootstrapped again:\n%s", logs)
	}
	token = must(t, "POST", p.url+"/api/v1/auth/login", "", map[string]string{"email": email, "password": password}, 200)["session_token"].(string)
	inLedger := map[string]bool{}
	for cursor := ""; ; {
		page := must(t, "GET", p.url+"/api/v1/admin/credits/"+tenant+"/history?limit=200&cursor="+cursor, token, nil, 200)
		for _, e := range page["data"].([]any) {
			inLedger[e.(map[string]any)["id"].(string)] = true
		}
		next, _ := page["next_cursor"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	for _, id := range gotGrants {
		if !inLedger[id] {
			t.Errorf("acknowledged grant %s is missing after the restart", id)
		}
	}
	balance := must(t, "GET", p.url+"/api/v1/admin/credits/"+tenant+"/balance", token, nil, 200)["balance"].(float64)
	if int(balance) < len(gotGrants) {
		t.Errorf("balance %v after %d acknowledged grants of 1", balance, len(gotGrants))
	}
	for _, id := range gotUsers {
		if code, out, err := call(context.Background(), http.DefaultClient, "GET", p.url+"/api/v1/admin/users/"+id, token, nil); err != nil || code != 200 {
			t.Errorf("acknowledged user %s after the restart: %d %v %v", id, code, out, err)
		}
	}
	p.stop(t)

	out, err := runCmd(t, env, "doctor")
	if err != nil || !strings.Contains(out, "audit chain: ok") || !strings.Contains(out, "credits ledger: ok") {
		t.Fatalf("steward doctor after the kill: %v\n%s", err, out)
	}
}
