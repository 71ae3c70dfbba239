package service_test

import (
	"context"
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
	"github.com/stewardhq/steward/internal/testdb"
)

// BenchmarkVerifyKey measures the in-process verification path: parse the
// key, look it up by hash, load its owner, check state, addresses, scope and
// rate limit, and record the use in memory. Run with
//
//	go test -run '^$' -bench VerifyKey -benchmem ./service/
//
// (add STEWARD_TEST_POSTGRES=… for the PostgreSQL row).
func BenchmarkVerifyKey(b *testing.B) {
	for _, be := range testdb.Backends(b) {
		b.Run(be.Name, func(b *testing.B) {
			a := apptest.New(b, be)
			u := a.User(steward.RoleUser)
			k, err := a.Svc.Keys.CreateKey(apptest.System(), &steward.KeyCreate{Name: "bench", Type: steward.KeyUser,
				UserID: u.ID, AllowedIPs: []string{"10.0.0.0/8"}})
			if err != nil {
				b.Fatal(err)
			}
			ctx := apptest.As(a.Root)
			in := &steward.VerifyRequest{Key: k.Key, IP: "10.1.2.3", Scope: "read"}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					res, err := a.Svc.Keys.VerifyKey(ctx, in)
					if err != nil || !res.Valid {
						b.Fatalf("%v %+v", err, res)
					}
				}
			})
		})
	}
}

// BenchmarkAuthenticateSession measures a request's authentication with a
// session token: look the session up by its hash, load its user, check
// both at now. Run with
//
//	go test -run '^$' -bench AuthenticateSession -benchmem ./service/
//
// (add STEWARD_TEST_POSTGRES=… for the PostgreSQL row).
func BenchmarkAuthenticateSession(b *testing.B) {
	for _, be := range testdb.Backends(b) {
		b.Run(be.Name, func(b *testing.B) {
			a := apptest.New(b, be)
			u := a.User(steward.RoleUser)
			_, token := a.Login(u.Email)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := a.Svc.Auth.Authenticate(ctx, token); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
