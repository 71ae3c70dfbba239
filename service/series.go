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
type Series struct{ *core }

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
	hours, err := s.store.HourlySeries(ctx, append([]string{store.SeriesSignups, store.SeriesSessions,
		store.SeriesCreditsGranted, store.SeriesCreditsDeducted, store.SeriesCreditsRefunded}, usageSeries...),
		cuts[0].from, cuts[days-1].to)
	if err != nil {
		return nil, err
	}
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
	for _, h := range hours {
		i, ok := index[dayOf(h.Hour, loc)]
		if !ok || h.Value == 0 {
			continue
		}
		switch h.Name {
		case store.SeriesSignups:
			ser.Signups[i].Value += h.Value
		case store.SeriesSessions:
			ser.SessionsStarted[i].Value += h.Value
		case store.SeriesCreditsGranted:
			ser.CreditsGranted[i].Value += h.Value
		case store.SeriesCreditsDeducted:
			ser.CreditsUsed[i].Value += h.Value
		case store.SeriesCreditsRefunded:
			ser.CreditsUsed[i].Value -= h.Value
		case store.SeriesUsageEvents:
			ser.UsageEvents[i].Value += h.Value
			byMetric(ser.UsageByMetric, h.Key)[i].Value += h.Value
		case store.SeriesUsageQuantity:
			byMetric(ser.UsageQuantity, h.Key)[i].Value += h.Value
		case store.SeriesUsageCost:
			ser.UsageCostMicros[i].Value += h.Value
		}
	}
	if err := s.activeUsers(ctx, loc, cuts, now, ser.ActiveUsers); err != nil {
		return nil, err
	}
	return &steward.Dashboard{Series: ser, Days: days, TZ: loc.String(), GeneratedAt: now}, nil
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
