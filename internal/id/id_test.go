package id

import (
	"strings"
	"testing"
	"time"
)

func TestNewSortsByTime(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	prev := ""
	for i := 0; i < 1000; i++ {
		v := New("usr", t0.Add(time.Duration(i)*time.Millisecond))
		if !strings.HasPrefix(v, "usr_") || len(v) != 30 {
			t.Fatalf("bad id %q", v)
		}
		if v <= prev {
			t.Fatalf("id %q does not sort after %q", v, prev)
		}
		prev = v
	}
}

func TestNewIsUnique(t *testing.T) {
	now := time.Now()
	seen := map[string]bool{}
	for i := 0; i < 10000; i++ {
		v := New("ses", now)
		if seen[v] {
			t.Fatalf("duplicate id %q", v)
		}
		seen[v] = true
	}
}

func TestNewIsMonotonicWithinAMillisecond(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	prev := New("usr", now)
	for i := 0; i < 10000; i++ {
		v := New("usr", now)
		if v <= prev {
			t.Fatalf("id %q does not sort after %q in the same millisecond", v, prev)
		}
		prev = v
	}
}
