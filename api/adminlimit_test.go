package api

import (
	"strconv"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/clock"
)

// TestAdminLimiterDefaults: the documented default (6000 a minute, burst
// 1000), off below zero, and the wait it names, on an injected clock.
func TestAdminLimiterDefaults(t *testing.T) {
	if newAdminLimiter(-1, 0, nil).allow("x") != nil {
		t.Fatal("a nil (off) limiter must allow")
	}
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	l := newAdminLimiter(0, 0, clk.Now)
	if l.per != 100 || l.burst != 1000 {
		t.Fatalf("default %v/s burst %d, want 100/s burst 1000", l.per, l.burst)
	}
	for i := range 1000 {
		if err := l.allow("a"); err != nil {
			t.Fatalf("request %d within the burst: %v", i+1, err)
		}
	}
	err := l.allow("a")
	if steward.ErrorCode(err) != steward.CodeRateLimited {
		t.Fatalf("past the burst: %v", err)
	}
	if ra := err.(*steward.Error).Details["retry_after"]; ra != 1 {
		t.Fatalf("retry_after %v, want 1", ra)
	}
	clk.Advance(10 * time.Millisecond) // one token at 100 a second
	if err := l.allow("a"); err != nil {
		t.Fatalf("after 10 ms: %v", err)
	}

	slow := newAdminLimiter(1, 1, clk.Now)
	_ = slow.allow("b")
	if ra := slow.allow("b").(*steward.Error).Details["retry_after"]; ra != 60 {
		t.Fatalf("retry_after at 1 a minute: %v, want 60", ra)
	}
}

// TestAdminLimiterTableBounded: past maxTrackedCredentials the table drops
// the buckets that are full again, and never grows beyond the bound.
func TestAdminLimiterTableBounded(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	l := newAdminLimiter(60, 2, clk.Now)
	for i := range maxTrackedCredentials - 1 {
		_ = l.allow("c" + strconv.Itoa(i))
	}
	_ = l.allow("busy")
	_ = l.allow("busy") // "busy" is now empty; the table is full
	clk.Advance(time.Minute)
	_ = l.allow("busy") // refilled one of two, spent it: not full
	_ = l.allow("new")  // sweeps the full ones
	if len(l.creds) != 2 {
		t.Fatalf("%d credentials tracked after the sweep, want 2 (busy, new)", len(l.creds))
	}
	if _, ok := l.creds["busy"]; !ok {
		t.Fatal("a credential with a spent bucket was dropped: it would get a fresh burst")
	}
}
