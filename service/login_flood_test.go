package service_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
	"github.com/stewardhq/steward/internal/password"
	"github.com/stewardhq/steward/service"
)

// TestLoginFloodStaysWithinTheHashBound keeps 24 clients logging in at
// once (known and unknown accounts, right and wrong passwords, and password
// changes, which hash too) against two hashing slots: never more than two
// hashes run, and every answer is a login, a refusal or a 429 — no 5xx.
func TestLoginFloodStaysWithinTheHashBound(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		users := []*steward.User{a.User(steward.RoleUser), a.User(steward.RoleUser)}
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make(chan error, 24*6)
		for c := 0; c < 24; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for i := 0; i < 6; i++ {
					in := steward.LoginInput{Email: users[c%2].Email, Password: apptest.Password, IP: fmt.Sprintf("198.51.100.%d", c)}
					switch i % 3 {
					case 1:
						in.Email = fmt.Sprintf("nobody%d@example.com", c)
					case 2:
						if c%4 == 0 {
							_, err := a.Svc.Users.ChangePassword(apptest.System(), users[c%2].ID, apptest.Password)
							errs <- allowed(err)
							continue
						}
						in.Password = "wrong-password"
					}
					_, err := a.Svc.Auth.Login(context.Background(), in)
					errs <- allowed(err)
				}
			}()
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if got := a.Svc.MaxHashesInFlight(); got < 1 || got > a.Svc.HashSlots() || a.Svc.HashSlots() != 2 {
			t.Fatalf("at most %d hashes at once, saw %d", a.Svc.HashSlots(), got)
		}
	}, apptest.Options{Service: func(c *service.Config) {
		c.HashConcurrency, c.HashQueueWait = 2, time.Minute
		c.Password = password.Params{Time: 1, MemoryKiB: 2048, Threads: 1}
	}})
}

// allowed passes the answers a flood may get and returns any other.
func allowed(err error) error {
	switch steward.ErrorCode(err) {
	case "", steward.CodeInvalidCredentials, steward.CodeRateLimited:
		return nil
	}
	return fmt.Errorf("unexpected answer under a flood: %w", err)
}

// TestHashQueueTimeoutIs429: with one slot and almost no queueing allowed,
// logins that find the slot taken get RATE_LIMITED with a retry_after, never
// a 5xx, and some get through.
func TestHashQueueTimeoutIs429(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		u := a.User(steward.RoleUser)
		var wg sync.WaitGroup
		start := make(chan struct{})
		var mu sync.Mutex
		counts := map[string]int{}
		for c := 0; c < 16; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, err := a.Svc.Auth.Login(context.Background(), steward.LoginInput{Email: u.Email, Password: apptest.Password, IP: fmt.Sprintf("203.0.113.%d", c)})
				var e *steward.Error
				if errors.As(err, &e) && e.Code == steward.CodeRateLimited && e.Details["retry_after"] != 1 {
					t.Errorf("busy 429 without retry_after 1: %v", e.Details)
				}
				mu.Lock()
				counts[steward.ErrorCode(err)]++
				mu.Unlock()
			}()
		}
		close(start)
		wg.Wait()
		if counts[""] == 0 || counts[steward.CodeRateLimited] == 0 || counts[""]+counts[steward.CodeRateLimited] != 16 {
			t.Fatalf("answers: %v; want logins and 429s only, some of each", counts)
		}
	}, apptest.Options{Service: func(c *service.Config) {
		c.HashConcurrency, c.HashQueueWait = 1, time.Nanosecond
		c.Password = password.Params{Time: 2, MemoryKiB: 8192, Threads: 1}
	}})
}
