package service_test

import (
	"context"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
	"github.com/stewardhq/steward/internal/password"
	"github.com/stewardhq/steward/service"
	"github.com/stewardhq/steward/store"
)

// TestDummyHashBelongsToEachService: two services with different hashing
// parameters each check unknown accounts against a hash of their own
// parameters, whichever made one first. The check is timed through the
// store: a service whose dummy had the other's (cheap) parameters would
// verify far faster than its own real hash.
func TestDummyHashBelongsToEachService(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		// a.Svc uses cheap parameters and has made its dummy (its first
		// login for an unknown account happens here).
		if _, err := a.Svc.Auth.Login(context.Background(), steward.LoginInput{Email: "nobody@example.com", Password: "whatever-it-is"}); steward.ErrorCode(err) != steward.CodeInvalidCredentials {
			t.Fatal(err)
		}
		costly := password.Params{Time: 3, MemoryKiB: 16 * 1024, Threads: 1}
		svc := service.New(service.Config{Store: a.Store, Now: a.Clock.Now, Password: costly})
		timeLogin := func(email string) time.Duration {
			start := time.Now()
			_, err := svc.Auth.Login(context.Background(), steward.LoginInput{Email: email, Password: "whatever-it-is"})
			if steward.ErrorCode(err) != steward.CodeInvalidCredentials {
				t.Fatal(err)
			}
			return time.Since(start)
		}
		timeLogin("warm-up@example.com") // makes svc's dummy
		// A real account with a hash of svc's parameters, for comparison.
		u := a.User(steward.RoleUser)
		hash, _ := password.Hasher{P: costly}.Hash(apptest.Password)
		_ = a.Store.Update(context.Background(), func(tx store.Tx) error {
			cur, err := tx.GetUser(context.Background(), u.ID)
			if err != nil {
				return err
			}
			cur.PasswordHash = hash
			return tx.UpdateUser(context.Background(), cur)
		})
		var unknown, known time.Duration
		for i := 0; i < 3; i++ {
			unknown += timeLogin("nobody@example.com")
			known += timeLogin(u.Email)
		}
		if unknown < known/3 {
			t.Fatalf("unknown accounts cost %v against %v for a real one: the dummy hash is not this service's", unknown, known)
		}
	})
}
