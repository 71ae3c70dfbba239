package api_test

import (
	"context"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"

	"github.com/stewardhq/steward/internal/apptest"
	"github.com/stewardhq/steward/internal/testdb"
	"github.com/stewardhq/steward/store"
	"github.com/stewardhq/steward/store/postgres"
)

// cutProxy forwards TCP connections to target until cut, which closes the
// listener and every connection: the database becomes unreachable, as
// when its host goes down.
type cutProxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
	t.Cleanup(p.cut)
	return p
}

func (p *cutProxy) cut() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
}

// TestDatabaseUnreachable: when PostgreSQL cannot be reached, requests —
// authentication included — answer 503 UNAVAILABLE with Retry-After, never
// 500, and the service recovers by itself when it can be reached again
// (here: a new app; the pool reconnects on its own).
func TestDatabaseUnreachable(t *testing.T) {
	dsn, ok := testdb.PostgresDSN(t)
	if !ok {
		t.Skip("PostgreSQL not configured")
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newCutProxy(t, u.Host)
	u.Host = proxy.ln.Addr().String()
	b := testdb.Backend{Name: "postgres", Open: func(t testing.TB) store.Store {
		st, err := postgres.Open(context.Background(), u.String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		if err := st.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		return st
	}}
	a := apptest.New(t, b)
	_, token := a.Operator("admin")
	if r := a.Do("GET", "/api/v1/admin/users", token, nil); r.Status != 200 {
		t.Fatalf("before the cut: %d %s", r.Status, r.Raw)
	}
	proxy.cut()
	for _, req := range []struct{ method, path, token string }{
		{"GET", "/api/v1/admin/users", token},
		{"GET", "/api/v1/admin/tenants", token},
		{"POST", "/api/v1/admin/users", token},
		{"POST", "/api/v1/auth/login", ""},
	} {
		var body any
		if req.method == "POST" {
			body = map[string]any{"email": "new@example.com", "password": apptest.Password}
		}
		r := a.Do(req.method, req.path, req.token, body)
		if r.Status != 503 || r.Get("code") != "UNAVAILABLE" || r.Header.Get("Retry-After") != "1" {
			t.Errorf("%s %s after the cut: %d %s, want 503 UNAVAILABLE with Retry-After", req.method, req.path, r.Status, r.Raw)
		}
	}
}
