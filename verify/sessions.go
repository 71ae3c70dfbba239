package verify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"

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
	body, err := json.Marshal(steward.SessionVerifyRequest{Token: token, Method: method})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+sessionVerifyPath, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.platformKey)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	raw, status, hdr, err := c.do(req)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, apiError(status, hdr, raw)
	}
	var res steward.SessionVerifyResult
	if err := json.Unmarshal(raw, &res); err != nil {
		return nil, fmt.Errorf("verify: decoding Steward's session verify answer: %w", err)
	}
	return &res, nil
}
