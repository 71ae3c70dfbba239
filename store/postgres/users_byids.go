package postgres

import (
	"context"

	"github.com/stewardhq/steward"
)

// ListUsersByIDs looks each id up in the primary key; unknown ids match nothing.
func (q *queries) ListUsersByIDs(ctx context.Context, ids []string) (_ []*steward.User, err error) {
	defer wrapErr(&err, "list users by ids")
	if len(ids) == 0 {
		return []*steward.User{}, nil
	}
	return collectUsers(q.q.Query(ctx, "SELECT "+userCols+" FROM users WHERE id = ANY($1)", ids))
}
