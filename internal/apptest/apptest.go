// Package apptest boots the real service and HTTP stack on a test backend
// with a fake clock, for scenario tests on SQLite and PostgreSQL alike.
package apptest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/api"
	"github.com/stewardhq/steward/internal/clock"
	"github.com/stewardhq/steward/internal/password"
	"github.com/stewardhq/steward/internal/testdb"
	"github.com/stewardhq/steward/service"
	"github.com/stewardhq/steward/store"
)

// Password is every test user's password.
const Password = "correct-horse-battery"

// Start is the fake clock's starting time.
var Start = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// App is one running Steward on one fresh database.
type App struct {
	T       testing.TB
	Backend testdb.Backend
	Store   store.Store
	Svc     *service.Service
	Clock   *clock.Fake
	Server  *httptest.Server
	// Root is the bootstrap super_admin; RootToken its session token.
	Root      *steward.User
	RootToken string
	n         atomic.Int64
}

// Options tweak the service.
type Options struct {
	Service func(*service.Config)
	// API tweaks the HTTP layer's dependencies (its Now is the fake clock).
	API func(*api.Deps)
}

// New boots an app on backend b.
func New(t testing.TB, b testdb.Backend, opts ...Options) *App {
	t.Helper()
	st := b.Open(t)
	clk := clock.NewFake(Start)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := service.Config{Store: st, Now: clk.Now, Logger: log, Password: password.Cheap}
	for _, o := range opts {
		if o.Service != nil {
			o.Service(&cfg)
		}
	}
	svc := service.New(cfg)
	ctx := context.Background()
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.Bootstrap(ctx, "root@example.com", Password); err != nil {
		t.Fatal(err)
	}
	deps := api.Deps{Users: svc.Users, Sessions: svc.Sessions, Audit: svc.Audit, Auth: svc.Auth, Keys: svc.Keys, Tenants: svc.Tenants, Credits: svc.Credits, Idem: svc.Idempotency, Impersonations: svc.Impersonations,
		Ready: st.Ping, Logger: log, Now: clk.Now, Health: svc.Health,
		KeyUsage: svc.KeyUsage, Series: svc.Series, Stats: svc.Overview, Retention: svc.Retention,
		PlatformConfig: svc.PlatformConfig, UserSpending: svc.UserSpending, Features: svc.Features,
		Webhooks: svc.Webhooks, Resources: svc.Resources, Models: svc.Models, Actions: svc.Actions, Data: svc.Data}
	for _, o := range opts {
		if o.API != nil {
			o.API(&deps)
		}
	}
	srv := httptest.NewServer(api.NewServer(deps))
	t.Cleanup(srv.Close)
	a := &App{T: t, Backend: b, Store: st, Svc: svc, Clock: clk, Server: srv}
	a.Root, a.RootToken = a.Login("root@example.com")
	return a
}

// System is a context acting as the system (every permission).
func System() context.Context { return steward.WithActor(context.Background(), steward.SystemActor) }

// As is a context acting as u.
func As(u *steward.User) context.Context {
	t := steward.ActorUser
	if u.Role.IsOperator() {
		t = steward.ActorOperator
	}
	return steward.WithActor(context.Background(), steward.Actor{Type: t, ID: u.ID, Role: u.Role})
}

// User creates a user with role (and the test password) directly through the service.
func (a *App) User(role steward.Role, mods ...func(*steward.UserCreate)) *steward.User {
	a.T.Helper()
	n := a.n.Add(1)
	in := &steward.UserCreate{Email: fmt.Sprintf("u%d-%s@example.com", n, role),
		Username: fmt.Sprintf("u%d", n), Name: fmt.Sprintf("User %d", n), Password: Password, Role: role}
	for _, m := range mods {
		m(in)
	}
	if in.TenantID != "" {
		a.EnsureTenant(a.T, in.TenantID)
	}
	u, err := a.Svc.Users.CreateUser(System(), in)
	if err != nil {
		a.T.Fatalf("creating %s user: %v", role, err)
	}
	return u
}

// Login logs email in and returns the user and a session token.
func (a *App) Login(email string) (*steward.User, string) {
	a.T.Helper()
	res, err := a.Svc.Auth.Login(context.Background(), steward.LoginInput{Email: email, Password: Password, IP: "192.0.2.1"})
	if err != nil {
		a.T.Fatalf("login %s: %v", email, err)
	}
	return res.User, res.SessionToken
}

// Operator creates a user with role and returns it with a session token.
func (a *App) Operator(role steward.Role) (*steward.User, string) {
	a.T.Helper()
	u := a.User(role)
	_, tok := a.Login(u.Email)
	return u, tok
}

// Response is an HTTP answer with its body decoded.
type Response struct {
	Status int
	Header http.Header
	Raw    []byte
	Body   map[string]any
}

// Do sends one request. body may be nil, a string (sent as is) or any value (JSON-encoded).
func (a *App) Do(method, path, token string, body any) *Response {
	a.T.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, a.Server.URL+path, rd)
	if err != nil {
		a.T.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.Server.Client().Do(req)
	if err != nil {
		a.T.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := &Response{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	_ = json.Unmarshal(raw, &r.Body)
	return r
}

// Get is a field of a decoded body by dotted path ("details.fields.email").
func (r *Response) Get(path string) any {
	var cur any = r.Body
	start := 0
	for i := 0; i <= len(path); i++ {
		if i == len(path) || path[i] == '.' {
			m, ok := cur.(map[string]any)
			if !ok {
				return nil
			}
			cur = m[path[start:i]]
			start = i + 1
		}
	}
	return cur
}

// Each runs fn as a parallel subtest on every backend, each with a fresh app.
func Each(t *testing.T, fn func(t *testing.T, a *App), opts ...Options) {
	for _, b := range testdb.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			fn(t, New(t, b, opts...))
		})
	}
}

// EnsureTenant makes an active tenant with this exact id (slug alike, plan
// scale: no user limit) unless one exists, so that tests may name tenants
// literally. Safe to call from parallel subtests.
func (a *App) EnsureTenant(t testing.TB, tid string) {
	t.Helper()
	now := a.Clock.Now().UTC().Truncate(time.Microsecond)
	slug := strings.ToLower(strings.ReplaceAll(tid, "_", "-"))
	err := a.Store.Update(context.Background(), func(tx store.Tx) error {
		if _, err := tx.GetTenant(context.Background(), tid); err == nil || !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return tx.CreateTenant(context.Background(), &steward.Tenant{ID: tid, Name: tid, Slug: slug, Plan: "scale",
			Status: steward.TenantActive, Features: map[string]any{}, BillingPeriodStart: now, CreatedAt: now, UpdatedAt: now})
	})
	var dup *store.DuplicateError
	if err != nil && !errors.As(err, &dup) {
		t.Fatalf("tenant %s: %v", tid, err)
	}
}
