package service_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/stewardhq/steward/internal/apptest"
	"github.com/stewardhq/steward/internal/testdb"
)

// seedSeriesYear fills a year of hourly buckets (16 series, three usage
// metrics) ending at the app's current hour, as folded past hours are (one
// row per bucket; on PostgreSQL the current hour in 16 shards), and marks
// users active today (their latest active hour).
func seedSeriesYear(b *testing.B, a *apptest.App, activeToday int) {
	b.Helper()
	now := a.Clock.Now().Truncate(time.Hour)
	const series = `('signups', ''), ('sessions.started', ''), ('credits.granted', ''), ('credits.deducted', ''),
		('credits.refunded', ''), ('credits.expired', ''), ('credits.adjusted', ''),
		('usage.events', 'tokens'), ('usage.quantity', 'tokens'), ('usage.cost_micros', 'tokens'),
		('usage.events', 'images'), ('usage.quantity', 'images'), ('usage.cost_micros', 'images'),
		('usage.events', 'requests'), ('usage.quantity', 'requests'), ('usage.cost_micros', 'requests')`
	switch a.Backend.Name {
	case "sqlite":
		a.Backend.Exec(b, a.Store, `WITH RECURSIVE h(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM h WHERE i < 8760)
			INSERT INTO stat_hourly (name, key, hour, shard, value)
			SELECT n.column1, n.column2, ? - i * 3600000000, 0, 1 + i % 7 FROM h, (VALUES `+series+`) AS n WHERE true`,
			now.UnixMicro())
		a.Backend.Exec(b, a.Store, "PRAGMA foreign_keys = OFF")
		a.Backend.Exec(b, a.Store, `WITH RECURSIVE u(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM u WHERE i < ?)
			INSERT INTO user_last_active (user_id, hour) SELECT printf('usr_%020d', i), ? FROM u`, activeToday, now.UnixMicro())
		a.Backend.Exec(b, a.Store, "PRAGMA foreign_keys = ON")
		a.Backend.Exec(b, a.Store, "ANALYZE")
	case "postgres":
		a.Backend.Exec(b, a.Store, `INSERT INTO stat_hourly (name, key, hour, shard, value)
			SELECT n.name, n.key, $1::timestamptz - i * interval '1 hour', 0, 1 + i % 7
			FROM generate_series(1, 8760) AS i, (VALUES `+series+`) AS n (name, key)`, now)
		a.Backend.Exec(b, a.Store, `INSERT INTO stat_hourly (name, key, hour, shard, value)
			SELECT n.name, n.key, $1, s, 1 FROM generate_series(1, 15) AS s, (VALUES `+series+`) AS n (name, key)`, now)
		a.Backend.Exec(b, a.Store, "ALTER TABLE user_last_active DROP CONSTRAINT user_last_active_user_fkey")
		a.Backend.Exec(b, a.Store, `INSERT INTO user_last_active (user_id, hour)
			SELECT 'usr_' || i, $1 FROM generate_series(1, $2::int) AS i`, now, activeToday)
		a.Backend.Exec(b, a.Store, "ANALYZE")
	}
}

// BenchmarkDashboard: the dashboard and the period figures over a year of
// buckets with 100,000 users active today; their cost does not depend on
// how many users, sessions or ledger rows there are.
func BenchmarkDashboard(b *testing.B) {
	for _, be := range testdb.Backends(b) {
		b.Run(be.Name, func(b *testing.B) {
			a := apptest.New(b, be)
			a.Clock.Advance(400 * 24 * time.Hour)
			seedSeriesYear(b, a, 100_000)
			ctx := apptest.System()
			for _, days := range []int{30, 365} {
				b.Run("days="+strconv.Itoa(days), func(b *testing.B) {
					if _, err := a.Svc.Series.Dashboard(ctx, days, "Europe/Paris"); err != nil {
						b.Fatal(err) // the first call remembers the closed days' active users
					}
					b.ResetTimer()
					for b.Loop() {
						if _, err := a.Svc.Series.Dashboard(ctx, days, "Europe/Paris"); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
			b.Run("period", func(b *testing.B) {
				loc, _ := time.LoadLocation("Europe/Paris")
				for b.Loop() {
					if _, err := a.Svc.Series.PeriodFigures(ctx, loc); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
