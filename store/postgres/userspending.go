package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

func (q *queries) GetUserCaps(ctx context.Context, userID string) (_ steward.UserCaps, err error) {
	defer wrapErr(&err, "get user caps")
	var c steward.UserCaps
	err = q.q.QueryRow(ctx, "SELECT monthly_cap, daily_cap, session_cap FROM user_spending_caps WHERE user_id = $1",
		userID).Scan(&c.MonthlyCap, &c.DailyCap, &c.SessionCap)
	if errors.Is(err, pgx.ErrNoRows) {
		return steward.UserCaps{}, nil
	}
	return c, mapErr(err)
}

func (q *queries) GetUserSpend(ctx context.Context, tenantID, userID string) (_ *steward.UserSpendCounter, err error) {
	defer wrapErr(&err, "get user spend")
	c := &steward.UserSpendCounter{TenantID: tenantID, UserID: userID}
	err = q.q.QueryRow(ctx, `SELECT day_start, day_spent, month_start, month_spent FROM user_spend
		WHERE tenant_id = $1 AND user_id = $2`+q.forUpdate(), tenantID, userID).
		Scan(&c.DayStart, &c.DaySpent, &c.MonthStart, &c.MonthSpent)
	if err != nil {
		return nil, mapErr(err)
	}
	c.DayStart, c.MonthStart = c.DayStart.UTC(), c.MonthStart.UTC()
	return c, nil
}

func (q *queries) GetSessionSpend(ctx context.Context, tenantID, userID, sessionID string) (_ int64, err error) {
	defer wrapErr(&err, "get session spend")
	var n int64
	err = q.q.QueryRow(ctx, `SELECT spent FROM user_session_spend
		WHERE tenant_id = $1 AND user_id = $2 AND session_id = $3`+q.forUpdate(), tenantID, userID, sessionID).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return n, mapErr(err)
}

func (t *tx) SetUserCaps(ctx context.Context, userID string, c steward.UserCaps, now time.Time) (err error) {
	defer wrapErr(&err, "set user caps")
	if c == (steward.UserCaps{}) {
		_, err = t.q.Exec(ctx, "DELETE FROM user_spending_caps WHERE user_id = $1", userID)
	} else {
		_, err = t.q.Exec(ctx, `INSERT INTO user_spending_caps (user_id, monthly_cap, daily_cap, session_cap, updated_at)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id) DO UPDATE SET monthly_cap = excluded.monthly_cap,
			daily_cap = excluded.daily_cap, session_cap = excluded.session_cap, updated_at = excluded.updated_at`,
			userID, c.MonthlyCap, c.DailyCap, c.SessionCap, now)
	}
	return mapErr(err)
}

func (t *tx) PutUserSpend(ctx context.Context, c *steward.UserSpendCounter) (err error) {
	defer wrapErr(&err, "put user spend")
	_, err = t.q.Exec(ctx, `INSERT INTO user_spend (tenant_id, user_id, day_start, day_spent, month_start, month_spent)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, user_id) DO UPDATE SET day_start = excluded.day_start,
		day_spent = excluded.day_spent, month_start = excluded.month_start, month_spent = excluded.month_spent`,
		c.TenantID, c.UserID, c.DayStart, c.DaySpent, c.MonthStart, c.MonthSpent)
	return mapErr(err)
}

func (t *tx) PutSessionSpend(ctx context.Context, tenantID, userID, sessionID string, spent int64, now time.Time) (err error) {
	defer wrapErr(&err, "put session spend")
	_, err = t.q.Exec(ctx, `INSERT INTO user_session_spend (tenant_id, user_id, session_id, spent, updated_at)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, user_id, session_id) DO UPDATE SET spent = excluded.spent,
		updated_at = excluded.updated_at`, tenantID, userID, sessionID, spent, now)
	return mapErr(err)
}

func (q *queries) ListSpendingTenants(ctx context.Context) (_ []store.CappedTenant, err error) {
	defer wrapErr(&err, "list spending tenants")
	rows, err := q.q.Query(ctx, "SELECT "+tenantCols+" FROM tenants WHERE status <> 'deleted' ORDER BY id")
	tenants, err := collectAll(rows, err, scanTenant)
	if err != nil {
		return nil, err
	}
	rows, err = q.q.Query(ctx, "SELECT "+creditAccountCols+" FROM credit_accounts WHERE tenant_id IN "+
		"(SELECT id FROM tenants WHERE status <> 'deleted')")
	accounts, err := collectAll(rows, err, scanCreditAccount)
	if err != nil {
		return nil, err
	}
	return store.JoinAccounts(tenants, accounts), nil
}
