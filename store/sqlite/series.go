package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// The recount of the hourly buckets and of the per-tenant monthly rows from
// the rows they describe: what migration 00009 backfilled, what doctor
// compares and what a repair writes.
const (
	recountHourlySQL = `
SELECT 'signups' AS name, '' AS key, created_at - created_at % 3600000000 AS hour, COUNT(*) AS value
FROM users GROUP BY 3
UNION ALL
SELECT 'sessions.started', '', created_at - created_at % 3600000000, COUNT(*) FROM sessions GROUP BY 3
UNION ALL
SELECT 'credits.' || CASE kind WHEN 'grant' THEN 'granted' WHEN 'deduct' THEN 'deducted'
        WHEN 'refund' THEN 'refunded' WHEN 'expire' THEN 'expired' ELSE 'adjusted' END,
    '', created_at - created_at % 3600000000, SUM(CASE WHEN kind IN ('deduct', 'expire') THEN -amount ELSE amount END)
FROM credit_entries GROUP BY 1, 3
UNION ALL
SELECT n.name, metric, occurred_at - occurred_at % 3600000000,
    SUM(CASE n.name WHEN 'usage.events' THEN 1 WHEN 'usage.quantity' THEN quantity ELSE cost_micros END)
FROM usage_events, (SELECT 'usage.events' AS name UNION ALL SELECT 'usage.quantity' UNION ALL SELECT 'usage.cost_micros') n
GROUP BY 1, 2, 3`

	recountMonthlySQL = `
SELECT tenant_id, month, SUM(g) AS g, SUM(u) AS u, SUM(e) AS e, SUM(q) AS q, SUM(c) AS c FROM (
    SELECT tenant_id, strftime('%Y-%m', created_at / 1000000, 'unixepoch') AS month,
        CASE kind WHEN 'grant' THEN amount ELSE 0 END AS g, CASE kind WHEN 'grant' THEN 0 ELSE -amount END AS u,
        0 AS e, 0 AS q, 0 AS c
    FROM credit_entries WHERE kind IN ('grant', 'deduct', 'refund')
    UNION ALL
    SELECT tenant_id, strftime('%Y-%m', occurred_at / 1000000, 'unixepoch'), 0, 0, 1, quantity, cost_micros
    FROM usage_events)
GROUP BY tenant_id, month`

	driftHourlySQL = `
SELECT name, key, hour, SUM(s), SUM(r) FROM (
    SELECT name, key, hour, value AS s, 0 AS r FROM stat_hourly
    UNION ALL
    SELECT name, key, hour, 0, value FROM (` + recountHourlySQL + `))
GROUP BY name, key, hour HAVING SUM(s) <> SUM(r) ORDER BY name, key, hour`

	driftMonthlySQL = `
SELECT tenant_id, month, SUM(sg), SUM(g), SUM(su), SUM(u), SUM(se), SUM(e), SUM(sq), SUM(q), SUM(sc), SUM(c) FROM (
    SELECT tenant_id, month, credits_granted AS sg, credits_used AS su, usage_events AS se, usage_quantity AS sq,
        usage_cost_micros AS sc, 0 AS g, 0 AS u, 0 AS e, 0 AS q, 0 AS c
    FROM tenant_monthly
    UNION ALL
    SELECT tenant_id, month, 0, 0, 0, 0, 0, g, u, e, q, c FROM (` + recountMonthlySQL + `))
GROUP BY tenant_id, month
HAVING SUM(sg) <> SUM(g) OR SUM(su) <> SUM(u) OR SUM(se) <> SUM(e) OR SUM(sq) <> SUM(q) OR SUM(sc) <> SUM(c)
ORDER BY tenant_id, month`

	driftLastActiveSQL = `
SELECT hour, SUM(s), SUM(r) FROM (
    SELECT hour, users AS s, 0 AS r FROM user_last_active_hours
    UNION ALL
    SELECT hour, 0, COUNT(*) FROM user_last_active GROUP BY hour)
GROUP BY hour HAVING SUM(s) <> SUM(r) ORDER BY hour`
)

// seriesNames renders names as the placeholders of an IN list and its args.
func seriesNames(names []string) (string, []any) {
	args := make([]any, len(names))
	for i, n := range names {
		args[i] = n
	}
	return strings.TrimSuffix(strings.Repeat("?, ", len(names)), ", "), args
}

func (q queries) HourlySeries(ctx context.Context, names []string, from, to time.Time) ([]store.HourlyValue, error) {
	in, args := seriesNames(names)
	list, err := queryAll(ctx, q.db, func(sc scanner) (store.HourlyValue, error) {
		var (
			v    store.HourlyValue
			hour int64
		)
		err := sc.Scan(&v.Name, &v.Key, &hour, &v.Value)
		v.Hour = fromMicros(hour)
		return v, err
	}, "SELECT name, key, hour, SUM(value) FROM stat_hourly WHERE name IN ("+in+") AND hour >= ? AND hour < ? "+
		"GROUP BY name, hour, key", append(args, micros(from), micros(to))...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: hourly series: %w", err)
	}
	return list, nil
}

func (q queries) SeriesTotals(ctx context.Context, names []string, from, to time.Time) ([]store.SeriesTotal, error) {
	in, args := seriesNames(names)
	list, err := queryAll(ctx, q.db, func(sc scanner) (store.SeriesTotal, error) {
		var v store.SeriesTotal
		return v, sc.Scan(&v.Name, &v.Key, &v.Value)
	}, "SELECT name, key, SUM(value) FROM stat_hourly WHERE name IN ("+in+") AND hour >= ? AND hour < ? "+
		"GROUP BY name, key", append(args, micros(from), micros(to))...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: series totals: %w", err)
	}
	return list, nil
}

const tenantMonthCols = "tenant_id, credits_granted, credits_used, usage_events, usage_quantity, usage_cost_micros"

func scanTenantMonth(sc scanner) (store.TenantMonth, error) {
	var m store.TenantMonth
	return m, sc.Scan(&m.TenantID, &m.CreditsGranted, &m.CreditsUsed, &m.UsageEvents, &m.UsageQuantity, &m.UsageCostMicros)
}

// topTenantsSQL walks the month's range of one index, largest first.
var topTenantsSQL = map[string]string{
	store.TopByUsage: "SELECT " + tenantMonthCols + " FROM tenant_monthly WHERE month = ? AND usage_events > 0 " +
		"ORDER BY usage_events DESC, tenant_id LIMIT ?",
	store.TopByCreditsUsed: "SELECT " + tenantMonthCols + " FROM tenant_monthly WHERE month = ? AND credits_used > 0 " +
		"ORDER BY credits_used DESC, tenant_id LIMIT ?",
}

func (q queries) TopTenants(ctx context.Context, month, order string, n int) ([]store.TenantMonth, error) {
	query, ok := topTenantsSQL[order]
	if !ok {
		return nil, fmt.Errorf("sqlite: top tenants: unknown order %q", order)
	}
	list, err := queryAll(ctx, q.db, scanTenantMonth, query, month, n)
	if err != nil {
		return nil, fmt.Errorf("sqlite: top tenants: %w", err)
	}
	return list, nil
}

func (q queries) MonthTotals(ctx context.Context, month string) (store.TenantMonth, error) {
	m, err := scanTenantMonth(q.db.QueryRowContext(ctx, "SELECT '', COALESCE(SUM(credits_granted), 0), "+
		"COALESCE(SUM(credits_used), 0), COALESCE(SUM(usage_events), 0), COALESCE(SUM(usage_quantity), 0), "+
		"COALESCE(SUM(usage_cost_micros), 0) FROM tenant_monthly WHERE month = ?", month))
	if err != nil {
		return m, fmt.Errorf("sqlite: month totals: %w", err)
	}
	return m, nil
}

func (q queries) ActiveUsers(ctx context.Context, from, to time.Time) (int64, error) {
	var n int64
	err := q.db.QueryRowContext(ctx, "SELECT COUNT(DISTINCT user_id) FROM user_activity WHERE hour >= ? AND hour < ?",
		micros(from), micros(to)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("sqlite: active users: %w", err)
	}
	return n, nil
}

func (q queries) ActiveSince(ctx context.Context, from time.Time) (int64, error) {
	var n int64
	err := q.db.QueryRowContext(ctx, "SELECT COALESCE(SUM(users), 0) FROM user_last_active_hours WHERE hour >= ?", micros(from)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("sqlite: active since: %w", err)
	}
	return n, nil
}

func (q queries) ActiveDays(ctx context.Context, tz, from, to string) (map[string]int64, error) {
	rows, err := q.db.QueryContext(ctx, "SELECT day, users FROM active_days WHERE tz = ? AND day >= ? AND day <= ?",
		tz, from, to)
	if err != nil {
		return nil, fmt.Errorf("sqlite: active days: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var (
			day string
			n   int64
		)
		if err := rows.Scan(&day, &n); err != nil {
			return nil, fmt.Errorf("sqlite: active days: %w", err)
		}
		out[day] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: active days: %w", err)
	}
	return out, nil
}

func (q queries) OutstandingCredits(ctx context.Context) (int64, error) {
	var n int64
	if err := q.db.QueryRowContext(ctx, "SELECT COALESCE(SUM(balance), 0) FROM credit_accounts").Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: outstanding credits: %w", err)
	}
	return n, nil
}

func (q queries) CountTenantsByPlan(ctx context.Context) ([]store.PlanStatusCount, error) {
	list, err := queryAll(ctx, q.db, func(sc scanner) (store.PlanStatusCount, error) {
		var c store.PlanStatusCount
		return c, sc.Scan(&c.Plan, &c.Status, &c.Count)
	}, "SELECT plan, status, COUNT(*) FROM tenants GROUP BY plan, status")
	if err != nil {
		return nil, fmt.Errorf("sqlite: count tenants by plan: %w", err)
	}
	return list, nil
}

func (q queries) ListCappedTenants(ctx context.Context) ([]store.CappedTenant, error) {
	const capped = "status <> 'deleted' AND (monthly_cap IS NOT NULL OR daily_cap IS NOT NULL)"
	tenants, err := queryAll(ctx, q.db, scanTenant, "SELECT "+tenantColumns+" FROM tenants WHERE "+capped+" ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("sqlite: list capped tenants: %w", err)
	}
	accounts, err := queryAll(ctx, q.db, scanCreditAccount, "SELECT "+creditAccountColumns+
		" FROM credit_accounts WHERE tenant_id IN (SELECT id FROM tenants WHERE "+capped+")")
	if err != nil {
		return nil, fmt.Errorf("sqlite: list capped tenants: %w", err)
	}
	return store.JoinAccounts(tenants, accounts), nil
}

func (q queries) GetBillingSnapshot(ctx context.Context, month string) (*store.BillingSnapshot, error) {
	var (
		s     = store.BillingSnapshot{Month: month}
		plans string
		at    int64
	)
	err := q.db.QueryRowContext(ctx, "SELECT plans, taken_at FROM billing_snapshots WHERE month = ?", month).
		Scan(&plans, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get billing snapshot: %w", err)
	}
	s.Plans, s.TakenAt = []byte(plans), fromMicros(at)
	return &s, nil
}

func (q queries) RecountSeries(ctx context.Context) ([]steward.CounterDrift, error) {
	hourly, err := queryAll(ctx, q.db, func(sc scanner) (steward.CounterDrift, error) {
		var (
			d         steward.CounterDrift
			name, key string
			hour      int64
		)
		err := sc.Scan(&name, &key, &hour, &d.Stored, &d.Recounted)
		d.Counter, d.Key = "stat_hourly."+name, key+"@"+fromMicros(hour).Format(time.RFC3339)
		return d, err
	}, driftHourlySQL)
	if err != nil {
		return nil, fmt.Errorf("sqlite: recount series: %w", err)
	}
	monthly, err := queryAll(ctx, q.db, func(sc scanner) ([]steward.CounterDrift, error) {
		var (
			tenant, month string
			v             [10]int64
		)
		if err := sc.Scan(&tenant, &month, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]); err != nil {
			return nil, err
		}
		return store.MonthlyDrift(tenant, month, v), nil
	}, driftMonthlySQL)
	if err != nil {
		return nil, fmt.Errorf("sqlite: recount series: %w", err)
	}
	for _, m := range monthly {
		hourly = append(hourly, m...)
	}
	active, err := queryAll(ctx, q.db, func(sc scanner) (steward.CounterDrift, error) {
		var (
			d    steward.CounterDrift
			hour int64
		)
		err := sc.Scan(&hour, &d.Stored, &d.Recounted)
		d.Counter, d.Key = "user_last_active_hours", fromMicros(hour).Format(time.RFC3339)
		return d, err
	}, driftLastActiveSQL)
	if err != nil {
		return nil, fmt.Errorf("sqlite: recount series: %w", err)
	}
	return append(hourly, active...), nil
}

// RecordActivity is two statements per pair.
func (t *tx) RecordActivity(ctx context.Context, users []string, hours []time.Time) error {
	for i, u := range users {
		for _, stmt := range []string{
			"INSERT OR IGNORE INTO user_activity (hour, user_id) SELECT ?1, id FROM users WHERE id = ?2",
			"INSERT INTO user_last_active (user_id, hour) SELECT id, ?1 FROM users WHERE id = ?2 " +
				"ON CONFLICT (user_id) DO UPDATE SET hour = excluded.hour WHERE excluded.hour > user_last_active.hour",
		} {
			if _, err := t.tx.ExecContext(ctx, stmt, micros(hours[i]), u); err != nil {
				return fmt.Errorf("sqlite: record activity: %w", err)
			}
		}
	}
	return nil
}

func (t *tx) SaveActiveDays(ctx context.Context, tz string, days map[string]int64) error {
	for day, n := range days {
		if _, err := t.tx.ExecContext(ctx, "INSERT INTO active_days (tz, day, users) VALUES (?, ?, ?) "+
			"ON CONFLICT (tz, day) DO UPDATE SET users = excluded.users", tz, day, n); err != nil {
			return fmt.Errorf("sqlite: save active days: %w", err)
		}
	}
	return nil
}

func (t *tx) SaveBillingSnapshot(ctx context.Context, s *store.BillingSnapshot) (bool, error) {
	res, err := t.tx.ExecContext(ctx, "INSERT INTO billing_snapshots (month, plans, taken_at) VALUES (?, ?, ?) "+
		"ON CONFLICT (month) DO NOTHING", s.Month, string(s.Plans), micros(s.TakenAt))
	if err != nil {
		return false, fmt.Errorf("sqlite: save billing snapshot: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func (t *tx) RebuildSeries(ctx context.Context) error {
	for _, stmt := range []string{
		"DELETE FROM stat_hourly",
		"INSERT INTO stat_hourly (name, key, hour, shard, value) SELECT name, key, hour, 0, value FROM (" +
			recountHourlySQL + ") WHERE value <> 0",
		"DELETE FROM tenant_monthly",
		"INSERT INTO tenant_monthly (tenant_id, month, credits_granted, credits_used, usage_events, usage_quantity, " +
			"usage_cost_micros) SELECT tenant_id, month, g, u, e, q, c FROM (" + recountMonthlySQL + ")",
		"DELETE FROM user_last_active_hours",
		"INSERT INTO user_last_active_hours (hour, users) SELECT hour, COUNT(*) FROM user_last_active GROUP BY hour",
	} {
		if _, err := t.tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("sqlite: rebuild series: %w", err)
		}
	}
	return nil
}

// CompactSeries has nothing to fold: SQLite writes shard 0 only.
func (t *tx) CompactSeries(ctx context.Context, before time.Time) (int64, error) { return 0, nil }

func (q queries) SeriesMemo(ctx context.Context, tz, from, to string) (map[string][]store.SeriesTotal, error) {
	// Two range reads of the primary keys rather than a join, whose plan
	// would depend on statistics taken before the tables filled.
	days, err := queryAll(ctx, q.db, func(sc scanner) (string, error) {
		var d string
		return d, sc.Scan(&d)
	}, "SELECT day FROM series_memo_days WHERE tz = ? AND day >= ? AND day <= ?", tz, from, to)
	if err != nil {
		return nil, fmt.Errorf("sqlite: series memo: %w", err)
	}
	out := make(map[string][]store.SeriesTotal, len(days))
	if len(days) == 0 {
		return out, nil
	}
	for _, d := range days {
		out[d] = []store.SeriesTotal{}
	}
	type dayTotal struct {
		day string
		v   store.SeriesTotal
	}
	list, err := queryAll(ctx, q.db, func(sc scanner) (dayTotal, error) {
		var x dayTotal
		return x, sc.Scan(&x.day, &x.v.Name, &x.v.Key, &x.v.Value)
	}, "SELECT day, name, key, value FROM series_memo WHERE tz = ? AND day >= ? AND day <= ?", tz, from, to)
	if err != nil {
		return nil, fmt.Errorf("sqlite: series memo: %w", err)
	}
	for _, x := range list {
		if l, ok := out[x.day]; ok {
			out[x.day] = append(l, x.v)
		}
	}
	return out, nil
}

// LockSeriesMemo does nothing: this transaction holds the only writer.
func (t *tx) LockSeriesMemo(ctx context.Context) error { return nil }

func (t *tx) SaveSeriesMemo(ctx context.Context, tz string, days []store.MemoDay) error {
	for _, d := range days {
		if _, err := t.tx.ExecContext(ctx, "DELETE FROM series_memo_days WHERE tz = ? AND day = ?", tz, d.Day); err != nil {
			return fmt.Errorf("sqlite: save series memo: %w", err)
		}
		if _, err := t.tx.ExecContext(ctx, "INSERT INTO series_memo_days (tz, day, from_hour, to_hour) VALUES (?, ?, ?, ?)",
			tz, d.Day, micros(d.From), micros(d.To)); err != nil {
			return fmt.Errorf("sqlite: save series memo: %w", err)
		}
		for _, v := range d.Values {
			if _, err := t.tx.ExecContext(ctx, "INSERT INTO series_memo (tz, day, name, key, value) VALUES (?, ?, ?, ?, ?)",
				tz, d.Day, v.Name, v.Key, v.Value); err != nil {
				return fmt.Errorf("sqlite: save series memo: %w", err)
			}
		}
	}
	return nil
}
