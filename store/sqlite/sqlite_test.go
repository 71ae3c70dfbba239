package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
	"github.com/stewardhq/steward/store/sqlite"
	"github.com/stewardhq/steward/store/storetest"
)

func openStore(t testing.TB) *sqlite.Store {
	t.Helper()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "steward.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openStore(t) })
}

func createUsers(t *testing.T, s store.Store, users ...*steward.User) {
	t.Helper()
	err := s.Update(t.Context(), func(tx store.Tx) error {
		for _, u := range users {
			if err := tx.CreateUser(t.Context(), u); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func user(n int, name string) *steward.User {
	return &steward.User{ID: fmt.Sprintf("usr_%04d", n), Email: fmt.Sprintf("u%d@example.com", n), Name: name,
		Role: steward.RoleUser, Status: steward.StatusActive, Tags: []string{"t"}}
}

func search(t *testing.T, s store.Store, q string) []string {
	t.Helper()
	users, err := s.ListUsers(t.Context(), steward.UserFilter{Q: q})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, u := range users {
		ids = append(ids, u.ID)
	}
	return ids
}

// The trigram index refers to users by rowid, so rowids must survive VACUUM
// and raw writes must reach the index through the triggers.
func TestSearchIndexFollowsRows(t *testing.T) {
	s := openStore(t)
	ctx := t.Context()
	for i := 1; i <= 20; i++ {
		createUsers(t, s, user(i, fmt.Sprintf("Person Number%02d", i)))
	}
	err := s.Update(ctx, func(tx store.Tx) error {
		for i := 1; i <= 20; i += 3 { // leave gaps VACUUM could close
			if err := tx.PurgeUser(ctx, fmt.Sprintf("usr_%04d", i)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	db := s.WriterDB()
	if _, err := db.ExecContext(ctx, "VACUUM"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "UPDATE users SET name = 'Renamed Rawly' WHERE id = 'usr_0005'"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "UPDATE users SET tags = '[\"raw\"]' WHERE id = 'usr_0006'"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO users_fts (users_fts, rank) VALUES ('integrity-check', 1)"); err != nil {
		t.Errorf("search index out of step with users: %v", err)
	}

	if got := search(t, s, "number20"); !slices.Equal(got, []string{"usr_0020"}) {
		t.Errorf("search after VACUUM = %v, want [usr_0020]", got)
	}
	if got := search(t, s, "number04"); got != nil {
		t.Errorf("search for a purged user = %v, want none", got)
	}
	if got := search(t, s, "rawly"); !slices.Equal(got, []string{"usr_0005"}) {
		t.Errorf("search after a raw update = %v, want [usr_0005]", got)
	}
	if got := search(t, s, "number05"); got != nil {
		t.Errorf("search for the old name = %v, want none", got)
	}
	users, err := s.ListUsers(ctx, steward.UserFilter{Tag: "raw"})
	if err != nil || len(users) != 1 || users[0].ID != "usr_0006" {
		t.Errorf("tag filter after a raw update = %v, %v", users, err)
	}
}

// Reads outside a transaction go to the reader pool: they neither wait for
// an open write transaction nor see its rows.
func TestReadsDoNotWaitForWriter(t *testing.T) {
	s := openStore(t)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateUser(ctx, user(1, "Pending")); err != nil {
			return err
		}
		if _, err := s.GetUser(ctx, "usr_0001"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetUser outside the open transaction: err = %v, want ErrNotFound", err)
		}
		if got := search(t, s, "pending"); got != nil {
			t.Errorf("search outside the open transaction = %v, want none", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetUser(ctx, "usr_0001"); err != nil {
		t.Errorf("GetUser after commit: %v", err)
	}
}

func TestMigrationVersionBeforeMigrate(t *testing.T) {
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "new.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, err := s.MigrationVersion(t.Context()); v != 0 || err != nil {
		t.Errorf("MigrationVersion of a new file = %d, %v; want 0, nil", v, err)
	}
}

func TestOpenFails(t *testing.T) {
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "missing", "dir", "x.db"))
	if err == nil {
		s.Close()
		t.Fatal("Open in a missing directory succeeded")
	}
}
