package verify

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stewardhq/steward"
)

// CodeImpersonationWriteDenied is the error code of an unsafe request made
// under a read-only impersonation (403).
const CodeImpersonationWriteDenied = steward.CodeImpersonationWriteDenied

// Principal kinds.
const (
	KindKey     = "key"     // an API key verified by Steward
	KindSession = "session" // an access token verified locally
)

// Principal is who a request authenticated by the middleware came from.
type Principal struct {
	Kind     string // KindKey or KindSession
	UserID   string // the key's owner, or the token's subject
	TenantID string
	// Keys only.
	KeyID   string
	KeyType steward.KeyType
	Scopes  []steward.Permission
	// Sessions only.
	Role           steward.Role // the user's role when the token was minted
	SessionID      string
	ImpersonatorID string // the operator acting as the user, else ""
	ReadOnly       bool   // a read-only impersonation
}

type principalKey struct{}

// PrincipalFrom returns the principal the middleware put in ctx, or nil.
func PrincipalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// WithPrincipal returns ctx carrying p, as the middleware does; handy in a
// product's own handler tests.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// MiddlewareOption configures Middleware.
type MiddlewareOption func(*middleware)

// RequireScope sends scope with every key verification, so a key without
// it is refused with 403 (INSUFFICIENT_SCOPE). Access tokens carry no
// scopes and are not affected: a session is the user themself.
func RequireScope(scope string) MiddlewareOption {
	return func(m *middleware) { m.scope = scope }
}

// TrustedIPHeader names a header set by the product's own reverse proxy
// (X-Real-IP, X-Forwarded-For) to take the caller's address from, for keys
// with allowed_ips. For a list, the last entry — the one the nearest proxy
// added — is used. Without the header, or when it holds no address, the
// connection's remote address is used. Only set this behind a proxy that
// overwrites or appends to the header: otherwise callers choose their address.
func TrustedIPHeader(name string) MiddlewareOption {
	return func(m *middleware) { m.ipHeader = name }
}

// KeyPrefix is the deployment's key prefix (STEWARD_KEY_PREFIX; default
// "stw"). A bearer starting with "<prefix>_u_", "_a_" or "_p_" is an API key.
func KeyPrefix(prefix string) MiddlewareOption {
	return func(m *middleware) {
		if prefix != "" {
			m.prefix = prefix
		}
	}
}

// OnError is called when no verdict could be reached (Steward unreachable,
// the platform key refused, the JWKS unavailable); the request gets 503.
// Use it to log.
func OnError(fn func(r *http.Request, err error)) MiddlewareOption {
	return func(m *middleware) { m.onError = fn }
}

type middleware struct {
	c        *Client
	scope    string
	ipHeader string
	prefix   string
	onError  func(*http.Request, error)
}

// Middleware authenticates every request by its Authorization: Bearer
// credential and puts a *Principal in its context (PrincipalFrom):
//
//   - an API key ("<prefix>_u_…", "_a_…", "_p_…") through VerifyKey, with
//     the caller's address and RequireScope's scope;
//   - anything else shaped like a JWT through VerifyAccessToken.
//
// Refusals are Steward's flat error body {code, message, details,
// request_id}: 401 UNAUTHENTICATED for a missing, unknown, revoked, expired
// or otherwise invalid credential (details.key_status names the key's
// verification code; details.token_status is EXPIRED or INVALID for a
// token); 403 FORBIDDEN for IP_NOT_ALLOWED and INSUFFICIENT_SCOPE (with
// details.key_status); 429 RATE_LIMITED with Retry-After; 503 UNAVAILABLE
// when no verdict could be reached. Under a read-only impersonation, methods
// other than GET, HEAD and OPTIONS get 403 IMPERSONATION_WRITE_DENIED.
func (c *Client) Middleware(opts ...MiddlewareOption) func(http.Handler) http.Handler {
	m := &middleware{c: c, prefix: defaultKeyPrefix}
	for _, o := range opts {
		o(m)
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, ok := m.authenticate(w, r)
			if !ok {
				return
			}
			next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
		})
	}
}

// authenticate resolves the request's credential, or answers the refusal
// and returns false.
func (m *middleware) authenticate(w http.ResponseWriter, r *http.Request) (*Principal, bool) {
	tok := bearer(r)
	switch {
	case tok == "":
		writeError(w, http.StatusUnauthorized, steward.CodeUnauthenticated,
			"authentication required: send Authorization: Bearer <API key or access token>", nil)
		return nil, false
	case m.isKey(tok):
		return m.key(w, r, tok)
	case strings.HasPrefix(tok, m.prefix+"_s_"):
		writeError(w, http.StatusUnauthorized, steward.CodeUnauthenticated,
			"send the access token (JWT), not the session token", map[string]any{"token_status": "INVALID"})
		return nil, false
	case strings.Count(tok, ".") == 2:
		return m.token(w, r, tok)
	}
	writeError(w, http.StatusUnauthorized, steward.CodeUnauthenticated,
		"the credential is neither an API key nor an access token", nil)
	return nil, false
}

func (m *middleware) isKey(tok string) bool {
	for _, t := range []steward.KeyType{steward.KeyUser, steward.KeyAdmin, steward.KeyPlatform} {
		if strings.HasPrefix(tok, m.prefix+"_"+t.Letter()+"_") {
			return true
		}
	}
	return false
}

func (m *middleware) key(w http.ResponseWriter, r *http.Request, tok string) (*Principal, bool) {
	res, err := m.c.VerifyKey(r.Context(), tok, m.clientIP(r), m.scope)
	if err != nil {
		m.unavailable(w, r, err)
		return nil, false
	}
	if res.Valid {
		return &Principal{Kind: KindKey, UserID: res.UserID, TenantID: res.TenantID, KeyID: res.KeyID,
			KeyType: res.KeyType, Scopes: slices.Clone(res.Scopes)}, true
	}
	details := map[string]any{"key_status": res.Code}
	switch res.Code {
	case steward.VerifyRateLimited:
		retry := retryAfter(res.RateLimit.Reset, m.c.now())
		details["retry_after"] = retry
		w.Header().Set("Retry-After", strconv.Itoa(retry))
		writeError(w, http.StatusTooManyRequests, steward.CodeRateLimited, "this key's rate limit is exhausted", details)
	case steward.VerifyIPNotAllowed:
		writeError(w, http.StatusForbidden, steward.CodeForbidden, "this key may not be used from this address", details)
	case steward.VerifyInsufficientScope:
		details["scope"] = m.scope
		writeError(w, http.StatusForbidden, steward.CodeForbidden, "this key lacks the scope "+m.scope, details)
	default:
		w.Header().Set("WWW-Authenticate", "Bearer")
		writeError(w, http.StatusUnauthorized, steward.CodeUnauthenticated, "the key is not valid", details)
	}
	return nil, false
}

func (m *middleware) token(w http.ResponseWriter, r *http.Request, tok string) (*Principal, bool) {
	c, err := m.c.VerifyAccessToken(r.Context(), tok)
	switch {
	case errors.Is(err, ErrTokenExpired):
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeError(w, http.StatusUnauthorized, steward.CodeUnauthenticated, "the access token has expired; refresh it",
			map[string]any{"token_status": "EXPIRED"})
		return nil, false
	case errors.Is(err, ErrInvalidToken):
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeError(w, http.StatusUnauthorized, steward.CodeUnauthenticated, "the access token is not valid",
			map[string]any{"token_status": "INVALID"})
		return nil, false
	case err != nil:
		m.unavailable(w, r, err)
		return nil, false
	}
	if c.ReadOnly && !safeMethod(r.Method) {
		writeError(w, http.StatusForbidden, CodeImpersonationWriteDenied,
			"this is a read-only impersonation: "+r.Method+" is not allowed",
			map[string]any{"impersonator_id": c.Actor, "method": r.Method})
		return nil, false
	}
	return &Principal{Kind: KindSession, UserID: c.Subject, TenantID: c.TenantID, Role: c.Role,
		SessionID: c.SessionID, ImpersonatorID: c.Actor, ReadOnly: c.ReadOnly}, true
}

func (m *middleware) unavailable(w http.ResponseWriter, r *http.Request, err error) {
	if m.onError != nil {
		m.onError(r, err)
	}
	writeError(w, http.StatusServiceUnavailable, steward.CodeUnavailable,
		"the credential could not be verified right now; try again", nil)
}

// clientIP is the caller's address: the trusted header's when configured
// and present, else the connection's.
func (m *middleware) clientIP(r *http.Request) string {
	if m.ipHeader != "" {
		if v := r.Header.Get(m.ipHeader); v != "" {
			if i := strings.LastIndexByte(v, ','); i >= 0 {
				v = v[i+1:]
			}
			if a, err := netip.ParseAddr(strings.TrimSpace(v)); err == nil {
				return a.Unmap().String()
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return host
}

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// retryAfter is the whole seconds from now until reset, at least 1.
func retryAfter(reset int64, now time.Time) int {
	d := time.Unix(reset, 0).Sub(now)
	s := int((d + time.Second - 1) / time.Second)
	return max(s, 1)
}

// writeError answers in Steward's flat error shape. request_id is empty:
// the request id is the product's, not Steward's.
func writeError(w http.ResponseWriter, status int, code, msg string, details map[string]any) {
	if details == nil {
		details = map[string]any{}
	}
	body := map[string]any{"code": code, "message": msg, "details": details, "request_id": ""}
	if ra, ok := details["retry_after"]; ok {
		body["retry_after"] = ra
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
