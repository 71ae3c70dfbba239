package service

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/testdb"
)

// TestSealerWaitsOutTheGap: a commit nudges the sealer, which waits until
// sealGap has passed since its last pass began before the next one, so the
// commits of a busy period share a pass; the entry is sealed once the wait
// is over. The wait is replaced by the test's, which holds it open.
func TestSealerWaitsOutTheGap(t *testing.T) {
	st := testdb.Backends(t)[0].Open(t)
	s := New(Config{Store: st})
	waits, release := make(chan time.Duration), make(chan struct{})
	s.sealPause = func(ctx context.Context, d time.Duration) {
		select {
		case waits <- d: // the first wait: held until released
			<-release
		case <-release: // any later one: none
		case <-ctx.Done():
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	s.nudgeSealer() // waiting before RunSealer starts: it takes it after its first pass
	go func() { s.Audit.RunSealer(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	var d time.Duration
	select {
	case d = <-waits:
	case <-time.After(10 * time.Second):
		t.Fatal("a nudge did not reach the sealer's wait")
	}
	if d > sealGap {
		t.Errorf("the sealer waits %v before a nudged pass, more than the gap %v", d, sealGap)
	}

	// A change committed during the wait stays pending until it ends.
	sys := steward.WithActor(context.Background(), steward.SystemActor)
	if _, err := s.Tenants.CreateTenant(sys, &steward.TenantCreate{Name: "Gap"}); err != nil {
		t.Fatal(err)
	}
	if p, err := st.AuditPending(ctx); err != nil || p.Count == 0 {
		t.Fatalf("while the sealer waits, pending = %+v, %v: the change's entry was sealed without waiting", p, err)
	}
	close(release)
	deadline := time.Now().Add(10 * time.Second)
	for {
		p, err := st.AuditPending(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if p.Count == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d entries still pending after the wait ended", p.Count)
		}
		runtime.Gosched()
	}
}
