package service

import (
	"context"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// Series implements steward.SeriesService: the per-period overview read
// from the hourly buckets and per-tenant months the store's triggers keep
// (series.go, billing.go, series_check.go), and the active-user log
// (activity.go).
type Series struct {
	*core
	overview *Overview // the gauges a dashboard shows beside its series
}

var _ steward.SeriesService = (*Series)(nil)

// activitySettle is how long after a day's last hour ends its active users
// are counted for good: replicas flush activity every KeyUseFlushInterval,
// so by then every replica that is up has written that day's.
const activitySettle = time.Minute

// maxZoneName bounds a tz parameter before it reaches the zone database.
const maxZoneName = 64

// zone resolves an IANA zone name; "" is UTC. "Local" is refused: it would
// be the server's zone, which clients cannot know.
func zone(name string) (*time.Location, bool) {
	if name == "" {
		return time.UTC, true
	}
	if len(name) > maxZoneName || name == "Local" {
		return nil, false
	}
	loc, err := time.LoadLocation(name)
	return loc, err == nil
}

// ceilHour is the first UTC hour boundary at or after t.
func ceilHour(t time.Time) time.Time {
	h := t.UTC().Truncate(time.Hour)
	if h.Before(t) {
		h = h.Add(time.Hour)
	}
	return h
}

// dayCut is one calendar day in a zone and the UTC hour buckets that count
// for it: those whose start falls within the day. In a zone whose offset
// is a whole number of hours that is exactly the day; otherwise (Asia/
// Kolkata, +05:30) the day's figures run from its first whole UTC hour, up
// to 59 minutes after its midnight, to the same point of the next day.
type dayCut struct {
	date     string
	from, to time.Time // UTC hour boundaries
}

// dayCuts returns the n days of loc ending with now's, oldest first.
func dayCuts(now time.Time, loc *time.Location, n int) []dayCut {
	y, m, d := now.In(loc).Date()
	out := make([]dayCut, n)
	for i := range n {
		day := d - (n - 1 - i)
		start, end := time.Date(y, m, day, 0, 0, 0, 0, loc), time.Date(y, m, day+1, 0, 0, 0, 0, loc)
		out[i] = dayCut{date: start.Format(time.DateOnly), from: ceilHour(start), to: ceilHour(end)}
	}
	return out
}

// dayOf is the day a bucket counts for in loc: the day its hour starts in.
func dayOf(hour time.Time, loc *time.Location) string { return hour.In(loc).Format(time.DateOnly) }

var (
	creditSeries = []string{store.SeriesCreditsGranted, store.SeriesCreditsDeducted, store.SeriesCreditsRefunded,
		store.SeriesCreditsExpired, store.SeriesCreditsAdjusted}
	usageSeries = []string{store.SeriesUsageEvents, store.SeriesUsageQuantity, store.SeriesUsageCost}
)

// PeriodFigures implements steward.SeriesService.
func (s *Series) PeriodFigures(ctx context.Context, loc *time.Location) (*steward.PeriodFigures, error) {
	if _, err := authorize(ctx, steward.PermStatsRead); err != nil {
		return nil, err
	}
	if loc == nil {
		loc = time.UTC
	}
	now := s.now()
	local := now.In(loc)
	y, m, d := local.Date()
	monthStart, monthEnd := time.Date(y, m, 1, 0, 0, 0, 0, loc), time.Date(y, m+1, 1, 0, 0, 0, 0, loc)
	month, err := s.store.SeriesTotals(ctx, append(append([]string{}, creditSeries...), usageSeries...),
		ceilHour(monthStart), ceilHour(monthEnd))
	if err != nil {
		return nil, err
	}
	today, err := s.store.SeriesTotals(ctx, []string{store.SeriesSessions},
		ceilHour(time.Date(y, m, d, 0, 0, 0, 0, loc)), ceilHour(time.Date(y, m, d+1, 0, 0, 0, 0, loc)))
	if err != nil {
		return nil, err
	}
	f := &steward.PeriodFigures{Usage: steward.UsageStats{ByMetric: map[string]steward.MetricUsage{}},
		Month: local.Format("2006-01"), Today: local.Format(time.DateOnly), TZ: loc.String()}
	for _, t := range today {
		f.SessionsStartedToday += t.Value
	}
	for _, t := range month {
		c, u := &f.Credits, &f.Usage
		switch t.Name {
		case store.SeriesCreditsGranted:
			c.Granted += t.Value
		case store.SeriesCreditsDeducted:
			c.Deducted += t.Value
		case store.SeriesCreditsRefunded:
			c.Refunded += t.Value
		case store.SeriesCreditsExpired:
			c.Expired += t.Value
		case store.SeriesCreditsAdjusted:
			c.Adjusted += t.Value
		default:
			mu := u.ByMetric[t.Key]
			switch t.Name {
			case store.SeriesUsageEvents:
				u.Events, mu.Events = u.Events+t.Value, mu.Events+t.Value
			case store.SeriesUsageQuantity:
				u.Quantity, mu.Quantity = u.Quantity+t.Value, mu.Quantity+t.Value
			case store.SeriesUsageCost:
				u.CostMicros, mu.CostMicros = u.CostMicros+t.Value, mu.CostMicros+t.Value
			}
			u.ByMetric[t.Key] = mu
		}
	}
	f.Credits.Used = f.Credits.Deducted - f.Credits.Refunded
	for k, mu := range f.Usage.ByMetric {
		if mu == (steward.MetricUsage{}) {
			delete(f.Usage.ByMetric, k) // every event of it was purged
		}
	}
	return f, nil
}

// Dashboard implements steward.SeriesService.
func (s *Series) Dashboard(ctx context.Context, days int, tz string) (*steward.Dashboard, error) {
	if _, err := authorize(ctx, steward.PermStatsRead); err != nil {
		return nil, err
	}
	fe := steward.FieldErrors{}
	if days == 0 {
		days = steward.DefaultDashboardDays
	}
	if days < 1 || days > steward.MaxDashboardDays {
		fe.Add("days", "must be between 1 and 365")
	}
	loc, ok := zone(tz)
	if !ok {
		fe.Add("tz", "must be an IANA time zone name such as UTC or Europe/Paris")
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	now := s.now()
	cuts := dayCuts(now, loc, days)
	index := make(map[string]int, days)
	zeros := func() []steward.DayValue {
		v := make([]steward.DayValue, days)
		for i, c := range cuts {
			v[i].Date = c.date
		}
		return v
	}
	for i, c := range cuts {
		index[c.date] = i
	}
	ser := steward.DashboardSeries{Signups: zeros(), ActiveUsers: zeros(), SessionsStarted: zeros(),
		CreditsGranted: zeros(), CreditsUsed: zeros(), UsageEvents: zeros(), UsageCostMicros: zeros(),
		UsageQuantity: map[string][]steward.DayValue{}, UsageByMetric: map[string][]steward.DayValue{}}
	byMetric := func(m map[string][]steward.DayValue, metric string) []steward.DayValue {
		if m[metric] == nil {
			m[metric] = zeros()
		}
		return m[metric]
	}
	sums, err := s.daySums(ctx, loc, cuts, now)
	if err != nil {
		return nil, err
	}
	for day, list := range sums {
		i := index[day]
		for _, v := range list {
			switch v.Name {
			case store.SeriesSignups:
				ser.Signups[i].Value += v.Value
			case store.SeriesSessions:
				ser.SessionsStarted[i].Value += v.Value
			case store.SeriesCreditsGranted:
				ser.CreditsGranted[i].Value += v.Value
			case store.SeriesCreditsDeducted:
				ser.CreditsUsed[i].Value += v.Value
			case store.SeriesCreditsRefunded:
				ser.CreditsUsed[i].Value -= v.Value
			case store.SeriesUsageEvents:
				ser.UsageEvents[i].Value += v.Value
				byMetric(ser.UsageByMetric, v.Key)[i].Value += v.Value
			case store.SeriesUsageQuantity:
				byMetric(ser.UsageQuantity, v.Key)[i].Value += v.Value
			case store.SeriesUsageCost:
				ser.UsageCostMicros[i].Value += v.Value
			}
		}
	}
	if err := s.activeUsers(ctx, loc, cuts, now, ser.ActiveUsers); err != nil {
		return nil, err
	}
	stats, err := s.overview.Stats(ctx, loc)
	if err != nil {
		return nil, err
	}
	return &steward.Dashboard{Stats: stats, Series: ser, Days: days, TZ: loc.String(), GeneratedAt: now}, nil
}

// dashboardSeries are the buckets the dashboard sums.
var dashboardSeries = append([]string{store.SeriesSignups, store.SeriesSessions, store.SeriesCreditsGranted,
	store.SeriesCreditsDeducted, store.SeriesCreditsRefunded}, usageSeries...)

// memoChunk bounds the days one transaction remembers: on PostgreSQL its
// lock holds bucket writers back while it reads them.
const memoChunk = 31

// daySums returns each day's sums of the dashboard's series. A day the
// zone has remembered is read back (about 14 rows); the others are summed
// from their buckets, and those closed before the previous hour (whose
// shards are folded) are remembered, so a dashboard sums the buckets of
// about one day. Any change to a remembered day's buckets forgets it.
func (s *Series) daySums(ctx context.Context, loc *time.Location, cuts []dayCut, now time.Time) (map[string][]store.SeriesTotal, error) {
	tz := loc.String()
	out, err := s.store.SeriesMemo(ctx, tz, cuts[0].date, cuts[len(cuts)-1].date)
	if err != nil {
		return nil, err
	}
	var missing []dayCut
	for _, c := range cuts {
		if _, ok := out[c.date]; !ok {
			missing = append(missing, c)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	hours, err := s.store.HourlySeries(ctx, dashboardSeries, missing[0].from, missing[len(missing)-1].to)
	if err != nil {
		return nil, err
	}
	for day, sums := range sumByDay(hours, loc, missing) {
		out[day] = sums
	}
	settled := now.Truncate(time.Hour).Add(-time.Hour)
	var closed []dayCut
	for _, c := range missing {
		if !c.to.After(settled) {
			closed = append(closed, c)
		}
	}
	for len(closed) > 0 {
		chunk := closed[:min(len(closed), memoChunk)]
		closed = closed[len(chunk):]
		err := s.update(ctx, func(tx store.Tx) error {
			// Summed again under the lock: what is remembered is what the
			// buckets held when it commits.
			if err := tx.LockSeriesMemo(ctx); err != nil {
				return err
			}
			hours, err := tx.HourlySeries(ctx, dashboardSeries, chunk[0].from, chunk[len(chunk)-1].to)
			if err != nil {
				return err
			}
			sums := sumByDay(hours, loc, chunk)
			memo := make([]store.MemoDay, len(chunk))
			for i, c := range chunk {
				memo[i] = store.MemoDay{DayRange: store.DayRange{Day: c.date, From: c.from, To: c.to}, Values: sums[c.date]}
			}
			return tx.SaveSeriesMemo(ctx, tz, memo)
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// sumByDay sums hourly buckets into the days of cuts they count for, by
// series and key, leaving out zero sums.
func sumByDay(hours []store.HourlyValue, loc *time.Location, cuts []dayCut) map[string][]store.SeriesTotal {
	want := make(map[string]bool, len(cuts))
	for _, c := range cuts {
		want[c.date] = true
	}
	type nk struct{ name, key string }
	sums := map[string]map[nk]int64{}
	for _, h := range hours {
		day := dayOf(h.Hour, loc)
		if !want[day] {
			continue
		}
		if sums[day] == nil {
			sums[day] = map[nk]int64{}
		}
		sums[day][nk{h.Name, h.Key}] += h.Value
	}
	out := make(map[string][]store.SeriesTotal, len(cuts))
	for _, c := range cuts {
		list := []store.SeriesTotal{}
		for k, v := range sums[c.date] {
			if v != 0 {
				list = append(list, store.SeriesTotal{Name: k.name, Key: k.key, Value: v})
			}
		}
		out[c.date] = list
	}
	return out
}

// activeUsers fills out with the distinct active users of each day. A day
// remembered for the zone is read back; any other is counted from the
// activity log, and remembered once it has closed and settled, so a
// dashboard counts only today (and days not yet settled) live.
func (s *Series) activeUsers(ctx context.Context, loc *time.Location, cuts []dayCut, now time.Time, out []steward.DayValue) error {
	tz := loc.String()
	memo, err := s.store.ActiveDays(ctx, tz, cuts[0].date, cuts[len(cuts)-1].date)
	if err != nil {
		return err
	}
	closed := map[string]int64{}
	for i, c := range cuts {
		if n, ok := memo[c.date]; ok {
			out[i].Value = n
			continue
		}
		// Today runs to now: its active users are those whose latest
		// activity is since it began, an index range count.
		count := func() (int64, error) { return s.store.ActiveUsers(ctx, c.from, c.to) }
		if now.Before(c.to) {
			count = func() (int64, error) { return s.store.ActiveSince(ctx, c.from) }
		}
		n, err := count()
		if err != nil {
			return err
		}
		out[i].Value = n
		if !now.Before(c.to.Add(activitySettle)) {
			closed[c.date] = n
		}
	}
	if len(closed) == 0 {
		return nil
	}
	return s.update(ctx, func(tx store.Tx) error { return tx.SaveActiveDays(ctx, tz, closed) })
}
