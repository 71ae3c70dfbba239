package service_test

import (
	"context"
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
	"github.com/stewardhq/steward/service"
)

func tp(t time.Time) *time.Time { return &t }

func keyUsage(t *testing.T, a *apptest.App, in steward.KeyUsageInput) *steward.KeyUsageReport {
	t.Helper()
	rep, err := a.Svc.KeyUsage.KeyUsage(apptest.System(), &in)
	if err != nil {
		t.Fatalf("KeyUsage(%+v): %v", in, err)
	}
	return rep
}

func keysUsage(t *testing.T, a *apptest.App, in steward.KeyUsageInput) *steward.KeysUsageReport {
	t.Helper()
	rep, err := a.Svc.KeyUsage.KeysUsage(apptest.System(), &in)
	if err != nil {
		t.Fatalf("KeysUsage(%+v): %v", in, err)
	}
	return rep
}

func flushUsage(t *testing.T, s *service.Service) {
	t.Helper()
	if err := s.KeyUsage.FlushKeyUsage(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// nonZero is the codes of totals that are not 0.
func nonZero(m map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for k, v := range m {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

func sameCounts(t *testing.T, what string, got, want map[string]int64) {
	t.Helper()
	if !maps.Equal(nonZero(got), want) {
		t.Errorf("%s: %v, want %v", what, nonZero(got), want)
	}
}

// Every outcome is counted under its key and code, nothing is written until
// the flush, and a key presented as a credential is counted too.
func TestKeyUsageCountsEveryOutcome(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		member := a.User(steward.RoleUser, func(in *steward.UserCreate) { in.TenantID = "ten_usage" })
		u := a.User(steward.RoleUser)
		mk := func(in steward.KeyCreate) *steward.CreatedKey {
			t.Helper()
			in.Name, in.Type = "k", steward.KeyUser
			if in.UserID == "" {
				in.UserID = u.ID
			}
			k, err := a.Svc.Keys.CreateKey(apptest.System(), &in)
			if err != nil {
				t.Fatal(err)
			}
			return k
		}
		exp := a.Clock.Now().Add(time.Minute)
		limited := mk(steward.KeyCreate{RateLimitRPM: 2, UserID: member.ID})
		fenced := mk(steward.KeyCreate{AllowedIPs: []string{"10.0.0.0/8"}})
		expiring := mk(steward.KeyCreate{ExpiresAt: &exp})
		revoked := mk(steward.KeyCreate{})
		if _, err := a.Svc.Keys.RevokeKey(apptest.System(), revoked.ID, ""); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			verify(t, a, limited.Key, "", "") // VALID, VALID, RATE_LIMITED
		}
		verify(t, a, fenced.Key, "10.1.1.1", "")
		verify(t, a, fenced.Key, "192.0.2.1", "")
		verify(t, a, revoked.Key, "", "")
		verify(t, a, revoked.Key, "", "")
		verify(t, a, "stw_u_nothing-like-it", "", "")
		admin, _ := a.Operator(steward.RoleAdmin)
		adminKey, err := a.Svc.Keys.CreateKey(apptest.As(admin), &steward.KeyCreate{Name: "ops", Type: steward.KeyAdmin, UserID: admin.ID})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Svc.Auth.Authenticate(context.Background(), adminKey.Key); err != nil {
			t.Fatal(err)
		}
		a.Clock.Advance(time.Minute)
		verify(t, a, expiring.Key, "", "")

		all := steward.KeyUsageInput{}
		if rep := keysUsage(t, a, all); rep.Total != 0 {
			t.Fatalf("before the flush: %d verifications stored", rep.Total)
		}
		flushUsage(t, a.Svc)
		rep := keysUsage(t, a, all)
		sameCounts(t, "every key", rep.Totals, map[string]int64{steward.VerifyValid: 4, steward.VerifyRateLimited: 1,
			steward.VerifyIPNotAllowed: 1, steward.VerifyRevoked: 2, steward.VerifyNotFound: 1, steward.VerifyExpired: 1})
		if rep.Total != 10 || len(rep.Totals) != len(steward.VerifyCodes) {
			t.Errorf("total %d over %d codes, want 10 over every code", rep.Total, len(rep.Totals))
		}
		sameCounts(t, "the limited key", keyUsage(t, a, steward.KeyUsageInput{KeyID: limited.ID}).Totals,
			map[string]int64{steward.VerifyValid: 2, steward.VerifyRateLimited: 1})
		sameCounts(t, "the admin key", keyUsage(t, a, steward.KeyUsageInput{KeyID: adminKey.ID}).Totals,
			map[string]int64{steward.VerifyValid: 1})
		ten := keysUsage(t, a, steward.KeyUsageInput{TenantID: "ten_usage"})
		sameCounts(t, "the tenant", ten.Totals, map[string]int64{steward.VerifyValid: 2, steward.VerifyRateLimited: 1})
		want := []steward.KeyUsageTopKey{{KeyID: limited.ID, TenantID: "ten_usage", Total: 3, RateLimited: 1}}
		if len(ten.TopKeys) != 1 || ten.TopKeys[0] != want[0] {
			t.Errorf("the tenant's top keys: %+v, want %+v", ten.TopKeys, want)
		}
		// Most first, ties by key id (fenced was made before revoked).
		if len(rep.TopKeys) != 5 || rep.TopKeys[0].KeyID != limited.ID || rep.TopKeys[1].KeyID != fenced.ID ||
			rep.TopKeys[2] != (steward.KeyUsageTopKey{KeyID: revoked.ID, Total: 2, Revoked: 2}) {
			t.Errorf("top keys: %+v", rep.TopKeys)
		}
		throttled := keysUsage(t, a, steward.KeyUsageInput{Code: steward.VerifyRateLimited})
		if throttled.Total != 1 || len(throttled.Totals) != 1 || len(throttled.TopKeys) != 1 || throttled.TopKeys[0].KeyID != limited.ID {
			t.Errorf("RATE_LIMITED only: %+v", throttled)
		}
		// The flush took the counts: flushing again adds nothing.
		flushUsage(t, a.Svc)
		if got := keysUsage(t, a, all).Total; got != 10 {
			t.Errorf("after a second flush: %d, want 10", got)
		}
	})
}

// Two replicas (two Services on one database) count on their own and their
// flushes add up.
func TestKeyUsageReplicasAddUp(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		u := a.User(steward.RoleUser)
		k, err := a.Svc.Keys.CreateKey(apptest.System(), &steward.KeyCreate{Name: "k", Type: steward.KeyUser, UserID: u.ID})
		if err != nil {
			t.Fatal(err)
		}
		other := service.New(service.Config{Store: a.Store, Now: a.Clock.Now})
		for range 3 {
			verify(t, a, k.Key, "", "")
		}
		for range 2 {
			if _, err := other.Keys.VerifyKey(apptest.As(a.Root), &steward.VerifyRequest{Key: k.Key}); err != nil {
				t.Fatal(err)
			}
		}
		flushUsage(t, a.Svc)
		flushUsage(t, other)
		flushUsage(t, other)
		rep := keyUsage(t, a, steward.KeyUsageInput{KeyID: k.ID, Granularity: steward.KeyUsageMinute})
		if rep.Total != 5 || rep.Totals[steward.VerifyValid] != 5 {
			t.Fatalf("two replicas: %d (%v), want 5 VALID", rep.Total, nonZero(rep.Totals))
		}
		// Same minute, same row.
		last := rep.Series[len(rep.Series)-1]
		if !last.At.Equal(a.Clock.Now().Truncate(time.Minute)) || last.ByCode[steward.VerifyValid] != 5 {
			t.Fatalf("last bucket %v: %v", last.At, last.ByCode)
		}
	})
}

// Buckets are UTC, aligned, every one present, oldest first, at each
// granularity; the defaults are hour over the last 24 hours.
func TestKeyUsageBuckets(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		u := a.User(steward.RoleUser)
		k, err := a.Svc.Keys.CreateKey(apptest.System(), &steward.KeyCreate{Name: "k", Type: steward.KeyUser, UserID: u.ID})
		if err != nil {
			t.Fatal(err)
		}
		start := a.Clock.Now() // 2026-03-01T12:00:00Z
		a.Clock.Advance(30 * time.Second)
		verify(t, a, k.Key, "", "") // 12:00
		a.Clock.Advance(time.Minute)
		verify(t, a, k.Key, "", "") // 12:01
		verify(t, a, k.Key, "", "")
		a.Clock.Advance(time.Hour)
		verify(t, a, k.Key, "", "") // 13:01
		a.Clock.Advance(12 * time.Hour)
		verify(t, a, "stw_u_nothing", "", "") // 01:01 the next day, NOT_FOUND
		verify(t, a, k.Key, "", "")
		flushUsage(t, a.Svc)
		now := a.Clock.Now() // 2026-03-02T01:01:30Z

		type b struct {
			at    time.Time
			total int64
		}
		check := func(what string, rep *steward.KeyUsageReport, n int, want ...b) {
			t.Helper()
			if len(rep.Series) != n {
				t.Fatalf("%s: %d buckets, want %d", what, len(rep.Series), n)
			}
			width := rep.Granularity.Duration()
			for i, x := range rep.Series {
				if i > 0 && !x.At.Equal(rep.Series[i-1].At.Add(width)) || x.ByCode == nil {
					t.Fatalf("%s: bucket %d at %v after %v", what, i, x.At, rep.Series[i-1].At)
				}
			}
			got := []b{}
			for _, x := range rep.Series {
				if x.Total != 0 {
					got = append(got, b{x.At, x.Total})
				}
			}
			if len(got) != len(want) {
				t.Fatalf("%s: non-empty buckets %v, want %v", what, got, want)
			}
			for i := range want {
				if !got[i].at.Equal(want[i].at) || got[i].total != want[i].total {
					t.Fatalf("%s: non-empty buckets %v, want %v", what, got, want)
				}
			}
		}
		h := func(d time.Duration) time.Time { return start.Add(d) }
		all := keysUsage(t, a, steward.KeyUsageInput{})
		if all.Granularity != steward.KeyUsageHour || !all.Until.Equal(now) || !all.Since.Equal(now.Add(-24*time.Hour)) {
			t.Fatalf("defaults: %s from %v until %v", all.Granularity, all.Since, all.Until)
		}
		// From the hour holding since (01:00 on the 1st) to the one holding now (01:00 on the 2nd): 25.
		check("default", all.KeyUsageReport, 25, b{h(0), 3}, b{h(time.Hour), 1}, b{h(13 * time.Hour), 2})
		check("one key by minute", keyUsage(t, a, steward.KeyUsageInput{KeyID: k.ID, Granularity: steward.KeyUsageMinute,
			Since: tp(h(0)), Until: tp(h(2 * time.Minute))}), 2, b{h(0), 1}, b{h(time.Minute), 2})
		day := keyUsage(t, a, steward.KeyUsageInput{KeyID: k.ID, Granularity: steward.KeyUsageDay,
			Since: tp(h(-12 * time.Hour)), Until: tp(now)})
		check("one key by day", day, 2, b{h(-12 * time.Hour), 4}, b{h(12 * time.Hour), 1})
		if day.Series[0].ByCode[steward.VerifyValid] != 4 || len(day.Series[1].ByCode) != 1 {
			t.Fatalf("by code: %v %v", day.Series[0].ByCode, day.Series[1].ByCode)
		}
		// until is exclusive: a range ending on a bucket edge has no bucket after it.
		check("until on an edge", keyUsage(t, a, steward.KeyUsageInput{KeyID: k.ID, Granularity: steward.KeyUsageHour,
			Since: tp(h(0)), Until: tp(h(time.Hour))}), 1, b{h(0), 3})
		check("NOT_FOUND", keysUsage(t, a, steward.KeyUsageInput{Code: steward.VerifyNotFound, Granularity: steward.KeyUsageDay,
			Since: tp(h(0)), Until: tp(now)}).KeyUsageReport, 2, b{h(12 * time.Hour), 1})
	})
}

func TestKeyUsageBadInput(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		u := a.User(steward.RoleUser)
		k, err := a.Svc.Keys.CreateKey(apptest.System(), &steward.KeyCreate{Name: "k", Type: steward.KeyUser, UserID: u.ID})
		if err != nil {
			t.Fatal(err)
		}
		now := a.Clock.Now()
		for _, c := range []struct {
			in    steward.KeyUsageInput
			field string
		}{
			{steward.KeyUsageInput{Granularity: "week"}, "granularity"},
			{steward.KeyUsageInput{Code: "valid"}, "code"},
			{steward.KeyUsageInput{Since: tp(now), Until: tp(now)}, "until"},
			{steward.KeyUsageInput{Since: tp(now.Add(time.Hour))}, "until"},
			{steward.KeyUsageInput{Granularity: steward.KeyUsageMinute, Since: tp(now.Add(-24*time.Hour - time.Microsecond))}, "since"},
			{steward.KeyUsageInput{Since: tp(now.Add(-62*24*time.Hour - time.Second))}, "since"},
			{steward.KeyUsageInput{Granularity: steward.KeyUsageDay, Since: tp(now.AddDate(-1, 0, -2))}, "since"},
			{steward.KeyUsageInput{Since: tp(time.Date(1969, 12, 31, 23, 0, 0, 0, time.UTC)), Until: tp(time.Unix(0, 0))}, "since"},
			{steward.KeyUsageInput{Since: tp(time.Date(9999, 12, 31, 23, 0, 0, 0, time.UTC)), Until: tp(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC))}, "until"},
		} {
			for _, id := range []string{"", k.ID} {
				in := c.in
				in.KeyID = id
				var err error
				if id == "" {
					_, err = a.Svc.KeyUsage.KeysUsage(apptest.System(), &in)
				} else {
					_, err = a.Svc.KeyUsage.KeyUsage(apptest.System(), &in)
				}
				var e *steward.Error
				if !errors.As(err, &e) || e.Code != steward.CodeValidation || e.Details["fields"].(map[string]any)[c.field] == nil {
					t.Errorf("%+v: %v, want VALIDATION_FAILED naming %s", in, err, c.field)
				}
			}
		}
		// The widest ranges allowed.
		for _, in := range []steward.KeyUsageInput{
			{Granularity: steward.KeyUsageMinute, Since: tp(now.Add(-24 * time.Hour))},
			{Granularity: steward.KeyUsageHour, Since: tp(now.Add(-62 * 24 * time.Hour))},
			{Granularity: steward.KeyUsageDay, Since: tp(now.Add(-366 * 24 * time.Hour))},
		} {
			rep := keysUsage(t, a, in)
			if n := len(rep.Series); n > 1500 {
				t.Errorf("%s: %d buckets", in.Granularity, n)
			}
		}
		if _, err := a.Svc.KeyUsage.KeyUsage(apptest.System(), &steward.KeyUsageInput{KeyID: "key_nope"}); code(err) != steward.CodeNotFound {
			t.Errorf("unknown key: %v", err)
		}
		if _, err := a.Svc.KeyUsage.KeysUsage(apptest.As(u), &steward.KeyUsageInput{}); code(err) != steward.CodeForbidden {
			t.Errorf("an end user: %v", err)
		}
	})
}

// The retention run prunes counts older than the key_usage retention
// (--key-usage-retention by default) and keeps the rest; a purged key's
// counts go with it.
func TestKeyUsageRetention(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		u := a.User(steward.RoleUser)
		k, err := a.Svc.Keys.CreateKey(apptest.System(), &steward.KeyCreate{Name: "k", Type: steward.KeyUser, UserID: u.ID})
		if err != nil {
			t.Fatal(err)
		}
		first := a.Clock.Now()
		verify(t, a, k.Key, "", "")
		flushUsage(t, a.Svc)
		a.Clock.Advance(2 * 24 * time.Hour)
		verify(t, a, k.Key, "", "")
		verify(t, a, "stw_u_nothing", "", "")
		flushUsage(t, a.Svc)
		a.Clock.Advance(2*24*time.Hour + time.Minute)
		in := steward.KeyUsageInput{Granularity: steward.KeyUsageDay, Since: tp(first), Until: tp(a.Clock.Now())}
		if got := keysUsage(t, a, in).Total; got != 3 {
			t.Fatalf("before pruning: %d", got)
		}
		// The default retention (90 days) keeps everything.
		if err := a.Svc.Maintain(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := keysUsage(t, a, in).Total; got != 3 {
			t.Fatalf("after Maintain with 90 days: %d", got)
		}
		short := service.New(service.Config{Store: a.Store, Now: a.Clock.Now, KeyUsageRetention: 3 * 24 * time.Hour})
		run, err := short.Retention.RunRetention(apptest.System())
		if err != nil {
			t.Fatal(err)
		}
		if n := run.Tables["key_usage"].Purged; n != 1 {
			t.Fatalf("pruning at 3 days: %d; want 1", n)
		}
		if got := keysUsage(t, a, in).Totals; got[steward.VerifyValid] != 1 || got[steward.VerifyNotFound] != 1 {
			t.Fatalf("after pruning: %v", nonZero(got))
		}
		if err := a.Svc.Users.PurgeUser(apptest.System(), u.ID, "gone"); err != nil {
			t.Fatal(err)
		}
		if got := keysUsage(t, a, in).Totals; got[steward.VerifyValid] != 0 || got[steward.VerifyNotFound] != 1 {
			t.Fatalf("after purging the key's owner: %v", nonZero(got))
		}
		if _, err := a.Svc.KeyUsage.KeyUsage(apptest.System(), &steward.KeyUsageInput{KeyID: k.ID}); code(err) != steward.CodeNotFound {
			t.Fatalf("a purged key: %v", err)
		}
	})
}
