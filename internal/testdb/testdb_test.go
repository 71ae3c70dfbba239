package testdb

import (
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

func TestWithSearchPath(t *testing.T) {
	for dsn, want := range map[string]string{
		"postgres://u@h:5432/db?sslmode=disable": "postgres://u@h:5432/db?sslmode=disable&search_path=t_ab,public",
		"postgres://u@h:5432/db":                 "postgres://u@h:5432/db?search_path=t_ab,public",
		"host=h dbname=db":                       "host=h dbname=db search_path=t_ab,public",
	} {
		if got := withSearchPath(dsn, "t_ab"); got != want {
			t.Errorf("withSearchPath(%q) = %q, want %q", dsn, got, want)
		}
	}
}

func TestBackends(t *testing.T) {
	for _, b := range Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			s1, s2 := b.Open(t), b.Open(t)
			if s1.Dialect() != b.Name {
				t.Errorf("Dialect = %q, want %q", s1.Dialect(), b.Name)
			}
			if v, err := s1.MigrationVersion(ctx); err != nil || v <= 0 {
				t.Errorf("MigrationVersion = %d, %v", v, err)
			}
			u := &steward.User{ID: "usr_1", Email: "a@example.com", Role: steward.RoleUser, Status: steward.StatusActive}
			if err := s1.Update(ctx, func(tx store.Tx) error { return tx.CreateUser(ctx, u) }); err != nil {
				t.Fatal(err)
			}

			// Exec reaches the store's own database.
			b.Exec(t, s1, "UPDATE users SET name = 'tampered'")
			got, err := s1.GetUser(ctx, u.ID)
			if err != nil || got.Name != "tampered" {
				t.Errorf("GetUser after Exec = %+v, %v; want name tampered", got, err)
			}
			// Each Open is a database of its own.
			if n, err := s2.CountUsers(ctx, steward.UserFilter{}); err != nil || n != 0 {
				t.Errorf("a second store holds %d users, %v; want 0", n, err)
			}
		})
	}
}
