package sqlite

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

func TestZZWrite(t *testing.T) {
	am := os.Getenv("AUTOMERGE")
	if am == "" {
		t.Skip()
	}
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "w.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if am != "default" {
		n, _ := strconv.Atoi(am)
		if _, err := s.writer.Exec("INSERT INTO users_fts(users_fts, rank) VALUES('automerge', ?)", n); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	const N = 30000
	for i := range N {
		if i%10000 == 0 && i > 0 {
			t.Logf("%d users: %.0f/s", i, 10000/time.Since(start).Seconds())
			start = time.Now()
		}
		err := s.Update(ctx, func(tx store.Tx) error {
			return tx.CreateUser(ctx, &steward.User{ID: fmt.Sprintf("usr_%020d", i), Email: fmt.Sprintf("someone%d@mail%d.example.com", i, i%50),
				Username: fmt.Sprintf("handle%d", i), Name: fmt.Sprintf("First%d Last%d", i%977, i%1013), Role: "user", Status: "active"})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d users: %.0f/s", N, 10000/time.Since(start).Seconds())
	var segs int
	s.reader.QueryRow("SELECT count(*) FROM users_fts_data").Scan(&segs)
	for _, q := range []string{"someone12345", "mail7.exa", "handle2999", "first97 last"} {
		st := time.Now()
		for range 20 {
			s.ListUsers(ctx, steward.UserFilter{Q: q})
		}
		t.Logf("q %q: %v", q, time.Since(st)/20)
	}
	t.Logf("data rows %d", segs)
}
