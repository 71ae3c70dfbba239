package sqlite_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store/sqlite"
)

// These benchmarks read a database seeded by bench/seed (see
// docs/benchmarks.md) and are skipped unless STEWARD_BENCH_SQLITE names its
// file, so CI never depends on them:
//
//	STEWARD_BENCH_SQLITE=/tmp/steward-bench/users-1m.db \
//	  go test -run '^$' -bench . -benchtime 2s ./store/sqlite/
//
// They only read, but closing the store refreshes the planner's statistics
// (PRAGMA optimize), as steward serve does when it stops.
func benchStore(b *testing.B) *sqlite.Store {
	b.Helper()
	path := os.Getenv("STEWARD_BENCH_SQLITE")
	if path == "" {
		b.Skip("STEWARD_BENCH_SQLITE is not set")
	}
	if _, err := os.Stat(path); err != nil {
		b.Skip(err)
	}
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// benchTargets returns a seeded user (the second newest, as bench/run.sh
// picks), and a session of the operator when bench/run.sh has logged in.
func benchTargets(b *testing.B, s *sqlite.Store) (*steward.User, *steward.Session) {
	b.Helper()
	ctx := b.Context()
	users, err := s.ListUsers(ctx, steward.UserFilter{Limit: 2})
	if err != nil || len(users) < 2 {
		b.Fatalf("ListUsers: %d users, %v", len(users), err)
	}
	sessions, err := s.ListSessions(ctx, steward.SessionFilter{Limit: 1})
	if err != nil {
		b.Fatal(err)
	}
	if len(sessions) == 0 {
		return users[1], nil
	}
	return users[1], sessions[0]
}

func BenchmarkGetUser(b *testing.B) {
	s := benchStore(b)
	u, _ := benchTargets(b, s)
	ctx := b.Context()
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.GetUser(ctx, u.ID); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.GetUser(ctx, u.ID); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkAdminRequestReads is the store's part of GET
// /api/v1/admin/users/{id}: the session by token hash and its user
// (Service.Authenticate), then the target user.
func BenchmarkAdminRequestReads(b *testing.B) {
	s := benchStore(b)
	u, sess := benchTargets(b, s)
	if sess == nil {
		b.Skip("no session in the database: run bench/run.sh once to log in")
	}
	ctx := b.Context()
	read := func() error {
		got, err := s.GetSessionByTokenHash(ctx, sess.TokenHash)
		if err != nil {
			return err
		}
		if _, err := s.GetUser(ctx, got.UserID); err != nil {
			return err
		}
		_, err = s.GetUser(ctx, u.ID)
		return err
	}
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			if err := read(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := read(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

func BenchmarkListUsers(b *testing.B) {
	s := benchStore(b)
	ctx := b.Context()
	for b.Loop() {
		if _, err := s.ListUsers(ctx, steward.UserFilter{Limit: 51}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkListQ searches for terms from one match to tens of thousands, a
// 50-row page each (the counts are those of the seed's default data).
func BenchmarkListQ(b *testing.B) {
	s := benchStore(b)
	u, _ := benchTargets(b, s)
	ctx := b.Context()
	rare, _, _ := strings.Cut(u.Email, "@")
	for _, tc := range []struct{ name, q string }{
		{"rare", rare},                   // one user's email local part: 1 match
		{"ada_lovelace", "ada lovelace"}, // first and last name: about 230
		{"sofia_m", "sofia m"},           // about 820
		{"ada_", "ada_"},                 // one email shape of a first name: about 3,700
		{"lovelace", "lovelace"},         // a surname: about 14,500
		{"gmail", "gmail"},               // a domain: about 84,000
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := s.ListUsers(ctx, steward.UserFilter{Q: tc.q, Limit: 51}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
