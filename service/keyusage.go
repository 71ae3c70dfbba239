package service

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// KeyUsage implements steward.KeyUsageService: key verifications over time
// by outcome code. Every verification (POST /platform/keys/verify, and an
// admin or platform key presented as a credential) is counted in memory per
// (key, UTC minute, code); FlushKeyUsage writes the counts in one
// transaction on the cadence of last_used_at, so a verification never
// writes to the database itself. A crash loses at most the counts of one
// flush interval on that replica, and a flush that fails drops its counts.
type KeyUsage struct {
	*core
	counts keyUsageCounts
}

var _ steward.KeyUsageService = (*KeyUsage)(nil)

// DefaultKeyUsageRetention is how long counts are kept when
// Config.KeyUsageRetention is 0: the default of the retention's key_usage
// data set, which prunes them (retention.go).
const DefaultKeyUsageRetention = 90 * 24 * time.Hour

// keyUsageTopKeys is how many keys a report over many keys ranks.
const keyUsageTopKeys = 10

// maxKeyUsageSpan bounds a report's range per granularity, so that a
// series has at most about 1,500 buckets.
var maxKeyUsageSpan = map[steward.KeyUsageGranularity]struct {
	d    time.Duration
	text string
}{
	steward.KeyUsageMinute: {24 * time.Hour, "24 hours"},
	steward.KeyUsageHour:   {62 * 24 * time.Hour, "62 days"},
	steward.KeyUsageDay:    {366 * 24 * time.Hour, "366 days"},
}

type keyUsageKey struct {
	keyID  string // "" for NOT_FOUND
	minute int64  // unix minutes
	code   string
}

type keyUsageValue struct {
	tenantID string
	n        int64
}

// keyUsageCounts is what verifications counted since the last flush. It
// holds one entry per key, minute and code seen in one flush interval:
// NOT_FOUND, whatever text was tried, is one entry a minute.
type keyUsageCounts struct {
	mu sync.Mutex
	m  map[keyUsageKey]*keyUsageValue
}

// count records one verification's outcome at now.
func (c *keyUsageCounts) count(res *steward.VerifyResult, now time.Time) {
	k := keyUsageKey{keyID: res.KeyID, minute: now.Unix() / 60, code: res.Code}
	c.mu.Lock()
	// One lookup on the common path; an entry is allocated once per key,
	// minute and code.
	v := c.m[k]
	if v == nil {
		if c.m == nil {
			c.m = map[keyUsageKey]*keyUsageValue{}
		}
		v = &keyUsageValue{tenantID: res.TenantID}
		c.m[k] = v
	}
	v.n++
	c.mu.Unlock()
}

func (c *keyUsageCounts) take() []steward.KeyUsageCount {
	c.mu.Lock()
	m := c.m
	c.m = nil
	c.mu.Unlock()
	out := make([]steward.KeyUsageCount, 0, len(m))
	for k, v := range m {
		out = append(out, steward.KeyUsageCount{KeyID: k.keyID, TenantID: v.tenantID,
			Minute: time.Unix(k.minute*60, 0).UTC(), Code: k.code, Count: v.n})
	}
	return out
}

// checkKey is decideKey (keyverify.go) with its outcome counted. A store
// error is no outcome, so it is not counted.
func (s *Keys) checkKey(ctx context.Context, text, ip string, scope steward.Permission) (*steward.VerifyResult, *steward.APIKey, *steward.KeyOwner, time.Duration, error) {
	res, k, owner, retry, err := s.decideKey(ctx, text, ip, scope)
	if err == nil {
		s.usage.counts.count(res, s.now())
	}
	return res, k, owner, retry, err
}

// FlushKeyUsage writes the counts taken since the last flush, adding them to
// what other replicas wrote. Bookkeeping, not audited. serve calls it every
// KeyUseFlushInterval and at shutdown.
func (s *KeyUsage) FlushKeyUsage(ctx context.Context) error {
	counts := s.counts.take()
	if len(counts) == 0 {
		return nil
	}
	return s.update(ctx, func(tx store.Tx) error { return tx.RecordKeyUsage(ctx, counts) })
}

// KeyUsage implements steward.KeyUsageService.
func (s *KeyUsage) KeyUsage(ctx context.Context, in *steward.KeyUsageInput) (*steward.KeyUsageReport, error) {
	if _, err := authorize(ctx, steward.PermKeysRead); err != nil {
		return nil, err
	}
	r, err := s.usageQuery(in)
	if err != nil {
		return nil, err
	}
	if _, err := s.store.GetAPIKey(ctx, in.KeyID); err != nil {
		return nil, notFound(err, "api key", in.KeyID)
	}
	r.q.KeyID, r.rep.KeyID = in.KeyID, in.KeyID
	if err := s.fill(ctx, r); err != nil {
		return nil, err
	}
	return r.rep, nil
}

// KeysUsage implements steward.KeyUsageService.
func (s *KeyUsage) KeysUsage(ctx context.Context, in *steward.KeyUsageInput) (*steward.KeysUsageReport, error) {
	if _, err := authorize(ctx, steward.PermKeysRead); err != nil {
		return nil, err
	}
	r, err := s.usageQuery(in)
	if err != nil {
		return nil, err
	}
	r.q.KeyID, r.q.TenantID = in.KeyID, in.TenantID
	r.rep.KeyID, r.rep.TenantID = in.KeyID, in.TenantID
	if err := s.fill(ctx, r); err != nil {
		return nil, err
	}
	top, err := s.store.KeyUsageTopKeys(ctx, r.q, keyUsageTopKeys)
	if err != nil {
		return nil, err
	}
	return &steward.KeysUsageReport{KeyUsageReport: r.rep, TopKeys: top}, nil
}

// usageQuery validates in's range, granularity and code and fills the
// defaults: granularity hour, until now, since until − 24 h. The range
// widens to whole buckets: from the one holding since to the one holding
// the instant before until (the one holding now by default).
func (s *KeyUsage) usageQuery(in *steward.KeyUsageInput) (*keyUsageRange, error) {
	fe := steward.FieldErrors{}
	q := steward.KeyUsageQuery{Granularity: cmp.Or(in.Granularity, steward.KeyUsageHour), Code: in.Code}
	width := q.Granularity.Duration()
	if width == 0 {
		fe.Add("granularity", "must be one of minute, hour, day")
	}
	if q.Code != "" && !slices.Contains(steward.VerifyCodes, q.Code) {
		fe.Add("code", "must be one of VALID, NOT_FOUND, REVOKED, EXPIRED, DISABLED, IP_NOT_ALLOWED, "+
			"RATE_LIMITED, OWNER_INACTIVE, INSUFFICIENT_SCOPE")
	}
	until := s.now()
	if in.Until != nil {
		until = in.Until.UTC()
	}
	since := until.Add(-24 * time.Hour)
	if in.Since != nil {
		since = in.Since.UTC()
	}
	for field, t := range map[string]time.Time{"since": since, "until": until} {
		if msg := steward.CheckTime(t); msg != "" {
			fe.Add(field, msg)
		}
	}
	switch span, ok := maxKeyUsageSpan[q.Granularity]; {
	case fe["since"] != "" || fe["until"] != "":
	case !until.After(since):
		fe.Add("until", "must be after since")
	case ok && until.Sub(since) > span.d:
		fe.Add("since", "a range at "+string(q.Granularity)+" granularity spans at most "+span.text)
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	rep := &steward.KeyUsageReport{Code: q.Code, Granularity: q.Granularity, Since: since, Until: until}
	q.Since = since.Truncate(width)
	// The last bucket holds the instant before until, or now itself when
	// until is the default, so that what was just counted is in it.
	last := until.Add(-time.Microsecond)
	if in.Until == nil {
		last = until
	}
	q.Until = last.Truncate(width).Add(width)
	return &keyUsageRange{q: q, rep: rep}, nil
}

// keyUsageRange is a validated request: the store's query over whole
// buckets, and the report's heading (since and until as asked).
type keyUsageRange struct {
	q   steward.KeyUsageQuery
	rep *steward.KeyUsageReport
}

// fill reads r's series into its report, every bucket present.
func (s *KeyUsage) fill(ctx context.Context, r *keyUsageRange) error {
	q, rep := r.q, r.rep
	points, err := s.store.KeyUsageSeries(ctx, q)
	if err != nil {
		return err
	}
	rep.Totals = map[string]int64{}
	if q.Code != "" {
		rep.Totals[q.Code] = 0
	} else {
		for _, c := range steward.VerifyCodes {
			rep.Totals[c] = 0
		}
	}
	width := q.Granularity.Duration()
	rep.Series = make([]steward.KeyUsageBucket, q.Until.Sub(q.Since)/width)
	for i := range rep.Series {
		rep.Series[i] = steward.KeyUsageBucket{At: q.Since.Add(time.Duration(i) * width), ByCode: map[string]int64{}}
	}
	for _, p := range points {
		b := &rep.Series[p.At.Sub(q.Since)/width]
		b.ByCode[p.Code] += p.Count
		b.Total += p.Count
		rep.Totals[p.Code] += p.Count
		rep.Total += p.Count
	}
	return nil
}
