package service

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// A trusted issuer's JSON Web Key Set, fetched over HTTP and cached.
const (
	// jwksRefetchEvery is the least time between two fetches of one set: an
	// unknown kid (a rotation, or a forged token) refetches at most this
	// often, so a flood of made-up kids cannot turn into a flood of fetches.
	jwksRefetchEvery = time.Minute
	// jwksMaxAge is how long a fetched set is trusted before the next token
	// refetches it, so a key the issuer withdrew stops working.
	jwksMaxAge = time.Hour
	// jwksMaxBytes bounds the response: the URL is operator configuration,
	// but what answers there is still another party's server.
	jwksMaxBytes = 1 << 20
	jwksTimeout  = 5 * time.Second
)

// jwksCache holds one issuer's verification keys.
type jwksCache struct {
	url    string
	client *http.Client
	now    func() time.Time

	mu        sync.RWMutex
	set       jose.JSONWebKeySet
	fetchedAt time.Time // when set was last fetched successfully

	fetchMu   sync.Mutex // one fetch at a time
	triedAt   time.Time  // the last fetch attempt, whatever its outcome
	attempted bool
}

func newJWKSCache(url string, client *http.Client, now func() time.Time) *jwksCache {
	return &jwksCache{url: url, client: client, now: now}
}

// key returns the public key named kid, refetching the set when kid is
// unknown or the set is older than jwksMaxAge, at most once a minute.
func (c *jwksCache) key(ctx context.Context, kid string) (*jose.JSONWebKey, bool) {
	if k, fresh := c.lookup(kid); k != nil && fresh {
		return k, true
	}
	c.fetchMu.Lock()
	defer c.fetchMu.Unlock()
	// Another request may have fetched while this one waited.
	if k, fresh := c.lookup(kid); k != nil && fresh {
		return k, true
	}
	now := c.now()
	if !c.attempted || now.Sub(c.triedAt) >= jwksRefetchEvery {
		c.attempted, c.triedAt = true, now
		if set, err := c.fetch(ctx); err == nil {
			c.mu.Lock()
			c.set, c.fetchedAt = set, now
			c.mu.Unlock()
		}
		// On a failed fetch the old keys stay: the issuer's outage should not
		// become ours. They are refetched again after a minute.
	}
	k, _ := c.lookup(kid)
	return k, k != nil
}

// lookup finds kid in the cached set and says whether the set is fresh.
func (c *jwksCache) lookup(kid string) (*jose.JSONWebKey, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	fresh := !c.fetchedAt.IsZero() && c.now().Sub(c.fetchedAt) < jwksMaxAge
	for i := range c.set.Keys {
		if c.set.Keys[i].KeyID == kid {
			k := c.set.Keys[i]
			return &k, fresh
		}
	}
	return nil, fresh
}

// fetch reads the set, keeping only asymmetric public signing keys: a
// symmetric ("oct") key in a published set must never verify anything.
func (c *jwksCache) fetch(ctx context.Context) (jose.JSONWebKeySet, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), jwksTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return jose.JSONWebKeySet{}, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return jose.JSONWebKeySet{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return jose.JSONWebKeySet{}, fmt.Errorf("jwks %s: status %d", c.url, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, jwksMaxBytes+1))
	if err != nil {
		return jose.JSONWebKeySet{}, err
	}
	if len(body) > jwksMaxBytes {
		return jose.JSONWebKeySet{}, fmt.Errorf("jwks %s: larger than %d bytes", c.url, jwksMaxBytes)
	}
	var raw struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return jose.JSONWebKeySet{}, fmt.Errorf("jwks %s: %w", c.url, err)
	}
	// Key by key, so one key of a type go-jose does not know does not hide
	// the others.
	var set jose.JSONWebKeySet
	for _, r := range raw.Keys {
		var k jose.JSONWebKey
		if json.Unmarshal(r, &k) != nil || !k.Valid() || (k.Use != "" && k.Use != "sig") {
			continue
		}
		if _, symmetric := k.Key.([]byte); symmetric {
			continue
		}
		if !k.IsPublic() {
			k = k.Public()
		}
		set.Keys = append(set.Keys, k)
	}
	return set, nil
}
