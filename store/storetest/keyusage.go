package storetest

import (
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// testKeyUsage: flushes add up (as two replicas' would), NOT_FOUND is kept
// per minute only, buckets are UTC at each granularity with [since, until),
// the filters and top keys, pruning by age in batches, and a key's rows
// going with its purge (its user's or its tenant's).
func testKeyUsage(t *testing.T, s store.Store) {
	ctx := t.Context()
	day := time.Date(2025, 3, 14, 0, 0, 0, 0, time.UTC)
	m := func(d time.Duration) time.Time { return day.Add(d) }
	createTenants(t, s, newTenant(1), newTenant(2))
	createUsers(t, s, newUser(1), newUser(2))
	k1, k2, k3, k4 := newKey(1, userID(1)), newKey(2, userID(1)), newKey(3, userID(1)), newKey(4, userID(2))
	k1.TenantID, k2.TenantID, k4.TenantID = tenantID(1), tenantID(1), tenantID(2)
	createKeys(t, s, k1, k2, k3, k4)
	ten1 := tenantID(1)
	record := func(counts ...steward.KeyUsageCount) {
		t.Helper()
		update(t, s, func(tx store.Tx) error { return tx.RecordKeyUsage(ctx, counts) })
	}
	const valid, nf, rl, rv = steward.VerifyValid, steward.VerifyNotFound, steward.VerifyRateLimited, steward.VerifyRevoked
	at1005, at1059, at1100, at1130 := m(10*time.Hour+5*time.Minute), m(10*time.Hour+59*time.Minute), m(11*time.Hour), m(11*time.Hour+30*time.Minute)
	record() // nothing to write
	record(
		steward.KeyUsageCount{KeyID: k1.ID, TenantID: ten1, Minute: at1005, Code: valid, Count: 3},
		steward.KeyUsageCount{KeyID: k1.ID, TenantID: ten1, Minute: at1005, Code: valid, Count: 2},
		steward.KeyUsageCount{KeyID: k1.ID, TenantID: ten1, Minute: at1059, Code: rl, Count: 4},
		steward.KeyUsageCount{KeyID: k2.ID, TenantID: ten1, Minute: at1100, Code: rv, Count: 5},
		steward.KeyUsageCount{KeyID: k3.ID, Minute: m(24 * time.Hour), Code: valid, Count: 1},
		steward.KeyUsageCount{Minute: at1005, Code: nf, Count: 7},
		steward.KeyUsageCount{Minute: at1130, Code: nf, Count: 1},
		steward.KeyUsageCount{KeyID: keyID(99), Minute: at1005, Code: valid, Count: 9}, // no such key: dropped
	)
	// A second replica's flush into the same rows adds to them.
	record(
		steward.KeyUsageCount{KeyID: k1.ID, TenantID: ten1, Minute: at1005, Code: valid, Count: 10},
		steward.KeyUsageCount{Minute: at1005, Code: nf, Count: 3},
	)

	type pt = steward.KeyUsagePoint
	p := func(at time.Time, code string, n int64) pt { return pt{At: at, Code: code, Count: n} }
	series := func(what string, q steward.KeyUsageQuery, want ...pt) {
		t.Helper()
		got, err := s.KeyUsageSeries(ctx, q)
		must(t, what, err)
		if want == nil {
			want = []pt{}
		}
		equal(t, what, got, want)
	}
	twoDays := steward.KeyUsageQuery{Since: day, Until: m(48 * time.Hour)}
	with := func(q steward.KeyUsageQuery, g steward.KeyUsageGranularity, f func(*steward.KeyUsageQuery)) steward.KeyUsageQuery {
		q.Granularity = g
		if f != nil {
			f(&q)
		}
		return q
	}
	series("one key by minute", with(twoDays, steward.KeyUsageMinute, func(q *steward.KeyUsageQuery) { q.KeyID = k1.ID }),
		p(at1005, valid, 15), p(at1059, rl, 4))
	series("a tenant by hour", with(twoDays, steward.KeyUsageHour, func(q *steward.KeyUsageQuery) { q.TenantID = ten1 }),
		p(m(10*time.Hour), rl, 4), p(m(10*time.Hour), valid, 15), p(at1100, rv, 5))
	series("every key by day", with(twoDays, steward.KeyUsageDay, nil),
		p(day, nf, 11), p(day, rl, 4), p(day, rv, 5), p(day, valid, 15), p(m(24*time.Hour), valid, 1))
	series("NOT_FOUND by hour", with(twoDays, steward.KeyUsageHour, func(q *steward.KeyUsageQuery) { q.Code = nf }),
		p(m(10*time.Hour), nf, 10), p(at1100, nf, 1))
	series("NOT_FOUND names no tenant", with(twoDays, steward.KeyUsageHour, func(q *steward.KeyUsageQuery) {
		q.Code, q.TenantID = nf, ten1
	}))
	series("a code of one key", with(twoDays, steward.KeyUsageHour, func(q *steward.KeyUsageQuery) {
		q.Code, q.KeyID = rl, k1.ID
	}), p(m(10*time.Hour), rl, 4))
	series("since is in, until is out", steward.KeyUsageQuery{Since: m(10*time.Hour + 6*time.Minute), Until: at1100,
		Granularity: steward.KeyUsageMinute}, p(at1059, rl, 4))

	top := func(what string, q steward.KeyUsageQuery, n int, want ...steward.KeyUsageTopKey) {
		t.Helper()
		got, err := s.KeyUsageTopKeys(ctx, q, n)
		must(t, what, err)
		if want == nil {
			want = []steward.KeyUsageTopKey{}
		}
		equal(t, what, got, want)
	}
	top1 := steward.KeyUsageTopKey{KeyID: k1.ID, TenantID: ten1, Total: 19, RateLimited: 4}
	top2 := steward.KeyUsageTopKey{KeyID: k2.ID, TenantID: ten1, Total: 5, Revoked: 5}
	top("top keys", twoDays, 10, top1, top2, steward.KeyUsageTopKey{KeyID: k3.ID, Total: 1})
	top("top two", twoDays, 2, top1, top2)
	top("top of a tenant", with(twoDays, "", func(q *steward.KeyUsageQuery) { q.TenantID = ten1 }), 10, top1, top2)
	top("top by a code", with(twoDays, "", func(q *steward.KeyUsageQuery) { q.Code = rv }), 10, top2)
	top("top of NOT_FOUND", with(twoDays, "", func(q *steward.KeyUsageQuery) { q.Code = nf }), 10)

	// Pruning deletes rows older than the cut, at most n at a time.
	prune := func(n int, want int64) {
		t.Helper()
		var got int64
		update(t, s, func(tx store.Tx) (err error) { got, err = tx.PruneKeyUsage(ctx, at1100, n); return err })
		if got != want {
			t.Errorf("PruneKeyUsage(%d) = %d, want %d", n, got, want)
		}
	}
	prune(2, 2)
	prune(100, 1)
	prune(100, 0)
	series("after pruning", with(twoDays, steward.KeyUsageDay, nil),
		p(day, nf, 1), p(day, rv, 5), p(m(24*time.Hour), valid, 1))

	// A purged key's rows go with it: its tenant's purge, its user's.
	record(steward.KeyUsageCount{KeyID: k4.ID, TenantID: tenantID(2), Minute: at1130, Code: valid, Count: 2})
	series("tenant 2", with(twoDays, steward.KeyUsageDay, func(q *steward.KeyUsageQuery) { q.TenantID = tenantID(2) }),
		p(day, valid, 2))
	update(t, s, func(tx store.Tx) error { _, err := tx.PurgeTenant(ctx, tenantID(2)); return err })
	series("tenant 2 purged", with(twoDays, steward.KeyUsageDay, func(q *steward.KeyUsageQuery) { q.TenantID = tenantID(2) }))
	update(t, s, func(tx store.Tx) error { return tx.PurgeUser(ctx, userID(1)) })
	series("user 1 purged", with(twoDays, steward.KeyUsageDay, nil), p(day, nf, 1))
	top("user 1 purged", twoDays, 10)
	// A flush of counts taken before the purge still commits.
	record(steward.KeyUsageCount{KeyID: k1.ID, TenantID: ten1, Minute: at1130, Code: valid, Count: 1},
		steward.KeyUsageCount{Minute: at1130, Code: nf, Count: 1})
	series("flushed after the purge", with(twoDays, steward.KeyUsageDay, nil), p(day, nf, 2))
}
