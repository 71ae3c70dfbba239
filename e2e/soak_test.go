package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stewardhq/steward/internal/testdb"
)

// The soak's shape (issue 15, item 5): a fixed number of closed-loop
// clients, one minute of load, a SIGKILL at the half. The duration is the
// issue's; STEWARD_SOAK_DURATION (a Go duration) shortens it for a local
// run, and .ci/run sets nothing that does.
const (
	soakClients   = 8
	soakTenants   = 8
	soakDuration  = time.Minute
	soakTotal     = 5 * time.Minute  // the whole test, set-up and checks included, even under -race
	soakPending   = 10 * time.Second // for the audit sequencer to seal what the load left pending
	soakGrant     = 1_000_000
	soakLoginUser = 4
	soakMaxKeys   = 4
	soakMembers   = 2 // per tenant (the free plan allows 3)
)

// soakOps are the kinds of request, with their weights in the mix.
var soakOps = []struct {
	kind   string
	weight int
}{
	{"verify", 30}, {"deduct", 20}, {"grant", 8}, {"user.create", 8}, {"user.update", 8},
	{"user.suspend", 6}, {"bulk.tag", 4}, {"tenant.suspend", 2}, {"key.create", 3},
	{"key.revoke", 3}, {"login", 2},
}

// TestSoakTwoReplicasPostgres runs two steward serve processes on one
// PostgreSQL database under a minute of mixed load spread over both,
// SIGKILLs one at the half and restarts it, and then checks that every
// acknowledged write is there, the ledger and counters agree with a
// recount (steward doctor), the audit chain verifies with nothing left
// pending, and no replica answered 5xx.
func TestSoakTwoReplicasPostgres(t *testing.T) {
	began := time.Now()
	dsn, ok := testdb.PostgresDSN(t)
	if !ok {
		t.Skip(testdb.EnvPostgres + " is not set")
	}
	duration := soakDuration
	if v := os.Getenv("STEWARD_SOAK_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("STEWARD_SOAK_DURATION=%q: want a positive Go duration", v)
		}
		duration = d
	}
	const email, password = "ops@soak.example.com", "soak-test-password-1"
	// One operator session drives every admin request: the per-credential
	// admin rate limit is off, as in the benchmarks, so the soak measures
	// the system and not the limit.
	env := []string{"STEWARD_DB=" + dsn, "STEWARD_BOOTSTRAP_EMAIL=" + email,
		"STEWARD_BOOTSTRAP_PASSWORD=" + password, "STEWARD_LOG_LEVEL=info", "STEWARD_ADMIN_RATE_LIMIT=0"}
	procs := [2]*proc{start(t, env), start(t, env)}
	s := &soak{t: t, client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: soakClients}},
		stats: map[string]*soakStat{}, killedDone: make(chan struct{})}
	for i, p := range procs {
		s.replicas[i] = soakReplica{url: p.url, up: true}
	}
	s.token = must(t, "POST", procs[0].url+"/api/v1/auth/login", "", map[string]string{"email": email, "password": password}, 200)["session_token"].(string)
	s.setUp()

	// The load: every client alternates between the replicas that are up.
	loadStart := time.Now()
	end := loadStart.Add(duration)
	var wg sync.WaitGroup
	// A set-up step that fails the test still waits for the clients (they
	// stop at end): none may report after the test has returned.
	defer wg.Wait()
	clients := make([]*soakClient, soakClients)
	for g := range clients {
		c := s.newClient(g)
		clients[g] = c
		wg.Go(func() {
			for time.Now().Before(end) {
				c.step()
			}
		})
	}

	// The kill, at the half: replica 1 is marked down (new requests go to
	// replica 0), SIGKILLed with its requests in flight, and restarted on
	// the same database while the load goes on.
	time.Sleep(time.Until(end.Add(-duration / 2))) // the load's schedule, not a timing assertion
	s.mu.Lock()
	s.replicas[1].up = false
	s.mu.Unlock()
	killAt := time.Now()
	s.killedAt.Store(killAt.UnixNano())
	if err := procs[1].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-procs[1].done
	close(s.killedDone)
	killed := procs[1]
	procs[1] = start(t, env)
	recovery := time.Since(killAt)
	s.mu.Lock()
	s.replicas[1] = soakReplica{url: procs[1].url, up: true, incarnation: 1}
	s.mu.Unlock()
	wg.Wait()
	loadEnd := time.Now()

	s.report(duration, killAt.Sub(loadStart), recovery)
	if t.Failed() {
		t.FailNow()
	}
	if n := s.stats["back"].ok; n == 0 {
		t.Errorf("no request was acknowledged by the restarted replica: the load did not return to it")
	}

	// The audit chain: ok on both replicas, and nothing left pending once
	// the load has stopped (pending is absent where there is no sequencer:
	// nothing is ever pending there).
	deadline := loadEnd.Add(soakPending)
	for i := range procs {
		for {
			v := must(t, "GET", procs[i].url+"/api/v1/admin/audit-log/verify", s.token, nil, 200)
			pending, _ := v["pending"].(float64)
			if v["ok"] != true {
				t.Fatalf("replica %d: audit-log/verify: %v", i, v)
			}
			if pending == 0 {
				t.Logf("replica %d: audit chain ok, %v entries, none pending (%v after the load stopped)", i, v["entries"], time.Since(loadEnd).Round(time.Millisecond))
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("replica %d: %v audit entries still pending %v after the load stopped: %v", i, pending, soakPending, v)
			}
			time.Sleep(50 * time.Millisecond) // polling the sequencer's progress, bounded by deadline
		}
	}

	for _, c := range clients {
		s.checkClient(c, procs)
	}
	s.checkLedger(procs[1].url)

	// Both replicas stop gracefully; then doctor recounts the ledger and
	// every counter and walks the chain.
	procs[0].stop(t)
	procs[1].stop(t)
	for i, p := range []*proc{procs[0], killed, procs[1]} {
		if n := strings.Count(p.logs.String(), "status=5"); n > 0 {
			t.Errorf("process %d (0: replica 0, 1: replica 1 until the kill, 2: after) logged %d answers with status 5xx:\n%s",
				i, n, grepLines(p.logs.String(), "status=5"))
		}
	}
	out, err := runCmd(t, env, "doctor")
	if err != nil || !strings.Contains(out, "audit chain: ok") || !strings.Contains(out, "credits ledger: ok") {
		t.Fatalf("steward doctor after the soak: %v\n%s", err, out)
	}
	t.Logf("steward doctor:\n%s", out)
	total := time.Since(began)
	t.Logf("soak: %v in all (load %v)", total.Round(time.Millisecond), duration)
	if total > soakTotal {
		t.Errorf("the soak took %v, more than its bound of %v", total.Round(time.Second), soakTotal)
	}
}

type soakReplica struct {
	url         string
	up          bool
	incarnation int // 0 until replica 1 is restarted
}

// soakStat counts the answers to one kind of request.
type soakStat struct {
	requests, ok, refused, fiveXX, cut int
	codes                              map[int]int // the non-2xx answers, by status
}

type soak struct {
	t      *testing.T
	client *http.Client
	token  string

	platformKey string
	tenants     []string
	loginUsers  []string // emails; their password is soakUserPassword

	mu       sync.Mutex
	replicas [2]soakReplica
	stats    map[string]*soakStat
	grants   map[string][]string // acknowledged ledger entry ids, by tenant
	deducts  map[string][]string

	killedAt   atomic.Int64 // unix ns of the SIGKILL, 0 before
	killedDone chan struct{}
}

const soakUserPassword = "soak-user-password-1"

// setUp creates the tenants (each granted soakGrant), the platform key that
// verifies, and the users that log in.
func (s *soak) setUp() {
	t := s.t
	url := s.replicas[0].url
	s.grants, s.deducts = map[string][]string{}, map[string][]string{}
	for i := range soakTenants {
		id := must(t, "POST", url+"/api/v1/admin/tenants", s.token, map[string]any{"name": fmt.Sprintf("Soak %d", i)}, 201)["id"].(string)
		tx := must(t, "POST", url+"/api/v1/admin/credits/grant", s.token, map[string]any{"tenant_id": id, "amount": soakGrant, "description": "soak set-up"}, 201)
		s.tenants = append(s.tenants, id)
		s.grants[id] = append(s.grants[id], tx["transaction"].(map[string]any)["id"].(string))
	}
	s.platformKey = must(t, "POST", url+"/api/v1/admin/api-keys", s.token,
		map[string]any{"name": "soak verifier", "key_type": "platform", "scopes": []string{"keys:verify"}}, 201)["key"].(string)
	for i := range soakLoginUser {
		e := fmt.Sprintf("login-%d@soak.example.com", i)
		must(t, "POST", url+"/api/v1/admin/users", s.token, map[string]any{"email": e, "password": soakUserPassword}, 201)
		s.loginUsers = append(s.loginUsers, e)
	}
}

// soakUser is a user one client created and alone changes, so the client
// knows what the database must hold. known is false after a request on it
// was cut by the kill (it may or may not have committed) until a read
// settles it again.
type soakUser struct {
	id     string
	name   string
	status string
	tags   []string
	known  bool
}

// soakKey is a key one client created; revoked once it sent the revoke
// (acked when the revoke was answered 2xx, not cut by the kill).
type soakKey struct {
	id, key        string
	revoked, acked bool
}

// soakClient is one closed-loop client; it owns its users, its keys and the
// suspension of one tenant.
type soakClient struct {
	s      *soak
	g      int
	rnd    *rand.Rand
	n      int
	users  []*soakUser
	keys   []*soakKey
	tenant struct {
		id        string
		suspended bool
		known     bool
	}
	// members of its tenant, each with a key: the tenant's suspension
	// suspends them and disables their keys, its unsuspension undoes both.
	members []soakMember
}

type soakMember struct{ id, key string } // a user id and the plaintext of the user's key

func (s *soak) newClient(g int) *soakClient {
	c := &soakClient{s: s, g: g, rnd: rand.New(rand.NewPCG(15, uint64(g)))}
	c.tenant.id, c.tenant.known = s.tenants[g%len(s.tenants)], true
	// Its first user and key come before the load: every op has something to act on.
	u := must(s.t, "POST", s.replicas[0].url+"/api/v1/admin/users", s.token, map[string]any{"email": fmt.Sprintf("c%d-0@soak.example.com", g)}, 201)
	c.users = append(c.users, &soakUser{id: u["id"].(string), name: "", status: "active", known: true})
	c.createKey(s.replicas[0].url)
	for i := range soakMembers {
		u := must(s.t, "POST", s.replicas[0].url+"/api/v1/admin/users", s.token,
			map[string]any{"email": fmt.Sprintf("c%d-member-%d@soak.example.com", g, i), "tenant_id": c.tenant.id}, 201)
		k := must(s.t, "POST", s.replicas[0].url+"/api/v1/admin/api-keys", s.token,
			map[string]any{"name": fmt.Sprintf("c%d member %d", g, i), "key_type": "user", "user_id": u["id"]}, 201)
		c.members = append(c.members, soakMember{id: str(u["id"]), key: str(k["key"])})
	}
	return c
}

func (c *soakClient) createKey(url string) {
	k := must(c.s.t, "POST", url+"/api/v1/admin/api-keys", c.s.token,
		map[string]any{"name": fmt.Sprintf("c%d key", c.g), "key_type": "user", "user_id": c.users[0].id}, 201)
	c.keys = append(c.keys, &soakKey{id: k["id"].(string), key: k["key"].(string)})
}

// send sends one request to the next replica that is up and sorts the
// outcome into the stats. It returns the status and body, or ok=false when
// there was no answer: a cut connection of the killed replica (after which
// the client waits until that process is gone, so what it left in flight
// is settled in the database) or a transport error, which fails the test.
func (c *soakClient) send(kind, method, path, bearer string, body any) (code int, out map[string]any, ok bool) {
	s := c.s
	c.n++
	s.mu.Lock()
	r := (c.g + c.n) % 2
	if !s.replicas[r].up {
		r = 1 - r
	}
	rep := s.replicas[r]
	s.mu.Unlock()
	code, out, err := call(context.Background(), s.client, method, rep.url+path, bearer, body)

	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stat(kind)
	st.requests++
	switch {
	case err != nil && r == 1 && rep.incarnation == 0 && s.killedAt.Load() != 0:
		st.cut++
		s.mu.Unlock()
		<-s.killedDone
		s.mu.Lock()
		return 0, nil, false
	case err != nil:
		s.t.Errorf("%s %s on replica %d: no answer: %v", method, path, r, err)
		return 0, nil, false
	case code/100 == 2:
		st.ok++
		if r == 1 && rep.incarnation == 1 {
			s.stat("back").ok++
		}
	case code >= 500:
		st.fiveXX++
		st.codes[code]++
		s.t.Errorf("%s %s on replica %d: %d %v", method, path, r, code, out)
	default:
		st.refused++
		st.codes[code]++
	}
	return code, out, true
}

func (s *soak) stat(kind string) *soakStat {
	st := s.stats[kind]
	if st == nil {
		st = &soakStat{codes: map[int]int{}}
		s.stats[kind] = st
	}
	return st
}

// step sends one request of a kind drawn from the weighted mix.
func (c *soakClient) step() {
	s := c.s
	total := 0
	for _, o := range soakOps {
		total += o.weight
	}
	pick := c.rnd.IntN(total)
	kind := soakOps[0].kind
	for _, o := range soakOps {
		if pick < o.weight {
			kind = o.kind
			break
		}
		pick -= o.weight
	}
	tenant := s.tenants[c.rnd.IntN(len(s.tenants))]
	u := c.users[c.rnd.IntN(len(c.users))]
	switch kind {
	case "verify":
		k := c.keys[c.rnd.IntN(len(c.keys))]
		code, out, ok := c.send(kind, "POST", "/api/v1/platform/keys/verify", s.platformKey, map[string]any{"key": k.key})
		// A key this client never revoked must verify: it owns it.
		if ok && code == 200 && !k.revoked && out["valid"] != true {
			s.t.Errorf("live key %s did not verify: %v", k.id, out)
		}
	case "grant", "deduct":
		code, out, ok := c.send(kind, "POST", "/api/v1/admin/credits/"+kind, s.token,
			map[string]any{"tenant_id": tenant, "amount": 1 + c.rnd.IntN(5), "description": fmt.Sprintf("soak c%d-%d", c.g, c.n)})
		if ok && code/100 == 2 {
			tx, _ := out["transaction"].(map[string]any)
			id, _ := tx["id"].(string)
			if id == "" {
				s.t.Errorf("%s answered %d without a transaction id: %v", kind, code, out)
			}
			s.mu.Lock()
			if kind == "grant" {
				s.grants[tenant] = append(s.grants[tenant], id)
			} else {
				s.deducts[tenant] = append(s.deducts[tenant], id)
			}
			s.mu.Unlock()
		}
	case "user.create":
		code, out, ok := c.send(kind, "POST", "/api/v1/admin/users", s.token,
			map[string]any{"email": fmt.Sprintf("c%d-%d@soak.example.com", c.g, c.n)})
		if ok && code == 201 {
			c.users = append(c.users, &soakUser{id: str(out["id"]), status: "active", known: true})
		}
	case "user.update":
		name := fmt.Sprintf("Soak c%d n%d", c.g, c.n)
		code, _, ok := c.send(kind, "PATCH", "/api/v1/admin/users/"+u.id, s.token, map[string]any{"name": name})
		switch {
		case !ok:
			u.known = false
		case code == 200:
			u.name = name
		}
	case "user.suspend":
		// Not the first user: its keys must keep verifying.
		if len(c.users) < 2 {
			return
		}
		u = c.users[1+c.rnd.IntN(len(c.users)-1)]
		if !c.settleUser(u) {
			return
		}
		action := map[string]string{"active": "suspend", "suspended": "unsuspend"}[u.status]
		code, out, ok := c.send(kind, "POST", "/api/v1/admin/users/"+u.id+"/"+action, s.token, map[string]any{})
		switch {
		case !ok:
			u.known = false
		case code == 200:
			u.status = str(out["status"])
		}
	case "bulk.tag":
		ids := []string{u.id}
		if len(c.users) > 1 {
			ids = append(ids, c.users[c.rnd.IntN(len(c.users))].id)
		}
		tag := fmt.Sprintf("c%d-t%d", c.g, c.n)
		code, out, ok := c.send(kind, "POST", "/api/v1/admin/users/bulk", s.token,
			map[string]any{"user_ids": ids, "action": "tag", "params": map[string]any{"tags": []string{tag}}})
		if ok && code == 200 {
			results, _ := out["results"].([]any)
			for _, r := range results {
				r, _ := r.(map[string]any)
				if r["ok"] != true {
					continue
				}
				for _, u := range c.users {
					if u.id == r["id"] && !slices.Contains(u.tags, tag) {
						u.tags = append(u.tags, tag)
					}
				}
			}
		}
	case "tenant.suspend":
		if !c.settleTenant() {
			return
		}
		action := "suspend"
		if c.tenant.suspended {
			action = "unsuspend"
		}
		code, _, ok := c.send(kind, "POST", "/api/v1/admin/tenants/"+c.tenant.id+"/"+action, s.token, map[string]any{})
		switch {
		case !ok:
			c.tenant.known = false
		case code == 200:
			c.tenant.suspended = !c.tenant.suspended
		}
	case "key.create":
		if len(c.live()) >= soakMaxKeys {
			return
		}
		code, out, ok := c.send(kind, "POST", "/api/v1/admin/api-keys", s.token,
			map[string]any{"name": fmt.Sprintf("c%d-%d", c.g, c.n), "key_type": "user", "user_id": c.users[0].id})
		if ok && code == 201 {
			c.keys = append(c.keys, &soakKey{id: str(out["id"]), key: str(out["key"])})
		}
	case "key.revoke":
		live := c.live()
		if len(live) < 2 {
			return
		}
		k := live[c.rnd.IntN(len(live))]
		code, _, ok := c.send(kind, "DELETE", "/api/v1/admin/api-keys/"+k.id, s.token, nil)
		// Cut or answered, the key is no longer one this client counts on:
		// a cut revoke may have committed.
		if !ok || code == 200 {
			k.revoked, k.acked = true, ok
		}
	case "login":
		email := s.loginUsers[c.rnd.IntN(len(s.loginUsers))]
		code, out, ok := c.send(kind, "POST", "/api/v1/auth/login", "", map[string]string{"email": email, "password": soakUserPassword})
		if ok && code == 200 && out["session_token"] == nil {
			s.t.Errorf("login answered 200 without a session token: %v", out)
		}
	}
}

func (c *soakClient) live() []*soakKey {
	var live []*soakKey
	for _, k := range c.keys {
		if !k.revoked {
			live = append(live, k)
		}
	}
	return live
}

// settleUser reads a user whose state a cut request left unknown.
func (c *soakClient) settleUser(u *soakUser) bool {
	if u.known {
		return true
	}
	code, out, ok := c.send("read", "GET", "/api/v1/admin/users/"+u.id, c.s.token, nil)
	if !ok || code != 200 {
		return false
	}
	u.name, u.status, u.tags, u.known = str(out["name"]), str(out["status"]), strs(out["tags"]), true
	return true
}

func (c *soakClient) settleTenant() bool {
	if c.tenant.known {
		return true
	}
	code, out, ok := c.send("read", "GET", "/api/v1/admin/tenants/"+c.tenant.id, c.s.token, nil)
	if !ok || code != 200 {
		return false
	}
	c.tenant.suspended, c.tenant.known = out["status"] == "suspended", true
	return true
}

// report logs what the load did, by kind.
func (s *soak) report(duration, killAt, recovery time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var kinds []string
	for k := range s.stats {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	var b strings.Builder
	var all soakStat
	fmt.Fprintf(&b, "%-15s %8s %8s %8s %6s %5s  %s\n", "kind", "requests", "2xx", "refused", "5xx", "cut", "non-2xx by status")
	for _, k := range kinds {
		st := s.stats[k]
		if k == "back" {
			continue
		}
		all.requests, all.ok, all.refused, all.fiveXX, all.cut = all.requests+st.requests, all.ok+st.ok, all.refused+st.refused, all.fiveXX+st.fiveXX, all.cut+st.cut
		fmt.Fprintf(&b, "%-15s %8d %8d %8d %6d %5d  %v\n", k, st.requests, st.ok, st.refused, st.fiveXX, st.cut, st.codes)
	}
	fmt.Fprintf(&b, "%-15s %8d %8d %8d %6d %5d\n", "all", all.requests, all.ok, all.refused, all.fiveXX, all.cut)
	grants, deducts := 0, 0
	for _, ids := range s.grants {
		grants += len(ids)
	}
	for _, ids := range s.deducts {
		deducts += len(ids)
	}
	s.t.Logf("soak load: %d clients for %v (%.0f req/s); replica 1 SIGKILLed %v in, back and ready %v later; %d requests acknowledged by it since; acknowledged writes: %d grants, %d deducts\n%s",
		soakClients, duration, float64(all.requests)/duration.Seconds(), killAt.Round(time.Millisecond), recovery.Round(time.Millisecond),
		s.stat("back").ok, grants, deducts, b.String())
}

// checkClient holds the database to what one client was told: its users
// (name, status, tags), its revoked keys refused by both replicas, its
// tenant's suspension.
func (s *soak) checkClient(c *soakClient, procs [2]*proc) {
	t := s.t
	for i, u := range c.users {
		url := procs[i%2].url
		out := must(t, "GET", url+"/api/v1/admin/users/"+u.id, s.token, nil, 200)
		if !u.known {
			continue
		}
		if out["name"] != u.name || out["status"] != u.status {
			t.Errorf("user %s: name %q status %v, want %q and %s", u.id, out["name"], out["status"], u.name, u.status)
		}
		tags := strs(out["tags"])
		for _, tag := range u.tags {
			if !slices.Contains(tags, tag) {
				t.Errorf("user %s: acknowledged tag %s is missing (has %v)", u.id, tag, tags)
			}
		}
	}
	for _, k := range c.keys {
		for i, p := range procs {
			out := must(t, "POST", p.url+"/api/v1/platform/keys/verify", s.platformKey, map[string]any{"key": k.key}, 200)
			if out["valid"] == !k.revoked {
				continue
			}
			// A cut revoke counts as revoked by the client but may not
			// have committed; an acknowledged one must hold.
			if !k.revoked || k.acked {
				t.Errorf("replica %d: key %s (revoked %v) verifies %v", i, k.id, k.revoked, out)
			}
		}
	}
	if c.tenant.known {
		out := must(t, "GET", procs[0].url+"/api/v1/admin/tenants/"+c.tenant.id, s.token, nil, 200)
		if (out["status"] == "suspended") != c.tenant.suspended {
			t.Errorf("tenant %s: status %v, want suspended=%v", c.tenant.id, out["status"], c.tenant.suspended)
		}
		// The cascade holds on both replicas: a suspended tenant's members
		// are suspended and their keys refused, an active one's are not.
		want := map[bool]string{true: "suspended", false: "active"}[c.tenant.suspended]
		for _, m := range c.members {
			if u := must(t, "GET", procs[1].url+"/api/v1/admin/users/"+m.id, s.token, nil, 200); u["status"] != want {
				t.Errorf("member %s of tenant %s (suspended %v): status %v", m.id, c.tenant.id, c.tenant.suspended, u["status"])
			}
			for i, p := range procs {
				v := must(t, "POST", p.url+"/api/v1/platform/keys/verify", s.platformKey, map[string]any{"key": m.key}, 200)
				if v["valid"] == c.tenant.suspended {
					t.Errorf("replica %d: the key of member %s of tenant %s (suspended %v) verifies %v", i, m.id, c.tenant.id, c.tenant.suspended, v)
				}
			}
		}
	}
}

// checkLedger: every acknowledged grant and deduct is in its tenant's
// history, and every balance is non-negative and the sum of its entries.
func (s *soak) checkLedger(url string) {
	t := s.t
	for _, tenant := range s.tenants {
		in := map[string]bool{}
		sum := int64(0)
		for cursor := ""; ; {
			page := must(t, "GET", url+"/api/v1/admin/credits/"+tenant+"/history?limit=200&cursor="+cursor, s.token, nil, 200)
			for _, e := range page["data"].([]any) {
				e := e.(map[string]any)
				in[e["id"].(string)] = true
				sum += int64(e["amount"].(float64))
			}
			next, _ := page["next_cursor"].(string)
			if next == "" {
				break
			}
			cursor = next
		}
		for _, ids := range [][]string{s.grants[tenant], s.deducts[tenant]} {
			for _, id := range ids {
				if !in[id] {
					t.Errorf("tenant %s: acknowledged ledger entry %s is missing", tenant, id)
				}
			}
		}
		balance := int64(must(t, "GET", url+"/api/v1/admin/credits/"+tenant+"/balance", s.token, nil, 200)["balance"].(float64))
		if balance < 0 || balance != sum {
			t.Errorf("tenant %s: balance %d, sum of its %d entries %d", tenant, balance, len(in), sum)
		}
	}
}

// str and strs read JSON values without panicking on a missing field (the
// check that follows then fails with the body).
func str(v any) string { s, _ := v.(string); return s }

func strs(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, e := range l {
		out = append(out, str(e))
	}
	return out
}

// grepLines returns the lines of logs that contain sub.
func grepLines(logs, sub string) string {
	var out []string
	for l := range strings.SplitSeq(logs, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
