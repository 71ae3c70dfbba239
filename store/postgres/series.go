package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// The recount of the hourly buckets and of the per-tenant monthly rows from
// the rows they describe: what migration 00009 backfilled, what doctor
// compares and what a repair writes.
const (
	recountHourlySQL = `
SELECT 'signups' AS name, '' AS key, date_trunc('hour', created_at, 'UTC') AS hour, COUNT(*) AS value
FROM users GROUP BY 3
UNION ALL
SELECT 'sessions.started', '', date_trunc('hour', created_at, 'UTC'), COUNT(*) FROM sessions GROUP BY 3
UNION ALL
SELECT credit_series(kind), '', date_trunc('hour', created_at, 'UTC'),
    SUM(CASE WHEN kind IN ('deduct', 'expire') THEN -amount ELSE amount END)
FROM credit_entries GROUP BY 1, 3
UNION ALL
SELECT n.name, metric, date_trunc('hour', occurred_at, 'UTC'),
    SUM(CASE n.name WHEN 'usage.events' THEN 1 WHEN 'usage.quantity' THEN quantity ELSE cost_micros END)
FROM usage_events, (VALUES ('usage.events'), ('usage.quantity'), ('usage.cost_micros')) AS n (name)
GROUP BY 1, 2, 3`

	recountMonthlySQL = `
SELECT tenant_id, month, SUM(g) AS g, SUM(u) AS u, SUM(e) AS e, SUM(q) AS q, SUM(c) AS c FROM (
    SELECT tenant_id, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM') AS month,
        CASE kind WHEN 'grant' THEN amount ELSE 0 END AS g, CASE kind WHEN 'grant' THEN 0 ELSE -amount END AS u,
        0 AS e, 0 AS q, 0 AS c
    FROM credit_entries WHERE kind IN ('grant', 'deduct', 'refund')
    UNION ALL
    SELECT tenant_id, to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM'), 0, 0, 1, quantity, cost_micros
    FROM usage_events) AS x
GROUP BY tenant_id, month`

	driftHourlySQL = `
SELECT name, key, hour, SUM(s)::bigint, SUM(r)::bigint FROM (
    SELECT name, key, hour, value AS s, 0 AS r FROM stat_hourly
    UNION ALL
    SELECT name, key, hour, 0, value FROM (` + recountHourlySQL + `) AS rc) AS x
GROUP BY name, key, hour HAVING SUM(s) <> SUM(r) ORDER BY name, key, hour`

	driftMonthlySQL = `
SELECT tenant_id, month, SUM(sg)::bigint, SUM(g)::bigint, SUM(su)::bigint, SUM(u)::bigint, SUM(se)::bigint,
    SUM(e)::bigint, SUM(sq)::bigint, SUM(q)::bigint, SUM(sc)::bigint, SUM(c)::bigint FROM (
    SELECT tenant_id, month, credits_granted AS sg, credits_used AS su, usage_events AS se, usage_quantity AS sq,
        usage_cost_micros AS sc, 0 AS g, 0 AS u, 0 AS e, 0 AS q, 0 AS c
    FROM tenant_monthly
    UNION ALL
    SELECT tenant_id, month, 0, 0, 0, 0, 0, g, u, e, q, c FROM (` + recountMonthlySQL + `) AS rc) AS y
GROUP BY tenant_id, month
HAVING SUM(sg) <> SUM(g) OR SUM(su) <> SUM(u) OR SUM(se) <> SUM(e) OR SUM(sq) <> SUM(q) OR SUM(sc) <> SUM(c)
ORDER BY tenant_id, month`

	driftLastActiveSQL = `
SELECT hour, SUM(s)::bigint, SUM(r)::bigint FROM (
    SELECT hour, users AS s, 0 AS r FROM user_last_active_hours
    UNION ALL
    SELECT hour, 0, COUNT(*) FROM user_last_active GROUP BY hour) AS x
GROUP BY hour HAVING SUM(s) <> SUM(r) ORDER BY hour`
)

func (q *queries) HourlySeries(ctx context.Context, names []string, from, to time.Time) (_ []store.HourlyValue, err error) {
	defer wrapErr(&err, "hourly series")
	rows, err := q.q.Query(ctx, `SELECT name, key, hour, SUM(value)::bigint FROM stat_hourly
		WHERE name = ANY($1) AND hour >= $2 AND hour < $3 GROUP BY name, hour, key`, names, from, to)
	return collectAll(rows, err, func(r pgx.Row) (store.HourlyValue, error) {
		var v store.HourlyValue
		err := r.Scan(&v.Name, &v.Key, &v.Hour, &v.Value)
		v.Hour = v.Hour.UTC()
		return v, err
	})
}

func (q *queries) SeriesTotals(ctx context.Context, names []string, from, to time.Time) (_ []store.SeriesTotal, err error) {
	defer wrapErr(&err, "series totals")
	rows, err := q.q.Query(ctx, `SELECT name, key, SUM(value)::bigint FROM stat_hourly
		WHERE name = ANY($1) AND hour >= $2 AND hour < $3 GROUP BY name, key`, names, from, to)
	return collectAll(rows, err, func(r pgx.Row) (store.SeriesTotal, error) {
		var v store.SeriesTotal
		return v, r.Scan(&v.Name, &v.Key, &v.Value)
	})
}

const tenantMonthCols = "tenant_id, credits_granted, credits_used, usage_events, usage_quantity, usage_cost_micros"

func scanTenantMonth(r pgx.Row) (store.TenantMonth, error) {
	var m store.TenantMonth
	return m, r.Scan(&m.TenantID, &m.CreditsGranted, &m.CreditsUsed, &m.UsageEvents, &m.UsageQuantity, &m.UsageCostMicros)
}

// topTenantsSQL: by usage, the month's range of tenant_monthly_usage,
// largest first; by credits used, the month's rows through the same index,
// sorted (00025 dropped the credits index so that ledger writes update the
// row in place).
var topTenantsSQL = map[string]string{
	store.TopByUsage: "SELECT " + tenantMonthCols + " FROM tenant_monthly WHERE month = $1 AND usage_events > 0 " +
		"ORDER BY usage_events DESC, tenant_id LIMIT $2",
	store.TopByCreditsUsed: "SELECT " + tenantMonthCols + " FROM tenant_monthly WHERE month = $1 AND credits_used > 0 " +
		"ORDER BY credits_used DESC, tenant_id LIMIT $2",
}

func (q *queries) TopTenants(ctx context.Context, month, order string, n int) (_ []store.TenantMonth, err error) {
	defer wrapErr(&err, "top tenants")
	query, ok := topTenantsSQL[order]
	if !ok {
		return nil, errors.New("unknown order " + order)
	}
	rows, err := q.q.Query(ctx, query, month, n)
	return collectAll(rows, err, scanTenantMonth)
}

func (q *queries) MonthTotals(ctx context.Context, month string) (_ store.TenantMonth, err error) {
	defer wrapErr(&err, "month totals")
	return scanTenantMonth(q.q.QueryRow(ctx, `SELECT '', COALESCE(SUM(credits_granted), 0)::bigint,
		COALESCE(SUM(credits_used), 0)::bigint, COALESCE(SUM(usage_events), 0)::bigint,
		COALESCE(SUM(usage_quantity), 0)::bigint, COALESCE(SUM(usage_cost_micros), 0)::bigint
		FROM tenant_monthly WHERE month = $1`, month))
}

func (q *queries) ActiveUsers(ctx context.Context, from, to time.Time) (n int64, err error) {
	defer wrapErr(&err, "active users")
	err = q.q.QueryRow(ctx, "SELECT COUNT(DISTINCT user_id) FROM user_activity WHERE hour >= $1 AND hour < $2",
		from, to).Scan(&n)
	return n, err
}

func (q *queries) ActiveSince(ctx context.Context, from time.Time) (n int64, err error) {
	defer wrapErr(&err, "active since")
	err = q.q.QueryRow(ctx, "SELECT COALESCE(SUM(users), 0)::bigint FROM user_last_active_hours WHERE hour >= $1", from).Scan(&n)
	return n, err
}

func (q *queries) ActiveDays(ctx context.Context, tz, from, to string) (_ map[string]int64, err error) {
	defer wrapErr(&err, "active days")
	rows, err := q.q.Query(ctx, "SELECT day, users FROM active_days WHERE tz = $1 AND day >= $2 AND day <= $3",
		tz, from, to)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var (
			day string
			n   int64
		)
		if err := rows.Scan(&day, &n); err != nil {
			return nil, err
		}
		out[day] = n
	}
	return out, rows.Err()
}

func (q *queries) OutstandingCredits(ctx context.Context) (n int64, err error) {
	defer wrapErr(&err, "outstanding credits")
	err = q.q.QueryRow(ctx, "SELECT COALESCE(SUM(balance), 0)::bigint FROM credit_accounts").Scan(&n)
	return n, err
}

func (q *queries) CountTenantsByPlan(ctx context.Context) (_ []store.PlanStatusCount, err error) {
	defer wrapErr(&err, "count tenants by plan")
	rows, err := q.q.Query(ctx, "SELECT plan, status, COUNT(*) FROM tenants GROUP BY plan, status")
	return collectAll(rows, err, func(r pgx.Row) (store.PlanStatusCount, error) {
		var (
			c      store.PlanStatusCount
			status string
		)
		err := r.Scan(&c.Plan, &status, &c.Count)
		c.Status = steward.TenantStatus(status)
		return c, err
	})
}

func (q *queries) ListCappedTenants(ctx context.Context) (_ []store.CappedTenant, err error) {
	defer wrapErr(&err, "list capped tenants")
	const capped = "status <> 'deleted' AND (monthly_cap IS NOT NULL OR daily_cap IS NOT NULL)"
	rows, err := q.q.Query(ctx, "SELECT "+tenantCols+" FROM tenants WHERE "+capped+" ORDER BY id")
	tenants, err := collectAll(rows, err, scanTenant)
	if err != nil {
		return nil, err
	}
	rows, err = q.q.Query(ctx, "SELECT "+creditAccountCols+" FROM credit_accounts WHERE tenant_id IN "+
		"(SELECT id FROM tenants WHERE "+capped+")")
	accounts, err := collectAll(rows, err, scanCreditAccount)
	if err != nil {
		return nil, err
	}
	return store.JoinAccounts(tenants, accounts), nil
}

func (q *queries) GetBillingSnapshot(ctx context.Context, month string) (_ *store.BillingSnapshot, err error) {
	defer wrapErr(&err, "get billing snapshot")
	s := store.BillingSnapshot{Month: month}
	if err := q.q.QueryRow(ctx, "SELECT plans, taken_at FROM billing_snapshots WHERE month = $1", month).
		Scan(&s.Plans, &s.TakenAt); err != nil {
		return nil, err
	}
	s.TakenAt = s.TakenAt.UTC()
	return &s, nil
}

func (q *queries) RecountSeries(ctx context.Context) (_ []steward.CounterDrift, err error) {
	defer wrapErr(&err, "recount series")
	rows, err := q.q.Query(ctx, driftHourlySQL)
	hourly, err := collectAll(rows, err, func(r pgx.Row) (steward.CounterDrift, error) {
		var (
			d         steward.CounterDrift
			name, key string
			hour      time.Time
		)
		err := r.Scan(&name, &key, &hour, &d.Stored, &d.Recounted)
		d.Counter, d.Key = "stat_hourly."+name, key+"@"+hour.UTC().Format(time.RFC3339)
		return d, err
	})
	if err != nil {
		return nil, err
	}
	rows, err = q.q.Query(ctx, driftMonthlySQL)
	monthly, err := collectAll(rows, err, func(r pgx.Row) ([]steward.CounterDrift, error) {
		var (
			tenant, month string
			v             [10]int64
		)
		if err := r.Scan(&tenant, &month, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]); err != nil {
			return nil, err
		}
		return store.MonthlyDrift(tenant, month, v), nil
	})
	if err != nil {
		return nil, err
	}
	for _, m := range monthly {
		hourly = append(hourly, m...)
	}
	rows, err = q.q.Query(ctx, driftLastActiveSQL)
	active, err := collectAll(rows, err, func(r pgx.Row) (steward.CounterDrift, error) {
		var (
			d    steward.CounterDrift
			hour time.Time
		)
		err := r.Scan(&hour, &d.Stored, &d.Recounted)
		d.Counter, d.Key = "user_last_active_hours", hour.UTC().Format(time.RFC3339)
		return d, err
	})
	if err != nil {
		return nil, err
	}
	return append(hourly, active...), nil
}

// RecordActivity sends its pairs in one batch.
func (t *tx) RecordActivity(ctx context.Context, users []string, hours []time.Time) (err error) {
	defer wrapErr(&err, "record activity")
	if len(users) == 0 {
		return nil
	}
	bt, ok := t.q.(batcher)
	if !ok {
		return errors.New("transaction cannot send batches")
	}
	b := &pgx.Batch{}
	for i, u := range users {
		b.Queue(`INSERT INTO user_activity (hour, user_id) SELECT $1, id FROM users WHERE id = $2
			ON CONFLICT (hour, user_id) DO NOTHING`, hours[i], u)
		b.Queue(`INSERT INTO user_last_active (user_id, hour) SELECT id, $1 FROM users WHERE id = $2
			ON CONFLICT (user_id) DO UPDATE SET hour = EXCLUDED.hour WHERE EXCLUDED.hour > user_last_active.hour`, hours[i], u)
	}
	return bt.SendBatch(ctx, b).Close()
}

func (t *tx) SaveActiveDays(ctx context.Context, tz string, days map[string]int64) (err error) {
	defer wrapErr(&err, "save active days")
	for day, n := range days {
		if _, err := t.q.Exec(ctx, `INSERT INTO active_days (tz, day, users) VALUES ($1, $2, $3)
			ON CONFLICT (tz, day) DO UPDATE SET users = EXCLUDED.users`, tz, day, n); err != nil {
			return err
		}
	}
	return nil
}

func (t *tx) SaveBillingSnapshot(ctx context.Context, s *store.BillingSnapshot) (_ bool, err error) {
	defer wrapErr(&err, "save billing snapshot")
	tag, err := t.q.Exec(ctx, `INSERT INTO billing_snapshots (month, plans, taken_at) VALUES ($1, $2, $3)
		ON CONFLICT (month) DO NOTHING`, s.Month, string(s.Plans), s.TakenAt)
	return tag.RowsAffected() == 1, err
}

// RebuildSeries locks both tables first, so no writer's trigger adds to a
// bucket between the delete and the recount.
func (t *tx) RebuildSeries(ctx context.Context) (err error) {
	defer wrapErr(&err, "rebuild series")
	for _, stmt := range []string{
		"LOCK TABLE stat_hourly, tenant_monthly, user_last_active_hours IN EXCLUSIVE MODE",
		"DELETE FROM stat_hourly",
		"INSERT INTO stat_hourly (name, key, hour, shard, value) SELECT name, key, hour, 0, value FROM (" +
			recountHourlySQL + ") AS rc WHERE value <> 0",
		"DELETE FROM tenant_monthly",
		"INSERT INTO tenant_monthly (tenant_id, month, credits_granted, credits_used, usage_events, usage_quantity, " +
			"usage_cost_micros) SELECT tenant_id, month, g, u, e, q, c FROM (" + recountMonthlySQL + ") AS rc",
		"DELETE FROM user_last_active_hours",
		"INSERT INTO user_last_active_hours (hour, users) SELECT hour, COUNT(*) FROM user_last_active GROUP BY hour",
	} {
		if _, err := t.q.Exec(ctx, stmt); err != nil {
			return err
		}
	}
	return nil
}

// CompactSeries moves the sum of the other shards into shard 0 in one
// statement, through the partial index of rows outside shard 0.
func (t *tx) CompactSeries(ctx context.Context, before time.Time) (_ int64, err error) {
	defer wrapErr(&err, "compact series")
	var n int64
	err = t.q.QueryRow(ctx, `WITH moved AS (
		DELETE FROM stat_hourly WHERE shard <> 0 AND hour < $1 RETURNING name, key, hour, value
	), folded AS (
		INSERT INTO stat_hourly (name, key, hour, shard, value)
		SELECT name, key, hour, 0, SUM(value) FROM moved GROUP BY name, key, hour
		ON CONFLICT (name, hour, key, shard) DO UPDATE SET value = stat_hourly.value + EXCLUDED.value
	)
	SELECT COUNT(*) FROM moved`, before).Scan(&n)
	return n, err
}

func (q *queries) SeriesMemo(ctx context.Context, tz, from, to string) (_ map[string][]store.SeriesTotal, err error) {
	defer wrapErr(&err, "series memo")
	// Two range reads of the primary keys rather than a join, whose plan
	// would depend on statistics taken before the tables filled.
	rows, err := q.q.Query(ctx, "SELECT day FROM series_memo_days WHERE tz = $1 AND day >= $2 AND day <= $3", tz, from, to)
	days, err := collectAll(rows, err, func(r pgx.Row) (string, error) {
		var d string
		return d, r.Scan(&d)
	})
	if err != nil || len(days) == 0 {
		return map[string][]store.SeriesTotal{}, err
	}
	out := make(map[string][]store.SeriesTotal, len(days))
	for _, d := range days {
		out[d] = []store.SeriesTotal{}
	}
	rows, err = q.q.Query(ctx, "SELECT day, name, key, value FROM series_memo WHERE tz = $1 AND day >= $2 AND day <= $3",
		tz, from, to)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			day string
			v   store.SeriesTotal
		)
		if err := rows.Scan(&day, &v.Name, &v.Key, &v.Value); err != nil {
			return nil, err
		}
		if list, ok := out[day]; ok {
			out[day] = append(list, v)
		}
	}
	return out, rows.Err()
}

// LockSeriesMemo conflicts with the ROW EXCLUSIVE lock the buckets'
// trigger takes to forget days: a writer that has changed a bucket holds
// it until it commits, so the lock waits for it (and the reads after it
// see its change); a writer that comes later waits until this transaction
// commits, and then forgets what it saved if its change falls in it.
// Writers stall only while a dashboard remembers new days.
func (t *tx) LockSeriesMemo(ctx context.Context) (err error) {
	defer wrapErr(&err, "lock series memo")
	_, err = t.q.Exec(ctx, "LOCK TABLE series_memo_days IN SHARE ROW EXCLUSIVE MODE")
	return err
}

func (t *tx) SaveSeriesMemo(ctx context.Context, tz string, days []store.MemoDay) (err error) {
	defer wrapErr(&err, "save series memo")
	for _, d := range days {
		if _, err := t.q.Exec(ctx, "DELETE FROM series_memo_days WHERE tz = $1 AND day = $2", tz, d.Day); err != nil {
			return err
		}
		if _, err := t.q.Exec(ctx, "INSERT INTO series_memo_days (tz, day, from_hour, to_hour) VALUES ($1, $2, $3, $4)",
			tz, d.Day, d.From, d.To); err != nil {
			return err
		}
		for _, v := range d.Values {
			if _, err := t.q.Exec(ctx, "INSERT INTO series_memo (tz, day, name, key, value) VALUES ($1, $2, $3, $4, $5)",
				tz, d.Day, v.Name, v.Key, v.Value); err != nil {
				return err
			}
		}
	}
	return nil
}
