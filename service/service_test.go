package service_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
	"github.com/stewardhq/steward/internal/testdb"
	"github.com/stewardhq/steward/service"
	"github.com/stewardhq/steward/store"
)

func code(err error) string { return steward.ErrorCode(err) }

func auditCount(t *testing.T, a *apptest.App) int64 {
	t.Helper()
	v, err := a.Svc.Audit.VerifyChain(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return v.Entries
}

// failingStore breaks a transaction at a chosen point, to show that a change
// and its audit entry commit together or not at all.
type failingStore struct {
	store.Store
	failAudit  bool // InsertAudit fails
	failCommit bool // everything is written, then the transaction fails
}

var errInjected = errors.New("injected failure")

func (f *failingStore) Update(ctx context.Context, fn func(store.Tx) error) error {
	return f.Store.Update(ctx, func(tx store.Tx) error {
		if err := fn(&failingTx{Tx: tx, f: f}); err != nil {
			return err
		}
		if f.failCommit {
			return errInjected
		}
		return nil
	})
}

type failingTx struct {
	store.Tx
	f *failingStore
}

func (t *failingTx) InsertAudit(ctx context.Context, e *steward.AuditEntry) error {
	if t.f.failAudit {
		return errInjected
	}
	return t.Tx.InsertAudit(ctx, e)
}

func TestFailureLeavesNeitherChangeNorEntry(t *testing.T) {
	for _, b := range testdb.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			a := apptest.New(t, b)
			victim := a.User(steward.RoleUser)
			for _, mode := range []string{"audit insert fails", "commit fails"} {
				fs := &failingStore{Store: a.Store, failAudit: mode == "audit insert fails", failCommit: mode == "commit fails"}
				svc := service.New(service.Config{Store: fs, Now: a.Clock.Now})
				before := auditCount(t, a)

				_, err := svc.Users.CreateUser(apptest.System(), &steward.UserCreate{Email: "ghost@example.com"})
				if !errors.Is(err, errInjected) {
					t.Fatalf("%s: create err = %v", mode, err)
				}
				if _, err := a.Store.GetUserByEmail(context.Background(), "ghost@example.com"); !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("%s: user was written: %v", mode, err)
				}
				_, err = svc.Users.SuspendUser(apptest.System(), victim.ID, "x")
				if !errors.Is(err, errInjected) {
					t.Fatalf("%s: suspend err = %v", mode, err)
				}
				if u, _ := a.Store.GetUser(context.Background(), victim.ID); u.Status != steward.StatusActive {
					t.Fatalf("%s: suspension was written without its entry", mode)
				}
				if got := auditCount(t, a); got != before {
					t.Fatalf("%s: audit entries %d, want %d", mode, got, before)
				}
			}
		})
	}
}

func TestVerifyReportsTamperedRow(t *testing.T) {
	for _, b := range testdb.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			a := apptest.New(t, b)
			for i := 0; i < 5; i++ {
				a.User(steward.RoleUser)
			}
			ok, err := a.Svc.Audit.VerifyAudit(apptest.System())
			if err != nil || !ok.OK || ok.Entries < 6 {
				t.Fatalf("clean chain: %+v %v", ok, err)
			}
			page, err := a.Svc.Audit.ListAudit(apptest.System(), steward.AuditFilter{Action: "user.create"}, steward.ListParams{Limit: 2})
			if err != nil {
				t.Fatal(err)
			}
			target := page.Data[1] // not the newest, so later links exist
			q := "UPDATE audit_log SET reason = 'nothing to see' WHERE seq = ?"
			if b.Name == "postgres" {
				q = strings.Replace(q, "?", "$1", 1)
			}
			b.Exec(t, a.Store, q, target.Seq)
			res, err := a.Svc.Audit.VerifyAudit(apptest.System())
			if err != nil {
				t.Fatal(err)
			}
			if res.OK || res.FirstBreak == nil || res.FirstBreak.Seq != target.Seq || res.FirstBreak.ID != target.ID {
				t.Fatalf("verify = %+v, want a break at seq %d", res, target.Seq)
			}
		})
	}
}

func TestAuditEntryRecordsWhoWhatAndRedactsSecrets(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		op, _ := a.Operator(steward.RoleAdmin)
		u := a.User(steward.RoleUser)
		ctx := steward.WithRequestInfo(apptest.As(op), steward.RequestInfo{RequestID: "req_test", IP: "203.0.113.9", UserAgent: "ua/1"})
		if _, err := a.Svc.Users.ChangePassword(ctx, u.ID, "a-new-password"); err != nil {
			t.Fatal(err)
		}
		pg, err := a.Svc.Audit.ListAudit(apptest.System(), steward.AuditFilter{TargetID: u.ID, Action: "user.password_change"}, steward.ListParams{})
		if err != nil || len(pg.Data) != 1 {
			t.Fatalf("entries: %v %v", pg, err)
		}
		e := pg.Data[0]
		if e.ActorID != op.ID || e.ActorRole != "admin" || e.IP != "203.0.113.9" || e.UserAgent != "ua/1" || e.RequestID != "req_test" {
			t.Fatalf("entry context wrong: %+v", e)
		}
		var changes map[string]map[string]any
		if err := json.Unmarshal(e.Changes, &changes); err != nil {
			t.Fatal(err)
		}
		if changes["password"]["after"] != "[redacted]" || changes["token_version"] == nil {
			t.Fatalf("changes = %s", e.Changes)
		}
		if strings.Contains(string(e.Changes), "argon2") || strings.Contains(string(e.Changes), "a-new-password") {
			t.Fatalf("secret leaked into the audit log: %s", e.Changes)
		}
	})
}

func TestSessionAndAccessTokenExpiry(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		u := a.User(steward.RoleUser)
		res, err := a.Svc.Auth.Login(context.Background(), steward.LoginInput{Email: u.Email, Password: apptest.Password})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if _, err := a.Svc.Auth.Authenticate(ctx, res.AccessToken); err != nil {
			t.Fatalf("fresh JWT refused: %v", err)
		}
		a.Clock.Advance(15*time.Minute + time.Second)
		if _, err := a.Svc.Auth.Authenticate(ctx, res.AccessToken); code(err) != steward.CodeUnauthenticated {
			t.Fatalf("expired JWT: %v", err)
		}
		if _, err := a.Svc.Auth.Authenticate(ctx, res.SessionToken); err != nil {
			t.Fatalf("session token refused before its expiry: %v", err)
		}
		ref, err := a.Svc.Auth.Refresh(ctx, res.SessionToken)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Svc.Auth.Authenticate(ctx, ref.AccessToken); err != nil {
			t.Fatalf("refreshed JWT refused: %v", err)
		}
		a.Clock.Advance(30 * 24 * time.Hour)
		if _, err := a.Svc.Auth.Authenticate(ctx, res.SessionToken); code(err) != steward.CodeUnauthenticated {
			t.Fatalf("expired session: %v", err)
		}
		if _, err := a.Svc.Auth.Refresh(ctx, res.SessionToken); code(err) != steward.CodeUnauthenticated {
			t.Fatalf("refresh of an expired session: %v", err)
		}
		pg, err := a.Svc.Sessions.ListSessions(apptest.System(), steward.SessionFilter{UserID: u.ID, Status: steward.SessionExpired}, steward.ListParams{})
		if err != nil || len(pg.Data) != 1 {
			t.Fatalf("expired sessions listed: %v %v", pg, err)
		}
	})
}

func TestTokenVersionEndsOutstandingJWTs(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		u := a.User(steward.RoleUser)
		ctx := context.Background()
		res, err := a.Svc.Auth.Login(ctx, steward.LoginInput{Email: u.Email, Password: apptest.Password})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Svc.Users.ForceLogout(apptest.System(), u.ID); err != nil {
			t.Fatal(err)
		}
		for _, tok := range []string{res.AccessToken, res.SessionToken} {
			if _, err := a.Svc.Auth.Authenticate(ctx, tok); code(err) != steward.CodeUnauthenticated {
				t.Fatalf("token still works after force logout: %v", err)
			}
		}
	})
}

// TestLockoutExpiresWithTheClock: ten failures for an account from one
// address make that address wait 15 minutes; another address is not held.
func TestLockoutExpiresWithTheClock(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		u := a.User(steward.RoleUser)
		ctx := context.Background()
		for i := 0; i < 10; i++ {
			_, err := a.Svc.Auth.Login(ctx, steward.LoginInput{Email: u.Email, Password: "wrong-password", IP: "198.51.100.7"})
			if code(err) != steward.CodeInvalidCredentials {
				t.Fatalf("failure %d: %v", i+1, err)
			}
		}
		_, err := a.Svc.Auth.Login(ctx, steward.LoginInput{Email: u.Email, Password: apptest.Password, IP: "198.51.100.7"})
		var e *steward.Error
		if !errors.As(err, &e) || e.Code != steward.CodeRateLimited || e.Details["retry_after"].(int) != 900 {
			t.Fatalf("locked address login: %v", err)
		}
		if _, err := a.Svc.Auth.Login(ctx, steward.LoginInput{Email: u.Email, Password: apptest.Password, IP: "198.51.100.8"}); err != nil {
			t.Fatalf("another address must not be locked out: %v", err)
		}
		a.Clock.Advance(14 * time.Minute)
		if _, err := a.Svc.Auth.Login(ctx, steward.LoginInput{Email: u.Email, Password: apptest.Password, IP: "198.51.100.7"}); code(err) != steward.CodeRateLimited {
			t.Fatalf("still locked at 14 min: %v", err)
		}
		a.Clock.Advance(time.Minute)
		if _, err := a.Svc.Auth.Login(ctx, steward.LoginInput{Email: u.Email, Password: apptest.Password, IP: "198.51.100.7"}); err != nil {
			t.Fatalf("lock should have expired: %v", err)
		}
		pg, _ := a.Svc.Audit.ListAudit(apptest.System(), steward.AuditFilter{Action: "auth.lockout", TargetID: u.ID}, steward.ListParams{})
		if len(pg.Data) != 1 {
			t.Fatalf("lockout entries = %d", len(pg.Data))
		}
	})
}

func TestFailedLoginsPerIPAreThrottled(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		ctx := context.Background()
		for i := 0; i < 3; i++ {
			_, err := a.Svc.Auth.Login(ctx, steward.LoginInput{Email: "nobody@example.com", Password: "whatever-it-is", IP: "203.0.113.5"})
			if code(err) != steward.CodeInvalidCredentials {
				t.Fatalf("attempt %d: %v", i+1, err)
			}
		}
		_, err := a.Svc.Auth.Login(ctx, steward.LoginInput{Email: "root@example.com", Password: apptest.Password, IP: "203.0.113.5"})
		if code(err) != steward.CodeRateLimited {
			t.Fatalf("fourth attempt from the address: %v", err)
		}
		if _, err := a.Svc.Auth.Login(ctx, steward.LoginInput{Email: "root@example.com", Password: apptest.Password, IP: "203.0.113.6"}); err != nil {
			t.Fatalf("another address is not throttled: %v", err)
		}
		a.Clock.Advance(time.Minute)
		if _, err := a.Svc.Auth.Login(ctx, steward.LoginInput{Email: "root@example.com", Password: apptest.Password, IP: "203.0.113.5"}); err != nil {
			t.Fatalf("throttle should have refilled: %v", err)
		}
	}, apptest.Options{Service: func(c *service.Config) { c.LoginFailuresPerIP = 3 }})
}

func TestBcryptHashIsUpgradedAtLogin(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		u := a.User(steward.RoleUser)
		h, _ := bcrypt.GenerateFromPassword([]byte("imported-secret"), bcrypt.MinCost)
		err := a.Store.Update(context.Background(), func(tx store.Tx) error {
			cur, err := tx.GetUser(context.Background(), u.ID)
			if err != nil {
				return err
			}
			cur.PasswordHash = string(h)
			return tx.UpdateUser(context.Background(), cur)
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Svc.Auth.Login(context.Background(), steward.LoginInput{Email: u.Email, Password: "imported-secret"}); err != nil {
			t.Fatal(err)
		}
		got, _ := a.Store.GetUser(context.Background(), u.ID)
		if !strings.HasPrefix(got.PasswordHash, "$argon2id$") {
			t.Fatalf("hash not upgraded: %q", got.PasswordHash[:10])
		}
		if _, err := a.Svc.Auth.Login(context.Background(), steward.LoginInput{Email: u.Email, Password: "imported-secret"}); err != nil {
			t.Fatalf("login after upgrade: %v", err)
		}
	})
}

func TestBanExpiryAndSweeper(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		u := a.User(steward.RoleUser)
		exp := a.Clock.Now().Add(time.Hour)
		if _, err := a.Svc.Users.BanUser(apptest.System(), u.ID, steward.BanInput{Reason: "spam", ExpiresAt: &exp}); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Svc.Auth.Login(context.Background(), steward.LoginInput{Email: u.Email, Password: apptest.Password}); code(err) != steward.CodeInvalidCredentials {
			t.Fatalf("banned login: %v", err)
		}
		a.Clock.Advance(time.Hour)
		got, _ := a.Svc.Users.GetUser(apptest.System(), u.ID)
		if got.Status != steward.StatusActive || got.Ban != nil {
			t.Fatalf("expired ban still counts: %+v", got)
		}
		if _, err := a.Svc.Auth.Login(context.Background(), steward.LoginInput{Email: u.Email, Password: apptest.Password}); err != nil {
			t.Fatalf("login after expiry: %v", err)
		}
		n, err := a.Svc.Users.SweepExpiredBans(context.Background())
		if err != nil || n != 1 {
			t.Fatalf("sweep = %d, %v", n, err)
		}
		if n, _ := a.Svc.Users.SweepExpiredBans(context.Background()); n != 0 {
			t.Fatalf("second sweep lifted %d", n)
		}
		pg, _ := a.Svc.Audit.ListAudit(apptest.System(), steward.AuditFilter{Action: "user.ban_expired"}, steward.ListParams{})
		if len(pg.Data) != 1 || pg.Data[0].TargetID != u.ID || pg.Data[0].ActorType != steward.ActorSystem {
			t.Fatalf("ban_expired entries: %+v", pg.Data)
		}
		stored, _ := a.Store.GetUser(context.Background(), u.ID)
		if stored.Status != steward.StatusActive {
			t.Fatalf("stored status %s", stored.Status)
		}
	})
}

func TestSigningKeyRotationKeepsOldKeyPublished(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		ctx := context.Background()
		u := a.User(steward.RoleUser)
		jwks := func() []string {
			b, err := a.Svc.Auth.JWKS(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var set struct{ Keys []struct{ Kid string } }
			_ = json.Unmarshal(b, &set)
			var ids []string
			for _, k := range set.Keys {
				ids = append(ids, k.Kid)
			}
			return ids
		}
		kidOf := func(tok string) string {
			var h struct{ Kid string }
			b, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
			_ = json.Unmarshal(b, &h)
			return h.Kid
		}
		login := func() *steward.LoginResult {
			res, err := a.Svc.Auth.Login(ctx, steward.LoginInput{Email: u.Email, Password: apptest.Password})
			if err != nil {
				t.Fatal(err)
			}
			return res
		}
		first := jwks()
		if len(first) != 1 {
			t.Fatalf("a new install publishes one key: %v", first)
		}
		a.Clock.Advance(30*24*time.Hour - 5*time.Minute)
		before := login()
		a.Clock.Advance(6 * time.Minute)
		if err := a.Svc.Maintain(ctx); err != nil { // creates the successor
			t.Fatal(err)
		}
		a.Clock.Advance(time.Minute + time.Second) // past the JWKS cache
		published := jwks()
		if len(published) != 2 {
			t.Fatalf("the successor is published before it signs: %v", published)
		}
		if kid := kidOf(login().AccessToken); kid != first[0] {
			t.Fatalf("a key signed before it was published for 2 minutes: %s", kid)
		}
		a.Clock.Advance(time.Minute)
		if err := a.Svc.Maintain(ctx); err != nil { // retires the old key
			t.Fatal(err)
		}
		after := login()
		if kid := kidOf(after.AccessToken); kid == first[0] {
			t.Fatal("the successor does not sign after its publish delay")
		}
		for _, tok := range []string{before.AccessToken, after.AccessToken} {
			if _, err := a.Svc.Auth.Authenticate(ctx, tok); err != nil {
				t.Fatalf("a live token: %v", err)
			}
		}
		if ids := jwks(); len(ids) != 2 {
			t.Fatalf("the retired key stays published while its tokens live: %v", ids)
		}
		a.Clock.Advance(16 * time.Minute)
		if ids := jwks(); len(ids) != 1 || ids[0] == first[0] {
			t.Fatalf("the retired key should leave the JWKS once its tokens expired: %v", ids)
		}
	})
}

func TestForgedAccessTokensAreRefused(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		ctx := context.Background()
		u := a.User(steward.RoleUser)
		res, err := a.Svc.Auth.Login(ctx, steward.LoginInput{Email: u.Email, Password: apptest.Password})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Svc.Auth.Authenticate(ctx, res.AccessToken); err != nil { // now cached as verified
			t.Fatal(err)
		}
		parts := strings.Split(res.AccessToken, ".")
		flip := func(s string) string {
			b := []byte(s)
			if b[len(b)/2] == 'A' {
				b[len(b)/2] = 'B'
			} else {
				b[len(b)/2] = 'A'
			}
			return string(b)
		}
		forged := []string{
			parts[0] + "." + parts[1] + "." + flip(parts[2]), // bad signature
			parts[0] + "." + flip(parts[1]) + "." + parts[2], // changed claims
			"eyJhbGciOiJub25lIn0." + parts[1] + ".",          // alg none
			res.AccessToken + "x",
		}
		for i, tok := range forged {
			if _, err := a.Svc.Auth.Authenticate(ctx, tok); code(err) != steward.CodeUnauthenticated {
				t.Errorf("forged token %d accepted: %v", i, err)
			}
		}
		// A verified token still expires on time.
		a.Clock.Advance(15*time.Minute + time.Second)
		if _, err := a.Svc.Auth.Authenticate(ctx, res.AccessToken); code(err) != steward.CodeUnauthenticated {
			t.Fatalf("cached token outlived its expiry: %v", err)
		}
	})
}

// Every way of ending access is seen by the very next request, even when the
// credential was just checked (and so its reads are remembered on SQLite).
func TestEndingAccessIsSeenByTheNextRequest(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		ctx := context.Background()
		sys := apptest.System()
		for _, end := range []struct {
			name string
			do   func(u *steward.User, sess *steward.LoginResult) error
		}{
			{"suspend", func(u *steward.User, _ *steward.LoginResult) error {
				_, err := a.Svc.Users.SuspendUser(sys, u.ID, "")
				return err
			}},
			{"ban", func(u *steward.User, _ *steward.LoginResult) error {
				_, err := a.Svc.Users.BanUser(sys, u.ID, steward.BanInput{Reason: "x"})
				return err
			}},
			{"delete", func(u *steward.User, _ *steward.LoginResult) error {
				_, err := a.Svc.Users.DeleteUser(sys, u.ID, "")
				return err
			}},
			{"force logout", func(u *steward.User, _ *steward.LoginResult) error {
				_, err := a.Svc.Users.ForceLogout(sys, u.ID)
				return err
			}},
			{"password change", func(u *steward.User, _ *steward.LoginResult) error {
				_, err := a.Svc.Users.ChangePassword(sys, u.ID, "another-password")
				return err
			}},
			{"session revoke", func(_ *steward.User, r *steward.LoginResult) error {
				p, err := a.Svc.Auth.Authenticate(ctx, r.SessionToken)
				if err != nil {
					return err
				}
				_, err = a.Svc.Sessions.RevokeSession(sys, p.Session.ID)
				return err
			}},
			{"logout", func(_ *steward.User, r *steward.LoginResult) error { return a.Svc.Auth.Logout(ctx, r.AccessToken) }},
		} {
			u := a.User(steward.RoleUser)
			res, err := a.Svc.Auth.Login(ctx, steward.LoginInput{Email: u.Email, Password: apptest.Password})
			if err != nil {
				t.Fatal(err)
			}
			for _, tok := range []string{res.SessionToken, res.AccessToken} {
				if _, err := a.Svc.Auth.Authenticate(ctx, tok); err != nil {
					t.Fatalf("%s: warm-up: %v", end.name, err)
				}
			}
			if err := end.do(u, res); err != nil {
				t.Fatalf("%s: %v", end.name, err)
			}
			for i, tok := range []string{res.SessionToken, res.AccessToken} {
				if _, err := a.Svc.Auth.Authenticate(ctx, tok); code(err) != steward.CodeUnauthenticated {
					t.Errorf("%s: credential %d still works: %v", end.name, i, err)
				}
			}
		}
	})
}
