package service_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
	"github.com/stewardhq/steward/internal/testdb"
	"github.com/stewardhq/steward/service"
)

// TestDeductRaceTwoProcesses: on PostgreSQL, two Steward services with
// connection pools of their own (as two processes sharing the database
// would have) deduct 1 credit each from one balance of b < n at once:
// exactly b succeed, the rest are INSUFFICIENT_CREDITS, the balance ends at
// 0 and every ledger invariant holds.
func TestDeductRaceTwoProcesses(t *testing.T) {
	for _, be := range testdb.Backends(t) {
		if be.Share == nil {
			continue // SQLite: one process owns the file
		}
		t.Run(be.Name, func(t *testing.T) {
			a := apptest.New(t, be)
			other := service.New(service.Config{Store: be.Share(t, a.Store), Now: a.Clock.Now,
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			sys := apptest.System()
			tn, err := a.Svc.Tenants.CreateTenant(sys, &steward.TenantCreate{Name: "Race"})
			if err != nil {
				t.Fatal(err)
			}
			const n, b = 80, 53
			if _, err := a.Svc.Credits.Grant(sys, &steward.GrantInput{TenantID: tn.ID, Amount: b, Description: "race"}); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			var mu sync.Mutex
			codes := map[string]int{}
			for i := range n {
				svc := a.Svc
				if i%2 == 1 {
					svc = other
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := svc.Credits.Deduct(sys, &steward.DeductInput{TenantID: tn.ID, Amount: 1, Description: "race"})
					mu.Lock()
					codes[steward.ErrorCode(err)]++
					mu.Unlock()
				}()
			}
			wg.Wait()
			if codes[""] != b || codes[steward.CodeInsufficientCredits] != n-b {
				t.Fatalf("outcomes: %v", codes)
			}
			bal, err := other.Credits.Balance(sys, tn.ID)
			if err != nil || bal.Balance != 0 {
				t.Fatalf("balance %+v %v", bal, err)
			}
			bad, err := a.Svc.Credits.CheckLedger(sys)
			if err != nil || len(bad) != 0 {
				t.Fatalf("ledger: %+v %v", bad, err)
			}
		})
	}
}

// TestLedgerWriteOfAGoneCaller: a caller that has gone away (a cancelled
// context) gets its context error and its write is not applied (no batch
// reached it while it waited); the ledger stays consistent and the next
// writes go through. (A write a batch has already run commits with it:
// TestLedgerCallersWatchTheirContext.)
func TestLedgerWriteOfAGoneCaller(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		sys := apptest.System()
		tn, err := a.Svc.Tenants.CreateTenant(sys, &steward.TenantCreate{Name: "Gone"})
		if err != nil {
			t.Fatal(err)
		}
		gone, cancel := context.WithCancel(sys)
		cancel()
		if _, err := a.Svc.Credits.Grant(gone, &steward.GrantInput{TenantID: tn.ID, Amount: 5, Description: "x"}); !errors.Is(err, context.Canceled) {
			t.Fatalf("grant of a gone caller: %v, want context.Canceled", err)
		}
		if b, err := a.Svc.Credits.Balance(sys, tn.ID); err != nil || b.Balance != 0 {
			t.Fatalf("balance %+v %v: the gone caller's grant must not be applied", b, err)
		}
		if _, err := a.Svc.Credits.Grant(sys, &steward.GrantInput{TenantID: tn.ID, Amount: 5, Description: "x"}); err != nil {
			t.Fatalf("grant: %v", err)
		}
		if _, err := a.Svc.Credits.Deduct(gone, &steward.DeductInput{TenantID: tn.ID, Amount: 2, Description: "x"}); !errors.Is(err, context.Canceled) {
			t.Fatalf("deduct of a gone caller: %v, want context.Canceled", err)
		}
		if b, err := a.Svc.Credits.Balance(sys, tn.ID); err != nil || b.Balance != 5 {
			t.Fatalf("balance %+v %v", b, err)
		}
		if bad, err := a.Svc.Credits.CheckLedger(sys); err != nil || len(bad) != 0 {
			t.Fatalf("ledger: %+v %v", bad, err)
		}
	})
}
