package sqlite

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/stewardhq/steward"
)

// usersByIDsSQL takes the ids as one JSON array, so the statement is the
// same however many there are and no variable limit applies; each id is a
// lookup in the unique index on id.
var usersByIDsSQL = "SELECT " + userColumns + " FROM users u WHERE u.id IN (SELECT value FROM json_each(?))"

func (q queries) ListUsersByIDs(ctx context.Context, ids []string) ([]*steward.User, error) {
	if len(ids) == 0 {
		return []*steward.User{}, nil
	}
	list, err := json.Marshal(ids)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list users by ids: %w", err)
	}
	users, err := queryUsers(ctx, q.db, usersByIDsSQL, string(list))
	if err != nil {
		return nil, fmt.Errorf("sqlite: list users by ids: %w", err)
	}
	return users, nil
}
