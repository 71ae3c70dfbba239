package service

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// Encryption at rest of the signing keys. With a key-encryption key (Config.
// SecretKey, from STEWARD_SECRET_KEY) each key's private half is stored
// sealed with AES-256-GCM; the public half stays readable, so verifying
// tokens and checkpoints (and `steward doctor`) never needs the secret.
//
// A sealed key is sealedLen bytes:
//
//	"SK1\x00" | public key (32) | nonce (12) | AES-GCM(seed (32)) with its tag (16)
//
// A plaintext key is the 64 bytes of an ed25519.PrivateKey, so the two
// forms cannot be mistaken for each other. The additional data binds the
// ciphertext to the key's id and public half: a sealed blob moved to another
// row, or a public half swapped, does not open.

// SecretKeySize is the size of a key-encryption key.
const SecretKeySize = 32

const (
	sealMagic = "SK1\x00"
	sealedLen = len(sealMagic) + ed25519.PublicKeySize + 12 + ed25519.SeedSize + 16
)

var (
	errSecretMissing = errors.New("it is encrypted at rest and no secret key is configured: set STEWARD_SECRET_KEY to the secret it was sealed with")
	errSecretWrong   = errors.New("it is encrypted at rest and neither STEWARD_SECRET_KEY nor STEWARD_SECRET_KEY_PREVIOUS decrypts it (wrong secret?)")
	errKeyMalformed  = errors.New("stored key is neither a plaintext Ed25519 key nor a sealed one")
	errKeyNotSealed  = errors.New("it is stored in plaintext although STEWARD_SECRET_KEY is set, so Steward did not write it: not trusted")
)

// ParseSecretKey decodes a key-encryption key: 32 random bytes in base64
// (standard or URL alphabet, padded or not), such as the output of
// `openssl rand -base64 32`.
func ParseSecretKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != SecretKeySize {
				return nil, fmt.Errorf("decodes to %d bytes, want %d (make one with: openssl rand -base64 32)", len(b), SecretKeySize)
			}
			return b, nil
		}
	}
	return nil, errors.New("is not base64 (make one with: openssl rand -base64 32)")
}

// keySource says how a stored key was opened.
type keySource int

const (
	fromPlaintext keySource = iota
	fromSecret              // sealed with Config.SecretKey
	fromPrevious            // sealed with Config.SecretKeyPrevious
)

func sealAAD(id string, pub []byte) []byte {
	return append([]byte("steward signing key\x00"+id+"\x00"), pub...)
}

func isSealed(b []byte) bool { return len(b) == sealedLen && string(b[:len(sealMagic)]) == sealMagic }

// publicKeyOf is a stored key's public half, which needs no secret.
func publicKeyOf(k *steward.SigningKey) (ed25519.PublicKey, error) {
	switch {
	case isSealed(k.PrivateKey):
		return ed25519.PublicKey(bytes.Clone(k.PrivateKey[len(sealMagic) : len(sealMagic)+ed25519.PublicKeySize])), nil
	case len(k.PrivateKey) == ed25519.PrivateKeySize:
		return ed25519.PrivateKey(k.PrivateKey).Public().(ed25519.PublicKey), nil
	}
	return nil, errKeyMalformed
}

// wrap is the stored form of a private key: sealed with the secret key when
// one is configured, else the key itself.
func (s *core) wrap(id string, priv ed25519.PrivateKey) ([]byte, error) {
	if s.cfg.SecretKey == nil {
		return bytes.Clone(priv), nil
	}
	gcm, err := newGCM(s.cfg.SecretKey)
	if err != nil {
		return nil, err
	}
	pub := priv.Public().(ed25519.PublicKey)
	out := make([]byte, 0, sealedLen)
	out = append(append(out, sealMagic...), pub...)
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	out = append(out, nonce...)
	return gcm.Seal(out, nonce, priv.Seed(), sealAAD(id, pub)), nil
}

// unwrap returns a stored key's private half and what opened it.
func (s *core) unwrap(k *steward.SigningKey) (ed25519.PrivateKey, keySource, error) {
	if !isSealed(k.PrivateKey) {
		if len(k.PrivateKey) != ed25519.PrivateKeySize {
			return nil, 0, errKeyMalformed
		}
		return ed25519.PrivateKey(bytes.Clone(k.PrivateKey)), fromPlaintext, nil
	}
	pub := k.PrivateKey[len(sealMagic) : len(sealMagic)+ed25519.PublicKeySize]
	nonce := k.PrivateKey[len(sealMagic)+ed25519.PublicKeySize : len(sealMagic)+ed25519.PublicKeySize+12]
	sealed := k.PrivateKey[len(sealMagic)+ed25519.PublicKeySize+12:]
	tried := false
	for _, c := range []struct {
		secret []byte
		source keySource
	}{{s.cfg.SecretKey, fromSecret}, {s.cfg.SecretKeyPrevious, fromPrevious}} {
		if c.secret == nil {
			continue
		}
		tried = true
		gcm, err := newGCM(c.secret)
		if err != nil {
			return nil, 0, err
		}
		seed, err := gcm.Open(nil, nonce, sealed, sealAAD(k.ID, pub))
		if err != nil {
			continue
		}
		priv := ed25519.NewKeyFromSeed(seed)
		if !priv.Public().(ed25519.PublicKey).Equal(ed25519.PublicKey(pub)) {
			return nil, 0, errKeyMalformed // cannot happen unless the AAD check is broken
		}
		return priv, c.source, nil
	}
	if !tried {
		return nil, 0, errSecretMissing
	}
	return nil, 0, errSecretWrong
}

// open returns the private half of a stored key that Steward can vouch for.
// With a secret key configured, sealing also authenticates: a key someone
// put into the table without the secret does not open, and a plaintext one
// is refused, so it neither verifies tokens or checkpoints nor is published.
func (s *core) open(k *steward.SigningKey) (ed25519.PrivateKey, error) {
	priv, from, err := s.unwrap(k)
	if err == nil && from == fromPlaintext && s.cfg.SecretKey != nil {
		return nil, errKeyNotSealed
	}
	return priv, err
}

// seal brings every stored key to the form the configuration asks for:
// sealed with SecretKey when it is set (plaintext keys and keys sealed with
// SecretKeyPrevious are re-sealed), plaintext when it is not (keys sealed
// with SecretKeyPrevious are opened: the way to stop encrypting). A key
// that cannot be opened stops it with an error naming the key. It updates
// keys in place, so the caller's slice holds what is stored.
func (s *core) seal(ctx context.Context, tx store.Tx, keys []*steward.SigningKey) error {
	changed := 0
	for _, k := range keys {
		priv, from, err := s.unwrap(k)
		if err != nil {
			return fmt.Errorf("signing key %s: %w", k.ID, err)
		}
		if (s.cfg.SecretKey != nil && from == fromSecret) || (s.cfg.SecretKey == nil && from == fromPlaintext) {
			continue
		}
		if k.PrivateKey, err = s.wrap(k.ID, priv); err != nil {
			return err
		}
		if err := tx.UpdateSigningKey(ctx, k); err != nil {
			return err
		}
		changed++
	}
	if changed == 0 {
		return nil
	}
	atRest := "plaintext"
	if s.cfg.SecretKey != nil {
		atRest = "encrypted"
	}
	return s.audit(ctx, tx, event{Action: "signing_key.seal", TargetType: "signing_key",
		Metadata: map[string]any{"keys": changed, "at_rest": atRest}})
}

// SigningKeyReport is what `steward doctor` says about the signing keys.
type SigningKeyReport struct {
	Keys, Sealed int
	// Problems names each key this process cannot open with the
	// configured secrets.
	Problems []string
}

// CheckSigningKeys opens every stored signing key with the configured
// secrets without changing anything: a key that does not open, or a
// plaintext one while a secret is set, is a problem.
func (s *core) CheckSigningKeys(ctx context.Context) (*SigningKeyReport, error) {
	keys, err := s.store.ListSigningKeys(ctx)
	if err != nil {
		return nil, err
	}
	r := &SigningKeyReport{Keys: len(keys)}
	for _, k := range keys {
		if isSealed(k.PrivateKey) {
			r.Sealed++
		}
		if _, err := s.open(k); err != nil {
			r.Problems = append(r.Problems, fmt.Sprintf("signing key %s: %v", k.ID, err))
		}
	}
	return r, nil
}
