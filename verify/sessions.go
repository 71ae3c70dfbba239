package verify

import (
	"context"

	"github.com/stewardhq/steward"
)

const sessionVerifyPath = "/api/v1/platform/sessions/verify"

// VerifySession asks Steward about a session token or an access JWT: the
// same answer as POST /api/v1/platform/sessions/verify (always a result for
// the token, with its code; an error only for the call itself). method,
// when given, is the HTTP method of the request the token came with: an
// unsafe one under a read-only impersonation gives
// IMPERSONATION_WRITE_DENIED. The platform key needs the sessions:verify
// scope.
//
// Nothing is cached: every call reads Steward's database, so a logout,
// suspension or stopped impersonation is seen on the very next call (the
// staleness bound is 0). Use VerifyAccessToken where a local check of the
// JWT, bounded by its 15-minute lifetime, is enough.
func (c *Client) VerifySession(ctx context.Context, token, method string) (*steward.SessionVerifyResult, error) {
	var res steward.SessionVerifyResult
	if err := c.post(ctx, sessionVerifyPath, steward.SessionVerifyRequest{Token: token, Method: method}, &res, "session verify"); err != nil {
		return nil, err
	}
	return &res, nil
}
