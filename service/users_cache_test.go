package service

import (
	"context"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/password"
	"github.com/stewardhq/steward/internal/testdb"
)

// TestGetUserFromMemory: GetUser answers from the replica's cache, yet a
// change made through the replica shows at once, and what a caller gets is
// its own copy: changing it changes nothing the next reader sees.
func TestGetUserFromMemory(t *testing.T) {
	for _, be := range testdb.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			s := New(Config{Store: be.Open(t), Password: password.Cheap})
			if err := s.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			waitAuthLive(t, s)
			ctx := sysCtx()
			u, err := s.Users.CreateUser(ctx, &steward.UserCreate{Email: "mem@example.com", Name: "Before",
				Tags: []string{"a"}, Metadata: map[string]any{"k": "v"}})
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.Users.GetUser(ctx, u.ID)
			if err != nil || got.Name != "Before" {
				t.Fatalf("GetUser = %+v, %v", got, err)
			}
			got.Name, got.Tags[0], got.Metadata["k"] = "scribbled", "scribbled", "scribbled"
			again, err := s.Users.GetUser(ctx, u.ID)
			if err != nil || again.Name != "Before" || again.Tags[0] != "a" || again.Metadata["k"] != "v" {
				t.Fatalf("after a caller changed its copy, GetUser = %+v, %v; want the row as stored", again, err)
			}
			if _, err := s.Users.UpdateUser(ctx, u.ID, &steward.UserPatch{Name: steward.Optional[string]{Set: true, Value: "After"}}); err != nil {
				t.Fatal(err)
			}
			if got, err := s.Users.GetUser(ctx, u.ID); err != nil || got.Name != "After" {
				t.Fatalf("right after an update on the same replica GetUser = %+v, %v; want the new name", got, err)
			}
			if _, err := s.Users.SuspendUser(ctx, u.ID, "test"); err != nil {
				t.Fatal(err)
			}
			if got, err := s.Users.GetUser(ctx, u.ID); err != nil || got.Status != steward.StatusSuspended {
				t.Fatalf("right after a suspension on the same replica GetUser = %+v, %v; want suspended", got, err)
			}
		})
	}
}

// TestGetUserAcrossReplicas: on PostgreSQL, a change made through replica A
// reaches replica B's cached copy when B hears A's notification (the bound
// TestAuthRevocationBoundAcrossReplicas measures).
func TestGetUserAcrossReplicas(t *testing.T) {
	be := postgresBackend(t)
	stA := be.Open(t)
	a := New(Config{Store: stA, Password: password.Cheap})
	b := New(Config{Store: be.Share(t, stA), Password: password.Cheap})
	for _, s := range []*Service{a, b} {
		if err := s.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		waitAuthLive(t, s)
	}
	ctx := sysCtx()
	u, err := a.Users.CreateUser(ctx, &steward.UserCreate{Email: "two@example.com", Name: "Before"})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := b.Users.GetUser(ctx, u.ID); err != nil || got.Name != "Before" {
		t.Fatalf("B: GetUser = %+v, %v", got, err)
	}
	if _, err := a.Users.UpdateUser(ctx, u.ID, &steward.UserPatch{Name: steward.Optional[string]{Set: true, Value: "After"}}); err != nil {
		t.Fatal(err)
	}
	for {
		changed := b.authCache.nextChange()
		got, err := b.Users.GetUser(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name == "After" {
			return
		}
		select {
		case <-changed:
		case <-time.After(10 * time.Second):
			t.Fatal("replica B still answers the old row 10s after A's change")
		}
	}
}
