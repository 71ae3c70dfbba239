package api_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
)

// activeTops counts active owners and super_admins, as the store sees them.
func activeTops(t *testing.T, a *apptest.App) int64 {
	t.Helper()
	n, err := a.Store.CountUsers(context.Background(), steward.UserFilter{Status: steward.StatusActive,
		Roles: []steward.Role{steward.RoleOwner, steward.RoleSuperAdmin}})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

type shot struct {
	r   *apptest.Response
	err error
}

// together sends two requests at the same moment and returns both answers.
func together(a *apptest.App, reqs [2]func() (*apptest.Response, error)) [2]shot {
	var out [2]shot
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			out[i].r, out[i].err = reqs[i]()
		}()
	}
	close(start)
	wg.Wait()
	return out
}

// TestConcurrentMutualDemotion: the only two top operators demote each other
// at the same moment, over and over. They are super_admins: two owners cannot
// act on each other at all (INSUFFICIENT_ROLE, covered by the scenarios), so
// only super_admins can race here. LAST_ACTIVE_OWNER and the actor's current
// role are checked inside the transaction of the change, so at most one
// demotion may pass, and at least one active top operator must remain after
// every round.
func TestConcurrentMutualDemotion(t *testing.T) {
	const rounds = 30
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		sys := apptest.System()
		ctx := context.Background()
		topA, topB := createUser(t, a, steward.RoleSuperAdmin), createUser(t, a, steward.RoleSuperAdmin)
		// Take the bootstrap super_admin out of the count.
		if _, err := a.Svc.Users.ChangeRole(sys, a.Root.ID, steward.RoleAdmin); err != nil {
			t.Fatal(err)
		}
		tokA, tokB := svcLogin(t, a, topA.Email), svcLogin(t, a, topB.Email)
		if n := activeTops(t, a); n != 2 {
			t.Fatalf("%d active top operators before the race, want 2", n)
		}
		demote := func(tok, target string, viaPatch bool) func() (*apptest.Response, error) {
			return func() (*apptest.Response, error) {
				if viaPatch {
					return send(a, patch, usersPath+"/"+target, tok, []byte(`{"role":"admin"}`), true, nil)
				}
				return send(a, post, usersPath+"/"+target+"/role", tok, []byte(`{"role":"admin"}`), true, nil)
			}
		}
		wins := map[string]int{}
		for round := 0; round < rounds; round++ {
			viaPatch := round%3 == 2 // the merge-patch path runs the same guards
			res := together(a, [2]func() (*apptest.Response, error){
				demote(tokA, topB.ID, viaPatch),
				demote(tokB, topA.ID, viaPatch),
			})
			succeeded := 0
			for i, s := range res {
				if s.err != nil {
					t.Fatalf("round %d, request %d: %v", round, i, s.err)
				}
				checkCommon(t, s.r, "")
				switch {
				case s.r.Status == 200:
					succeeded++
				case s.r.Status == 403 || s.r.Status == 422:
					// The loser was demoted first: its role no longer allows
					// it (FORBIDDEN / INSUFFICIENT_ROLE), or the guard fired.
					switch s.r.Get("code") {
					case steward.CodeForbidden, steward.CodeInsufficientRole, steward.CodeLastActiveOwner:
					default:
						t.Errorf("round %d, request %d: %d %s", round, i, s.r.Status, s.r.Raw)
					}
				default:
					t.Errorf("round %d, request %d: unexpected %d %s", round, i, s.r.Status, s.r.Raw)
				}
			}
			n := activeTops(t, a)
			if n < 1 {
				t.Fatalf("round %d: no active owner is left (both demotions: %d, %d)", round, res[0].r.Status, res[1].r.Status)
			}
			if succeeded > 1 {
				t.Fatalf("round %d: both demotions succeeded", round)
			}
			if succeeded == 0 {
				t.Errorf("round %d: neither demotion succeeded (%s / %s)", round, res[0].r.Raw, res[1].r.Raw)
			}
			if n != int64(2-succeeded) {
				t.Errorf("round %d: %d active top operators after %d demotions", round, n, succeeded)
			}
			wins[fmt.Sprint(res[0].r.Status, "/", res[1].r.Status)]++
			// Back to two owners for the next round.
			for _, u := range []*steward.User{topA, topB} {
				if _, err := a.Svc.Users.ChangeRole(sys, u.ID, steward.RoleSuperAdmin); err != nil {
					t.Fatalf("round %d: re-promoting %s: %v", round, u.ID, err)
				}
			}
		}
		t.Logf("outcomes (A's status/B's status): %v", wins)
		v, err := a.Svc.Audit.VerifyChain(ctx)
		if err != nil || !v.OK {
			t.Errorf("audit chain after the race: %+v, %v", v, err)
		}
	})
}

// TestConcurrentMutualSuspension: the same race through suspend, whose
// loser finds its own account suspended.
func TestConcurrentMutualSuspension(t *testing.T) {
	const rounds = 10
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		sys := apptest.System()
		topA, topB := createUser(t, a, steward.RoleSuperAdmin), createUser(t, a, steward.RoleSuperAdmin)
		if _, err := a.Svc.Users.ChangeRole(sys, a.Root.ID, steward.RoleAdmin); err != nil {
			t.Fatal(err)
		}
		for round := 0; round < rounds; round++ {
			tokA, tokB := svcLogin(t, a, topA.Email), svcLogin(t, a, topB.Email)
			res := together(a, [2]func() (*apptest.Response, error){
				func() (*apptest.Response, error) {
					return send(a, post, usersPath+"/"+topB.ID+"/suspend", tokA, nil, false, nil)
				},
				func() (*apptest.Response, error) {
					return send(a, post, usersPath+"/"+topA.ID+"/suspend", tokB, nil, false, nil)
				},
			})
			succeeded := 0
			for i, s := range res {
				if s.err != nil {
					t.Fatalf("round %d, request %d: %v", round, i, s.err)
				}
				checkCommon(t, s.r, "")
				switch {
				case s.r.Status == 200:
					succeeded++
				case s.r.Status == 401 || s.r.Status == 422:
				default:
					t.Errorf("round %d, request %d: unexpected %d %s", round, i, s.r.Status, s.r.Raw)
				}
			}
			if n := activeTops(t, a); n < 1 || succeeded != 1 {
				t.Fatalf("round %d: %d suspensions succeeded, %d active top operators left", round, succeeded, n)
			}
			for _, u := range []*steward.User{topA, topB} {
				if g, err := a.Svc.Users.GetUser(sys, u.ID); err != nil {
					t.Fatal(err)
				} else if g.Status == steward.StatusSuspended {
					if _, err := a.Svc.Users.UnsuspendUser(sys, u.ID); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	})
}
