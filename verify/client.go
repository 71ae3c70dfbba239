// Package verify is what a product's Go service imports to authenticate its
// own callers against Steward: API keys through Steward's platform surface
// (with an optional short cache), access tokens locally with Steward's JWKS,
// and an HTTP middleware that does either and refuses writes under a
// read-only impersonation.
//
// It depends on the standard library, package steward (types only) and
// go-jose, so a product importing it pulls in no database driver and none of
// Steward's server code. docs/verify.md shows a complete program.
package verify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/stewardhq/steward"
)

// Defaults of the options.
const (
	DefaultMaxCacheEntries  = 10_000
	DefaultJWKSRefresh      = 10 * time.Minute
	DefaultJWKSMinRefetch   = 10 * time.Second
	defaultHTTPTimeout      = 10 * time.Second
	maxResponseBytes        = 1 << 20
	verifyPath              = "/api/v1/platform/keys/verify"
	jwksPath                = "/.well-known/jwks.json"
	defaultKeyPrefix        = "stw"
	defaultCacheSweepPeriod = time.Minute
)

// Client talks to one Steward deployment. It is safe for concurrent use;
// make one per process and share it.
type Client struct {
	base        string
	platformKey string
	hc          *http.Client
	now         func() time.Time
	leeway      time.Duration

	ttl        time.Duration
	maxEntries int
	mu         sync.Mutex
	cache      map[[sha256.Size]byte]cacheEntry
	lastSweep  time.Time

	jwks jwksCache
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the HTTP client used for every call to Steward
// (default: a client with a 10 s timeout).
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.hc = hc
		}
	}
}

// WithCacheTTL caches key verifications for ttl (default 0: no cache, every
// VerifyKey asks Steward).
//
// An answer is kept for at most ttl, counted from when the request to
// Steward was sent, keyed by (key, ip, scope) — the key is hashed, never
// kept in plaintext. VALID and every definitive refusal (NOT_FOUND, REVOKED,
// EXPIRED, DISABLED, OWNER_INACTIVE, IP_NOT_ALLOWED, INSUFFICIENT_SCOPE) are
// cached; RATE_LIMITED, unknown codes and errors never are.
//
// The staleness bound is exactly ttl: a revocation, expiry, ban, suspension
// or allowed_ips change made in Steward is seen by this process at most ttl
// later — and so is the lifting of one (an unsuspended owner's key keeps
// being refused until its cached refusal ages out).
//
// Cached hits never reach Steward, so they do not count against the key's
// rate_limit_rpm there, do not move its last_used_at, and return the
// ratelimit numbers of the answer that was cached. With a cache, a key can
// make more requests than its limit: up to its limit plus whatever this
// process serves from the cache. Keep ttl short (a few seconds) where limits
// matter.
func WithCacheTTL(ttl time.Duration) Option {
	return func(c *Client) {
		if ttl > 0 {
			c.ttl = ttl
		}
	}
}

// WithMaxCacheEntries bounds the key cache (default DefaultMaxCacheEntries).
// When it is full, expired entries are dropped first, then arbitrary ones.
func WithMaxCacheEntries(n int) Option {
	return func(c *Client) {
		if n > 0 {
			c.maxEntries = n
		}
	}
}

// WithClock sets the time source (default time.Now): cache ages, JWKS
// refresh times and token exp/nbf are all measured with it.
func WithClock(now func() time.Time) Option {
	return func(c *Client) {
		if now != nil {
			c.now = now
		}
	}
}

// WithJWKSRefresh sets how often the JWKS is fetched again even when every
// token names a known key (default DefaultJWKSRefresh), so a key Steward
// stopped publishing stops being accepted.
func WithJWKSRefresh(every time.Duration) Option {
	return func(c *Client) {
		if every > 0 {
			c.jwks.refresh = every
		}
	}
}

// WithJWKSMinRefetch sets the least time between two JWKS fetches (default
// DefaultJWKSMinRefetch). A token naming an unknown kid triggers a fetch only
// when the last one is at least this old, so forged tokens cannot make this
// process hammer Steward.
func WithJWKSMinRefetch(d time.Duration) Option {
	return func(c *Client) {
		if d > 0 {
			c.jwks.minRefetch = d
		}
	}
}

// NewClient returns a client for the Steward at baseURL (e.g.
// "https://steward.internal:8080") that authenticates to its platform surface
// with platformKey, a platform key holding the keys:verify scope. The key is
// needed for VerifyKey only; VerifyAccessToken uses the public JWKS.
func NewClient(baseURL, platformKey string, opts ...Option) *Client {
	c := &Client{
		base:        strings.TrimRight(baseURL, "/"),
		platformKey: platformKey,
		hc:          &http.Client{Timeout: defaultHTTPTimeout},
		now:         time.Now,
		leeway:      DefaultLeeway,
		maxEntries:  DefaultMaxCacheEntries,
		jwks:        jwksCache{refresh: DefaultJWKSRefresh, minRefetch: DefaultJWKSMinRefetch},
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// APIError is a non-200 answer from Steward, carrying its flat error body.
// It unwraps to a *steward.Error with the same code, so steward.ErrorCode
// and errors.As work on it.
type APIError struct {
	StatusCode int
	Code       string
	Message    string
	Details    map[string]any
	RequestID  string
	// RetryAfter is the Retry-After of a 429, in seconds.
	RetryAfter int
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("verify: steward answered %d %s: %s", e.StatusCode, e.Code, e.Message)
	if e.RequestID != "" {
		s += " (request_id " + e.RequestID + ")"
	}
	return s
}

// Unwrap returns the body as a *steward.Error.
func (e *APIError) Unwrap() error {
	return &steward.Error{Code: e.Code, Message: e.Message, Details: e.Details}
}

type cacheEntry struct {
	res     steward.VerifyResult
	expires time.Time
}

// cacheKey hashes the (key, ip, scope) triple, each part length-prefixed so
// no two triples share an encoding.
func cacheKey(key, ip, scope string) [sha256.Size]byte {
	h := sha256.New()
	for _, s := range []string{key, ip, scope} {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}

// cacheable reports whether a verification code describes the key's state
// (and so may be cached) rather than a moment (RATE_LIMITED).
func cacheable(code string) bool {
	switch code {
	case steward.VerifyValid, steward.VerifyNotFound, steward.VerifyRevoked, steward.VerifyExpired,
		steward.VerifyDisabled, steward.VerifyOwnerInactive, steward.VerifyIPNotAllowed,
		steward.VerifyInsufficientScope:
		return true
	}
	return false
}

func cloneResult(r *steward.VerifyResult) *steward.VerifyResult {
	c := *r
	c.Scopes = slices.Clone(r.Scopes)
	if c.Scopes == nil {
		c.Scopes = []steward.Permission{}
	}
	return &c
}

// VerifyKey asks Steward whether key may be used from ip (the address the
// product's caller came from; "" when unknown, which a key restricted to
// some addresses refuses) for scope ("" for none). Every verdict on the key
// is a result, Valid or not, with its Code; only failures to get a verdict
// (network, Steward's refusal of the platform key) are errors, *APIError for
// a non-200 answer.
//
// With WithCacheTTL, a cached verdict younger than the TTL is returned
// without asking Steward; see WithCacheTTL for what that implies.
func (c *Client) VerifyKey(ctx context.Context, key, ip, scope string) (*steward.VerifyResult, error) {
	var ck [sha256.Size]byte
	sent := c.now()
	if c.ttl > 0 {
		ck = cacheKey(key, ip, scope)
		c.mu.Lock()
		e, ok := c.cache[ck]
		c.mu.Unlock()
		if ok && sent.Before(e.expires) {
			return cloneResult(&e.res), nil
		}
	}
	var res steward.VerifyResult
	if err := c.post(ctx, verifyPath, steward.VerifyRequest{Key: key, IP: ip, Scope: steward.Permission(scope)}, &res, "verify"); err != nil {
		return nil, err
	}
	if res.Scopes == nil {
		res.Scopes = []steward.Permission{}
	}
	if c.ttl > 0 && cacheable(res.Code) {
		c.store(ck, cacheEntry{res: *cloneResult(&res), expires: sent.Add(c.ttl)}, sent)
	}
	return &res, nil
}

// post sends in as JSON to Steward's platform path with the platform key and
// decodes a 200 answer into out; any other status is an *APIError. what
// names the answer in a decoding error.
func (c *Client) post(ctx context.Context, path string, in, out any, what string) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.platformKey)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	raw, status, hdr, err := c.do(req)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return apiError(status, hdr, raw)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("verify: decoding Steward's %s answer: %w", what, err)
	}
	return nil
}

// store puts e in the cache, making room when it is full.
func (c *Client) store(k [sha256.Size]byte, e cacheEntry, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cache == nil {
		c.cache = make(map[[sha256.Size]byte]cacheEntry)
	}
	if _, ok := c.cache[k]; !ok && len(c.cache) >= c.maxEntries {
		// Sweeping is O(n); do it at most once per TTL (or minute), and
		// otherwise evict one arbitrary entry.
		period := min(c.ttl, defaultCacheSweepPeriod)
		if now.Sub(c.lastSweep) >= period {
			c.lastSweep = now
			for key, v := range c.cache {
				if !now.Before(v.expires) {
					delete(c.cache, key)
				}
			}
		}
		for key := range c.cache {
			if len(c.cache) < c.maxEntries {
				break
			}
			delete(c.cache, key)
		}
	}
	c.cache[k] = e
}

// do sends req and reads at most maxResponseBytes of the answer.
func (c *Client) do(req *http.Request) ([]byte, int, http.Header, error) {
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("verify: %s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, 0, nil, fmt.Errorf("verify: reading %s: %w", req.URL.Path, err)
	}
	return raw, resp.StatusCode, resp.Header, nil
}

// apiError decodes Steward's flat error body; an answer without one (a
// proxy's error page) keeps the status and says so.
func apiError(status int, hdr http.Header, raw []byte) *APIError {
	var b struct {
		Code       string         `json:"code"`
		Message    string         `json:"message"`
		Details    map[string]any `json:"details"`
		RequestID  string         `json:"request_id"`
		RetryAfter int            `json:"retry_after"`
	}
	e := &APIError{StatusCode: status}
	if err := json.Unmarshal(raw, &b); err == nil && b.Code != "" {
		e.Code, e.Message, e.Details, e.RequestID, e.RetryAfter = b.Code, b.Message, b.Details, b.RequestID, b.RetryAfter
	} else {
		e.Code = steward.CodeInternal
		if status == http.StatusServiceUnavailable {
			e.Code = steward.CodeUnavailable
		}
		e.Message = "unexpected answer: " + http.StatusText(status)
	}
	if e.RequestID == "" {
		e.RequestID = hdr.Get("X-Request-ID")
	}
	return e
}
