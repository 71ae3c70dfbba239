package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

func (q queries) GetUserCaps(ctx context.Context, userID string) (steward.UserCaps, error) {
	var m, d, s sql.NullInt64
	err := q.db.QueryRowContext(ctx, "SELECT monthly_cap, daily_cap, session_cap FROM user_spending_caps WHERE user_id = ?",
		userID).Scan(&m, &d, &s)
	if errors.Is(err, sql.ErrNoRows) {
		return steward.UserCaps{}, nil
	}
	if err != nil {
		return steward.UserCaps{}, fmt.Errorf("sqlite: get user caps: %w", err)
	}
	return steward.UserCaps{MonthlyCap: int64Ptr(m), DailyCap: int64Ptr(d), SessionCap: int64Ptr(s)}, nil
}

func (q queries) GetUserSpend(ctx context.Context, tenantID, userID string) (*steward.UserSpendCounter, error) {
	c := &steward.UserSpendCounter{TenantID: tenantID, UserID: userID}
	var day, month int64
	err := q.db.QueryRowContext(ctx, `SELECT day_start, day_spent, month_start, month_spent FROM user_spend
		WHERE tenant_id = ? AND user_id = ?`, tenantID, userID).Scan(&day, &c.DaySpent, &month, &c.MonthSpent)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get user spend: %w", err)
	}
	c.DayStart, c.MonthStart = fromMicros(day), fromMicros(month)
	return c, nil
}

func (q queries) GetSessionSpend(ctx context.Context, tenantID, userID, sessionID string) (int64, error) {
	var n int64
	err := q.db.QueryRowContext(ctx, `SELECT spent FROM user_session_spend
		WHERE tenant_id = ? AND user_id = ? AND session_id = ?`, tenantID, userID, sessionID).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("sqlite: get session spend: %w", err)
	}
	return n, nil
}

func (t *tx) SetUserCaps(ctx context.Context, userID string, c steward.UserCaps, now time.Time) error {
	var err error
	if c == (steward.UserCaps{}) {
		_, err = t.tx.ExecContext(ctx, "DELETE FROM user_spending_caps WHERE user_id = ?", userID)
	} else {
		_, err = t.tx.ExecContext(ctx, `INSERT INTO user_spending_caps (user_id, monthly_cap, daily_cap, session_cap, updated_at)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET monthly_cap = excluded.monthly_cap,
			daily_cap = excluded.daily_cap, session_cap = excluded.session_cap, updated_at = excluded.updated_at`,
			userID, c.MonthlyCap, c.DailyCap, c.SessionCap, micros(now))
	}
	if err != nil {
		return fmt.Errorf("sqlite: set user caps: %w", err)
	}
	return nil
}

func (t *tx) PutUserSpend(ctx context.Context, c *steward.UserSpendCounter) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO user_spend (tenant_id, user_id, day_start, day_spent, month_start, month_spent)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id, user_id) DO UPDATE SET day_start = excluded.day_start,
		day_spent = excluded.day_spent, month_start = excluded.month_start, month_spent = excluded.month_spent`,
		c.TenantID, c.UserID, micros(c.DayStart), c.DaySpent, micros(c.MonthStart), c.MonthSpent)
	if err != nil {
		return fmt.Errorf("sqlite: put user spend: %w", err)
	}
	return nil
}

func (t *tx) PutSessionSpend(ctx context.Context, tenantID, userID, sessionID string, spent int64, now time.Time) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO user_session_spend (tenant_id, user_id, session_id, spent, updated_at)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant_id, user_id, session_id) DO UPDATE SET spent = excluded.spent,
		updated_at = excluded.updated_at`, tenantID, userID, sessionID, spent, micros(now))
	if err != nil {
		return fmt.Errorf("sqlite: put session spend: %w", err)
	}
	return nil
}

func (q queries) ListSpendingTenants(ctx context.Context) ([]store.CappedTenant, error) {
	tenants, err := queryAll(ctx, q.db, scanTenant, "SELECT "+tenantColumns+" FROM tenants WHERE status <> 'deleted' ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("sqlite: list spending tenants: %w", err)
	}
	accounts, err := queryAll(ctx, q.db, scanCreditAccount, "SELECT "+creditAccountColumns+
		" FROM credit_accounts WHERE tenant_id IN (SELECT id FROM tenants WHERE status <> 'deleted')")
	if err != nil {
		return nil, fmt.Errorf("sqlite: list spending tenants: %w", err)
	}
	return store.JoinAccounts(tenants, accounts), nil
}
