package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

func openTest(t *testing.T) *Store {
	t.Helper()
	dsn := os.Getenv("STEWARD_TEST_POSTGRES")
	if dsn == "" {
		if os.Getenv("STEWARD_REQUIRE_POSTGRES") == "1" {
			t.Fatal("STEWARD_TEST_POSTGRES is not set")
		}
		t.Skip("STEWARD_TEST_POSTGRES is not set")
	}
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		admin.Close(context.Background())
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	qv := u.Query()
	qv.Set("search_path", schema+",public")
	u.RawQuery = qv.Encode()
	s, err := Open(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

func newUser(id, email string) *steward.User {
	now := time.Now().UTC().Truncate(time.Microsecond)
	return &steward.User{ID: id, Email: email, Role: steward.RoleUser, Status: steward.StatusActive,
		CreatedAt: now, UpdatedAt: now}
}

func TestOwn(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx := context.Background()
	v, err := s.MigrationVersion(ctx)
	if err != nil || v != 1 {
		t.Fatalf("version %d %v", v, err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour).UTC().Truncate(time.Microsecond)
	err = s.Update(ctx, func(tx store.Tx) error {
		u := newUser("u1", "a@x.io")
		u.Username = "alice"
		u.Name = "Alice 100% _real_"
		u.Tags = []string{"vip", "beta"}
		u.Metadata = map[string]any{"k": "v"}
		u.Ban = &steward.Ban{Reason: "r", ExpiresAt: &exp, By: "op", At: u.CreatedAt}
		u.Status = steward.StatusBanned
		if err := tx.CreateUser(ctx, u); err != nil {
			return err
		}
		if err := tx.CreateUser(ctx, newUser("u2", "b@x.io")); err != nil {
			return err
		}
		u3 := newUser("u3", "c@x.io")
		u3.Role = steward.RoleOwner
		return tx.CreateUser(ctx, u3)
	})
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.GetUserByUsername(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if u.Ban == nil || !u.Ban.ExpiresAt.Equal(exp) || u.Ban.ExpiresAt.Location() != time.UTC || len(u.Tags) != 2 || u.Metadata["k"] != "v" {
		t.Fatalf("%+v %+v", u, u.Ban)
	}
	u2, _ := s.GetUser(ctx, "u2")
	if u2.Tags == nil || u2.Metadata == nil || u2.Ban != nil || u2.Username != "" {
		t.Fatalf("%+v", u2)
	}
	// Duplicates.
	for _, c := range []struct{ u *steward.User; field string }{
		{newUser("u9", "a@x.io"), "email"},
		{newUser("u1", "z@x.io"), "id"},
		{func() *steward.User { u := newUser("u8", "y@x.io"); u.Username = "alice"; return u }(), "username"},
	} {
		err := s.Update(ctx, func(tx store.Tx) error { return tx.CreateUser(ctx, c.u) })
		var de *store.DuplicateError
		if !errors.As(err, &de) || de.Field != c.field {
			t.Fatalf("want dup %s, got %v", c.field, err)
		}
	}
	if _, err := s.GetUser(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
	// Search.
	for q, want := range map[string]int{"ALICE": 1, "100%": 1, "%": 1, "0%_": 0, "_real_": 1, "x.io": 3, "u2": 1, "u": 0, "REAL": 1, "_": 1} {
		us, err := s.ListUsers(ctx, steward.UserFilter{Q: q})
		if err != nil || len(us) != want {
			t.Fatalf("q %q: %d %v", q, len(us), err)
		}
	}
	us, err := s.ListUsers(ctx, steward.UserFilter{Roles: []steward.Role{steward.RoleOwner, steward.RoleAdmin}})
	if err != nil || len(us) != 1 || us[0].ID != "u3" {
		t.Fatal(us, err)
	}
	us, _ = s.ListUsers(ctx, steward.UserFilter{Tag: "vip"})
	if len(us) != 1 {
		t.Fatal(us)
	}
	us, _ = s.ListUsers(ctx, steward.UserFilter{Before: "u3", Limit: 1})
	if len(us) != 1 || us[0].ID != "u2" {
		t.Fatal(us)
	}
	n, _ := s.CountUsers(ctx, steward.UserFilter{Before: "u3", Limit: 1})
	if n != 3 {
		t.Fatal(n)
	}
	bu, _ := s.ListUsersBanExpired(ctx, exp, 0)
	if len(bu) != 1 {
		t.Fatal(bu)
	}
	// Rollback on error and on panic.
	boom := errors.New("boom")
	if err := s.Update(ctx, func(tx store.Tx) error {
		tx.CreateUser(ctx, newUser("r1", "r1@x.io"))
		return boom
	}); err != boom {
		t.Fatal(err)
	}
	func() {
		defer func() { recover() }()
		s.Update(ctx, func(tx store.Tx) error {
			tx.CreateUser(ctx, newUser("r2", "r2@x.io"))
			panic("x")
		})
	}()
	if n, _ := s.CountUsers(ctx, steward.UserFilter{}); n != 3 {
		t.Fatal(n)
	}
	// Sessions.
	now := time.Now().UTC().Truncate(time.Microsecond)
	err = s.Update(ctx, func(tx store.Tx) error {
		for i := range 3 {
			if err := tx.CreateSession(ctx, &steward.Session{ID: fmt.Sprint("s", i), UserID: "u2", TokenHash: []byte{byte(i)},
				CreatedAt: now, ExpiresAt: now.Add(time.Duration(i-1) * time.Hour), LastSeenAt: now}); err != nil {
				return err
			}
		}
		n, err := tx.RevokeUserSessions(ctx, "u2", now, "bye")
		if n != 1 || err != nil {
			return fmt.Errorf("revoked %d %v", n, err)
		}
		return tx.CreateSession(ctx, &steward.Session{ID: "s9", UserID: "u2", TokenHash: []byte{9},
			CreatedAt: now, ExpiresAt: now.Add(2 * time.Hour), LastSeenAt: now})
	})
	if err != nil {
		t.Fatal(err)
	}
	for st, want := range map[string]int{"active": 1, "revoked": 1, "expired": 2, "": 4} {
		ss, err := s.ListSessions(ctx, steward.SessionFilter{UserID: "u2", Status: st, Now: now.Add(time.Hour)})
		if err != nil || len(ss) != want {
			t.Fatalf("%s: %d %v", st, len(ss), err)
		}
	}
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.PurgeUser(ctx, "u2") }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetSessionByTokenHash(ctx, []byte{1}); !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
}

func TestAuditChainConcurrent(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 10 {
				err := s.Update(ctx, func(tx store.Tx) error {
					seq, hash, err := tx.LockAuditHead(ctx)
					if err != nil {
						return err
					}
					e := &steward.AuditEntry{ID: fmt.Sprintf("a%d-%d", i, j), Seq: seq + 1, Time: time.Now(),
						Action: "x", PrevHash: hash, Metadata: json.RawMessage(`{"b": 1,  "a":2}`)}
					if j%2 == 0 {
						e.Metadata = nil
					}
					e.Hash = e.ComputeHash()
					return tx.InsertAudit(ctx, e)
				})
				if err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	var prev string
	var n int64
	for _, inTx := range []bool{false, true} {
		prev, n = "", 0
		check := func(q store.Queries) error {
			return q.ScanAudit(ctx, steward.AuditFilter{}, func(e *steward.AuditEntry) error {
				n++
				if e.Seq != n || e.PrevHash != prev || e.ComputeHash() != e.Hash {
					return fmt.Errorf("break at %d", e.Seq)
				}
				if e.Metadata != nil && string(e.Metadata) != `{"b": 1,  "a":2}` {
					return fmt.Errorf("metadata %s", e.Metadata)
				}
				prev = e.Hash
				return nil
			})
		}
		var err error
		if inTx {
			err = s.Update(ctx, func(tx store.Tx) error { return check(tx) })
		} else {
			err = check(s)
		}
		if err != nil || n != 80 {
			t.Fatal(n, err)
		}
	}
	es, err := s.ListAudit(ctx, steward.AuditFilter{BeforeSeq: 10, Limit: 3})
	if err != nil || len(es) != 3 || es[0].Seq != 9 {
		t.Fatal(es, err)
	}
}

func TestGetLocksInTx(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx := context.Background()
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.CreateUser(ctx, newUser("u1", "a@x.io")) }); err != nil {
		t.Fatal(err)
	}
	// Concurrent read-modify-write increments must not lose updates.
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.Update(ctx, func(tx store.Tx) error {
				u, err := tx.GetUser(ctx, "u1")
				if err != nil {
					return err
				}
				u.TokenVersion++
				return tx.UpdateUser(ctx, u)
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	u, _ := s.GetUser(ctx, "u1")
	if u.TokenVersion != 10 {
		t.Fatal(u.TokenVersion)
	}
	if !strings.Contains(fmt.Sprint(s.Dialect()), "postgres") {
		t.Fatal()
	}
}
