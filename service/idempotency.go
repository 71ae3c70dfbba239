package service

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

const (
	// IdempotencyTTL is how long a first answer is replayed.
	IdempotencyTTL = 24 * time.Hour
	// idempotencyWait bounds how long a duplicate waits for the first
	// request to finish before it is told to retry.
	idempotencyWait = 30 * time.Second
	// idempotencyAbandoned is when a claim whose request never finished (its
	// replica died) may be taken over. It is longer than any request runs.
	idempotencyAbandoned = 2 * time.Minute
	maxIdempotencyKeyLen = 255
)

// idempotency holds the polling interval, so tests can shorten it.
type idempotency struct{ poll time.Duration }

// Idempotent runs fn at most once for one caller's Idempotency-Key within
// IdempotencyTTL, and answers repeats with the first answer. scope names
// the caller and the endpoint (e.g. "usr_… POST /api/v1/admin/api-keys");
// request is the request body. The same key with another body is
// IDEMPOTENCY_KEY_REUSED. A duplicate that arrives while the first still runs
// waits for its answer. Answers with status 500 or above, and 499 (the
// client hung up), are not kept, so the client may retry them.
//
// The key itself is never stored: records are found by a hash of scope and
// key, and the stored answer is sealed (AES-256-GCM) under another hash of
// them, so an answer holding a secret cannot be read back from the database.
func (s *Idempotency) Idempotent(ctx context.Context, scope, key string, request []byte, fn func() steward.Answer) (steward.Answer, bool, error) {
	if len(key) == 0 || len(key) > maxIdempotencyKeyLen || !printableASCII(key) {
		return steward.Answer{}, false, &steward.Error{Code: steward.CodeBadRequest,
			Message: "Idempotency-Key must be 1-255 printable ASCII characters",
			Details: map[string]any{"fields": map[string]any{"Idempotency-Key": "must be 1-255 printable ASCII characters"}}}
	}
	lookup := derive("steward idempotency lookup", scope, key)
	seal := derive("steward idempotency seal", scope, key)
	reqHash := sha256.Sum256(request)
	deadline := time.Now().Add(idempotencyWait)
	poll := s.idem.poll
	if poll == 0 {
		poll = 20 * time.Millisecond
	}
	for {
		rec, err := s.store.GetIdempotency(ctx, lookup)
		switch {
		case errors.Is(err, store.ErrNotFound):
			claimed, err := s.claimIdempotency(ctx, lookup, reqHash[:])
			if err != nil {
				return steward.Answer{}, false, err
			}
			if claimed {
				return s.runIdempotent(ctx, lookup, seal, fn), false, nil
			}
			continue // someone claimed it first: read theirs
		case err != nil:
			return steward.Answer{}, false, err
		}
		now := s.now()
		stale := !now.Before(rec.ExpiresAt) || (rec.Status == 0 && now.Sub(rec.CreatedAt) > idempotencyAbandoned)
		if stale {
			if err := s.dropIdempotency(ctx, lookup, rec); err != nil {
				return steward.Answer{}, false, err
			}
			continue
		}
		if !bytes.Equal(rec.RequestHash, reqHash[:]) {
			return steward.Answer{}, false, steward.Errorf(steward.CodeIdempotencyKeyReused,
				"this Idempotency-Key was used with a different request body")
		}
		if rec.Status != 0 {
			body, err := open(seal, rec.Body)
			if err != nil {
				return steward.Answer{}, false, err
			}
			return steward.Answer{Status: rec.Status, Body: body}, true, nil
		}
		if time.Now().After(deadline) {
			return steward.Answer{}, false, steward.Errorf(steward.CodeIdempotencyKeyReused,
				"a request with this Idempotency-Key is still running; retry later")
		}
		select {
		case <-ctx.Done():
			return steward.Answer{}, false, ctx.Err()
		case <-time.After(poll):
		}
	}
}

func (s *Idempotency) claimIdempotency(ctx context.Context, lookup, reqHash []byte) (bool, error) {
	now := s.now()
	err := s.update(ctx, func(tx store.Tx) error {
		return tx.InsertIdempotency(ctx, &steward.IdempotencyRecord{KeyHash: lookup, RequestHash: reqHash,
			CreatedAt: now, ExpiresAt: now.Add(IdempotencyTTL)})
	})
	var dup *store.DuplicateError
	if errors.As(err, &dup) {
		return false, nil
	}
	return err == nil, err
}

// dropIdempotency removes an expired or abandoned record, unless it changed
// since it was read.
func (s *Idempotency) dropIdempotency(ctx context.Context, lookup []byte, seen *steward.IdempotencyRecord) error {
	return s.update(ctx, func(tx store.Tx) error {
		cur, err := tx.GetIdempotency(ctx, lookup)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil || cur.Status != seen.Status || !cur.CreatedAt.Equal(seen.CreatedAt) {
			return err
		}
		return tx.DeleteIdempotency(ctx, lookup)
	})
}

// runIdempotent runs fn under a claim and keeps (or releases) its answer.
func (s *Idempotency) runIdempotent(ctx context.Context, lookup, seal []byte, fn func() steward.Answer) steward.Answer {
	ans := fn()
	// The outcome is recorded even if the client has gone away.
	ctx = context.WithoutCancel(ctx)
	err := s.update(ctx, func(tx store.Tx) error {
		// 499: the client hung up mid-request, so the outcome is not
		// known to it; a retry must run again (a ledger write then
		// replays from its own idempotency key).
		if ans.Status >= 500 || ans.Status == 499 {
			return tx.DeleteIdempotency(ctx, lookup)
		}
		rec, err := tx.GetIdempotency(ctx, lookup)
		if err != nil {
			return err
		}
		if rec.Body, err = sealBytes(seal, ans.Body); err != nil {
			return err
		}
		rec.Status = ans.Status
		return tx.UpdateIdempotency(ctx, rec)
	})
	if err != nil {
		s.log.ErrorContext(ctx, "recording an idempotent answer", "err", err)
	}
	return ans
}

func derive(purpose, scope, key string) []byte {
	h := sha256.New()
	for _, part := range []string{purpose, scope, key} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return h.Sum(nil)
}

func sealBytes(key, plain []byte) ([]byte, error) { return sealBound(key, plain, nil) }

func open(key, sealed []byte) ([]byte, error) { return openBound(key, sealed, nil) }

// sealBound seals plain with AES-256-GCM under key, the nonce first; aad
// (may be nil) binds the result to its place, such as a row's id.
func sealBound(key, plain, aad []byte) ([]byte, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return gcm.Seal(nonce, nonce, plain, aad), nil
}

// openBound opens what sealBound sealed with the same key and aad.
func openBound(key, sealed, aad []byte) ([]byte, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	if len(sealed) < gcm.NonceSize() {
		return nil, errors.New("sealed value too short")
	}
	return gcm.Open(nil, sealed[:gcm.NonceSize()], sealed[gcm.NonceSize():], aad)
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
