package service_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
	"github.com/stewardhq/steward/internal/clock"
	"github.com/stewardhq/steward/internal/password"
	"github.com/stewardhq/steward/service"
	"github.com/stewardhq/steward/store/sqlite"
)

func verify(t *testing.T, a *apptest.App, key, ip string, scope steward.Permission) *steward.VerifyResult {
	t.Helper()
	op := a.Root
	res, err := a.Svc.Keys.VerifyKey(apptest.As(op), &steward.VerifyRequest{Key: key, IP: ip, Scope: scope})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestKeyStateFollowsItsOwner(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		admin, _ := a.Operator(steward.RoleAdmin)
		u := a.User(steward.RoleUser)
		ctx := apptest.As(admin)
		k1, err := a.Svc.Keys.CreateKey(ctx, &steward.KeyCreate{Name: "one", Type: steward.KeyUser, UserID: u.ID})
		if err != nil {
			t.Fatal(err)
		}
		k2, err := a.Svc.Keys.CreateKey(ctx, &steward.KeyCreate{Name: "two", Type: steward.KeyUser, UserID: u.ID})
		if err != nil {
			t.Fatal(err)
		}
		if r := verify(t, a, k1.Key, "", ""); !r.Valid {
			t.Fatalf("fresh key: %+v", r)
		}
		for _, step := range []struct {
			name string
			do   func() error
			want string
		}{
			{"suspend", func() error { _, err := a.Svc.Users.SuspendUser(ctx, u.ID, "x"); return err }, steward.VerifyOwnerInactive},
			{"revoke one meanwhile", func() error { _, err := a.Svc.Keys.RevokeKey(ctx, k2.ID, ""); return err }, steward.VerifyOwnerInactive},
			{"unsuspend", func() error { _, err := a.Svc.Users.UnsuspendUser(ctx, u.ID); return err }, steward.VerifyValid},
			{"ban", func() error { _, err := a.Svc.Users.BanUser(ctx, u.ID, steward.BanInput{Reason: "x"}); return err }, steward.VerifyOwnerInactive},
			{"unban", func() error { _, err := a.Svc.Users.UnbanUser(ctx, u.ID); return err }, steward.VerifyValid},
		} {
			if err := step.do(); err != nil {
				t.Fatalf("%s: %v", step.name, err)
			}
			if r := verify(t, a, k1.Key, "", ""); r.Code != step.want {
				t.Fatalf("after %s: %s, want %s", step.name, r.Code, step.want)
			}
		}
		if r := verify(t, a, k2.Key, "", ""); r.Code != steward.VerifyRevoked {
			t.Fatalf("a key revoked while its owner was suspended came back: %s", r.Code)
		}
		got, _ := a.Svc.Keys.GetKey(ctx, k1.ID)
		if got.Status != steward.KeyActive {
			t.Fatalf("status %s", got.Status)
		}
		if _, err := a.Svc.Users.SuspendUser(ctx, u.ID, "again"); err != nil {
			t.Fatal(err)
		}
		if got, _ := a.Svc.Keys.GetKey(ctx, k1.ID); got.Status != steward.KeyDisabled {
			t.Fatalf("a suspended owner's key shows %s", got.Status)
		}
	})
}

func TestAdminKeyLosesWhatTheRoleLost(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		owner, _ := a.Operator(steward.RoleOwner)
		k, err := a.Svc.Keys.CreateKey(apptest.As(owner), &steward.KeyCreate{Name: "ci", Type: steward.KeyAdmin,
			Scopes: []steward.Permission{steward.PermUsersRead, steward.PermUsersDelete}})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		p, err := a.Svc.Auth.Authenticate(ctx, k.Key)
		if err != nil {
			t.Fatal(err)
		}
		if !p.Actor.Can(steward.PermUsersDelete) || p.Actor.Can(steward.PermUsersWrite) {
			t.Fatalf("scopes not applied: %+v", p.Actor)
		}
		if _, err := a.Svc.Users.ChangeRole(apptest.System(), owner.ID, steward.RoleSupport); err != nil {
			t.Fatal(err)
		}
		p, err = a.Svc.Auth.Authenticate(ctx, k.Key)
		if err != nil {
			t.Fatal(err)
		}
		if p.Actor.Can(steward.PermUsersDelete) || !p.Actor.Can(steward.PermUsersRead) {
			t.Fatalf("a demoted operator's key kept users:delete: %+v", p.Actor)
		}
	})
}

func TestNobodyMintsScopesTheyLack(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		admin, _ := a.Operator(steward.RoleAdmin)
		_, err := a.Svc.Keys.CreateKey(apptest.As(admin), &steward.KeyCreate{Name: "x", Type: steward.KeyPlatform,
			Scopes: []steward.Permission{steward.PermKeysVerify, steward.PermUsersDelete}})
		if code(err) != steward.CodeCannotEscalate {
			t.Fatalf("admin minting users:delete: %v", err)
		}
		_, err = a.Svc.Keys.CreateKey(apptest.As(admin), &steward.KeyCreate{Name: "x", Type: steward.KeyAdmin,
			Scopes: []steward.Permission{steward.PermAll}})
		if code(err) != steward.CodeCannotEscalate {
			t.Fatalf("admin minting *: %v", err)
		}
		// A key acting for its operator cannot mint a key wider than itself.
		k, err := a.Svc.Keys.CreateKey(apptest.As(admin), &steward.KeyCreate{Name: "narrow", Type: steward.KeyAdmin,
			Scopes: []steward.Permission{steward.PermKeysWrite, steward.PermKeysRead}})
		if err != nil {
			t.Fatal(err)
		}
		p, err := a.Svc.Auth.Authenticate(context.Background(), k.Key)
		if err != nil {
			t.Fatal(err)
		}
		_, err = a.Svc.Keys.CreateKey(steward.WithActor(context.Background(), p.Actor), &steward.KeyCreate{Name: "wide",
			Type: steward.KeyAdmin, Scopes: []steward.Permission{steward.PermUsersWrite}})
		if code(err) != steward.CodeCannotEscalate {
			t.Fatalf("a narrow key minting users:write: %v", err)
		}
	})
}

func TestRateLimitWithTheClock(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		u := a.User(steward.RoleUser)
		k, err := a.Svc.Keys.CreateKey(apptest.System(), &steward.KeyCreate{Name: "r", Type: steward.KeyUser, UserID: u.ID, RateLimitRPM: 3})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			r := verify(t, a, k.Key, "", "")
			if !r.Valid || r.RateLimit.Limit != 3 || r.RateLimit.Remaining != 2-i {
				t.Fatalf("request %d: %+v", i+1, r)
			}
		}
		r := verify(t, a, k.Key, "", "")
		if r.Code != steward.VerifyRateLimited || r.RateLimit.Remaining != 0 {
			t.Fatalf("fourth request: %+v", r)
		}
		a.Clock.Advance(20 * time.Second) // one emission interval
		if r := verify(t, a, k.Key, "", ""); !r.Valid {
			t.Fatalf("after 20 s: %+v", r)
		}
		if r := verify(t, a, k.Key, "", ""); r.Code != steward.VerifyRateLimited {
			t.Fatalf("only one request regained: %+v", r)
		}
	})
}

func TestVerificationCodes(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		u := a.User(steward.RoleUser)
		mk := func(in steward.KeyCreate) *steward.CreatedKey {
			in.Name, in.Type, in.UserID = "k", steward.KeyUser, u.ID
			k, err := a.Svc.Keys.CreateKey(apptest.System(), &in)
			if err != nil {
				t.Fatal(err)
			}
			return k
		}
		exp := a.Clock.Now().Add(time.Hour)
		plain := mk(steward.KeyCreate{Scopes: []steward.Permission{"read"}})
		expiring := mk(steward.KeyCreate{ExpiresAt: &exp})
		fenced := mk(steward.KeyCreate{AllowedIPs: []string{"10.1.0.0/16", "2001:db8::1"}})
		cases := []struct {
			key, ip string
			scope   steward.Permission
			want    string
		}{
			{plain.Key, "", "", steward.VerifyValid},
			{plain.Key, "", "read", steward.VerifyValid},
			{plain.Key, "", "write", steward.VerifyInsufficientScope},
			{"stw_u_" + strings.Repeat("A", 43), "", "", steward.VerifyNotFound},
			{"nonsense", "", "", steward.VerifyNotFound},
			{fenced.Key, "10.1.2.3", "", steward.VerifyValid},
			{fenced.Key, "2001:db8::1", "", steward.VerifyValid},
			{fenced.Key, "::ffff:10.1.2.3", "", steward.VerifyValid},
			{fenced.Key, "10.2.0.1", "", steward.VerifyIPNotAllowed},
			{fenced.Key, "", "", steward.VerifyIPNotAllowed},
			{expiring.Key, "", "", steward.VerifyValid},
		}
		for _, c := range cases {
			if r := verify(t, a, c.key, c.ip, c.scope); r.Code != c.want || r.Valid != (c.want == steward.VerifyValid) {
				t.Errorf("verify(%.12s…, %q, %q) = %s, want %s", c.key, c.ip, c.scope, r.Code, c.want)
			}
		}
		a.Clock.Advance(time.Hour)
		if r := verify(t, a, expiring.Key, "", ""); r.Code != steward.VerifyExpired {
			t.Fatalf("expired key: %s", r.Code)
		}
		if _, err := a.Svc.Keys.RevokeKey(apptest.System(), plain.ID, ""); err != nil {
			t.Fatal(err)
		}
		if r := verify(t, a, plain.Key, "", ""); r.Code != steward.VerifyRevoked {
			t.Fatalf("revoked key: %s", r.Code)
		}
	})
}

func TestRotationGracePeriod(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		u := a.User(steward.RoleUser)
		old, err := a.Svc.Keys.CreateKey(apptest.System(), &steward.KeyCreate{Name: "k", Type: steward.KeyUser, UserID: u.ID,
			RateLimitRPM: 60, AllowedIPs: []string{"192.0.2.0/24"}})
		if err != nil {
			t.Fatal(err)
		}
		nk, err := a.Svc.Keys.RotateKey(apptest.System(), old.ID, &steward.KeyRotate{GracePeriodSeconds: 3600})
		if err != nil {
			t.Fatal(err)
		}
		if nk.Key == old.Key || nk.RotatedFrom != old.ID || nk.RateLimitRPM != 60 || len(nk.AllowedIPs) != 1 || nk.Name != "k" {
			t.Fatalf("rotated key: %+v", nk.APIKey)
		}
		for _, k := range []string{old.Key, nk.Key} {
			if r := verify(t, a, k, "192.0.2.7", ""); !r.Valid {
				t.Fatalf("during the grace period: %+v", r)
			}
		}
		a.Clock.Advance(time.Hour)
		if r := verify(t, a, old.Key, "192.0.2.7", ""); r.Code != steward.VerifyRevoked {
			t.Fatalf("old key after the grace period: %s", r.Code)
		}
		if r := verify(t, a, nk.Key, "192.0.2.7", ""); !r.Valid {
			t.Fatalf("new key: %+v", r)
		}
		if _, err := a.Svc.Keys.RotateKey(apptest.System(), old.ID, &steward.KeyRotate{}); code(err) != steward.CodeInvalidState {
			t.Fatalf("rotating a revoked key: %v", err)
		}
	})
}

func TestLastUsedIsBatched(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		u := a.User(steward.RoleUser)
		k, err := a.Svc.Keys.CreateKey(apptest.System(), &steward.KeyCreate{Name: "k", Type: steward.KeyUser, UserID: u.ID})
		if err != nil {
			t.Fatal(err)
		}
		verify(t, a, k.Key, "198.51.100.4", "")
		got, _ := a.Svc.Keys.GetKey(apptest.System(), k.ID)
		if got.LastUsedAt != nil {
			t.Fatal("verification wrote to the database")
		}
		if err := a.Svc.Keys.FlushKeyUses(context.Background()); err != nil {
			t.Fatal(err)
		}
		got, _ = a.Svc.Keys.GetKey(apptest.System(), k.ID)
		if got.LastUsedAt == nil || !got.LastUsedAt.Equal(a.Clock.Now()) || got.LastUsedIP != "198.51.100.4" {
			t.Fatalf("last use after flush: %v %q", got.LastUsedAt, got.LastUsedIP)
		}
	})
}

func TestConcurrentIdempotentCreatesMakeOneKey(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		admin, _ := a.Operator(steward.RoleAdmin)
		ctx := apptest.As(admin)
		body := []byte(`{"name":"once"}`)
		var mu sync.Mutex
		runs := 0
		answers := make([]steward.Answer, 50)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range answers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				ans, _, err := a.Svc.Idempotency.Idempotent(ctx, "scope", "key-1", body, func() steward.Answer {
					mu.Lock()
					runs++
					mu.Unlock()
					k, err := a.Svc.Keys.CreateKey(ctx, &steward.KeyCreate{Name: "once", Type: steward.KeyAdmin})
					if err != nil {
						return steward.Answer{Status: 422}
					}
					b, _ := json.Marshal(k)
					return steward.Answer{Status: 201, Body: b}
				})
				if err != nil {
					t.Error(err)
				}
				answers[i] = ans
			}()
		}
		close(start)
		wg.Wait()
		if runs != 1 {
			t.Fatalf("the action ran %d times", runs)
		}
		for i, ans := range answers {
			if ans.Status != 201 || !bytes.Equal(ans.Body, answers[0].Body) {
				t.Fatalf("answer %d differs: %d %s", i, ans.Status, ans.Body)
			}
		}
		pg, _ := a.Svc.Keys.ListKeys(ctx, steward.KeyFilter{UserID: admin.ID}, steward.ListParams{})
		if len(pg.Data) != 1 {
			t.Fatalf("%d keys made", len(pg.Data))
		}
		// The same key with another body is refused.
		_, _, err := a.Svc.Idempotency.Idempotent(ctx, "scope", "key-1", []byte(`{"name":"other"}`), func() steward.Answer {
			t.Fatal("ran again")
			return steward.Answer{}
		})
		if code(err) != steward.CodeIdempotencyKeyReused {
			t.Fatalf("reuse with another body: %v", err)
		}
		// After 24 h the key is free again.
		a.Clock.Advance(24*time.Hour + time.Second)
		ran := false
		if _, replayed, err := a.Svc.Idempotency.Idempotent(ctx, "scope", "key-1", body, func() steward.Answer {
			ran = true
			return steward.Answer{Status: 200, Body: []byte(`{}`)}
		}); err != nil || replayed || !ran {
			t.Fatalf("after expiry: replayed=%v ran=%v err=%v", replayed, ran, err)
		}
	})
}

// The secret is shown once and stored nowhere: not in the database file
// (including its WAL), not in the logs — idempotent replays included.
func TestKeySecretIsStoredNowhere(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.db")
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	var mu sync.Mutex
	clk := clock.NewFake(apptest.Start)
	svc := service.New(service.Config{Store: st, Now: clk.Now, Password: password.Cheap,
		Logger: slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.Bootstrap(context.Background(), "root@example.com", apptest.Password); err != nil {
		t.Fatal(err)
	}
	root, _ := st.GetUserByEmail(context.Background(), "root@example.com")
	ctx := apptest.As(root)
	var secrets []string
	for i := 0; i < 3; i++ {
		ans, _, err := svc.Idempotency.Idempotent(ctx, "s", fmt.Sprint("idem-", i), []byte("{}"), func() steward.Answer {
			k, err := svc.Keys.CreateKey(ctx, &steward.KeyCreate{Name: "k", Type: steward.KeyPlatform, Scopes: []steward.Permission{steward.PermKeysVerify}})
			if err != nil {
				t.Fatal(err)
			}
			secrets = append(secrets, k.Key, k.Key[len(k.Key)-43:])
			b, _ := json.Marshal(k)
			return steward.Answer{Status: 201, Body: b}
		})
		if err != nil || !strings.Contains(string(ans.Body), secrets[len(secrets)-2]) {
			t.Fatalf("answer: %v %s", err, ans.Body)
		}
		if _, err := svc.Auth.Authenticate(context.Background(), secrets[len(secrets)-2]); err != nil {
			t.Fatal(err)
		}
	}
	if err := svc.Keys.FlushKeyUses(context.Background()); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, sec := range secrets {
			if bytes.Contains(b, []byte(sec)) {
				t.Fatalf("%s holds a key secret", filepath.Base(f))
			}
		}
	}
	st.Close()
	mu.Lock()
	defer mu.Unlock()
	for _, sec := range secrets {
		if strings.Contains(logs.String(), sec) {
			t.Fatal("the logs hold a key secret")
		}
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
