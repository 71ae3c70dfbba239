package service

import (
	"testing"
	"time"

	"github.com/stewardhq/steward"
)

// BenchmarkKeyUsageCount is what counting adds to each verification: one
// map update under a mutex, from every core at once on one key (the
// worst case for the lock).
//
//	go test -run '^$' -bench KeyUsageCount -benchmem ./service/
func BenchmarkKeyUsageCount(b *testing.B) {
	var c keyUsageCounts
	res := &steward.VerifyResult{KeyID: "key_01KJMMA2G0X0MZ9GZM6F0B88NN", TenantID: "ten_1", Code: steward.VerifyValid}
	now := time.Date(2026, 12, 7, 5, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.count(res, now)
		}
	})
	if got := c.take(); len(got) != 1 || got[0].Count != int64(b.N) {
		b.Fatalf("counted %+v, want one row of %d", got, b.N)
	}
}

// The counts taken are the verifications counted, by key, minute and code,
// and taking empties them.
func TestKeyUsageCountsTake(t *testing.T) {
	var c keyUsageCounts
	t0 := time.Date(2026, 12, 7, 5, 0, 59, 999999000, time.UTC)
	valid := &steward.VerifyResult{KeyID: "key_a", TenantID: "ten_1", Code: steward.VerifyValid}
	c.count(valid, t0)
	c.count(valid, t0.Add(-59*time.Second))
	c.count(valid, t0.Add(time.Microsecond)) // the next minute
	c.count(&steward.VerifyResult{Code: steward.VerifyNotFound}, t0)
	got := map[steward.KeyUsageCount]bool{}
	for _, k := range c.take() {
		got[k] = true
	}
	m := t0.Truncate(time.Minute)
	want := []steward.KeyUsageCount{
		{KeyID: "key_a", TenantID: "ten_1", Minute: m, Code: steward.VerifyValid, Count: 2},
		{KeyID: "key_a", TenantID: "ten_1", Minute: m.Add(time.Minute), Code: steward.VerifyValid, Count: 1},
		{Minute: m, Code: steward.VerifyNotFound, Count: 1},
	}
	if len(got) != len(want) {
		t.Fatalf("took %v, want %v", got, want)
	}
	for _, w := range want {
		if !got[w] {
			t.Errorf("missing %+v in %v", w, got)
		}
	}
	if again := c.take(); len(again) != 0 {
		t.Errorf("taken twice: %v", again)
	}
}
