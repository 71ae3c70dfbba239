// Package password hashes passwords with argon2id and verifies argon2id and
// imported bcrypt hashes, telling the caller when a hash should be upgraded.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Params are argon2id's cost parameters.
type Params struct {
	Time      uint32
	MemoryKiB uint32
	Threads   uint8
}

// Default returns what production uses: about 140 ms a hash on our 2-core
// machines. A function, so no caller can change every service's default.
func Default() Params { return Params{Time: 1, MemoryKiB: 64 * 1024, Threads: 2} }

// Cheap is for tests only.
var Cheap = Params{Time: 1, MemoryKiB: 64, Threads: 1}

const (
	saltLen = 16
	keyLen  = 32
)

// ErrMalformed is returned for a stored hash we cannot parse.
var ErrMalformed = errors.New("password: malformed hash")

// Hasher hashes with fixed params.
type Hasher struct{ P Params }

// Hash returns a PHC-format argon2id hash of pw.
func (h Hasher) Hash(pw string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(pw), salt, h.P.Time, h.P.MemoryKiB, h.P.Threads, keyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version,
		h.P.MemoryKiB, h.P.Time, h.P.Threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// Verify reports whether pw matches hash, and whether the hash should be
// replaced (a bcrypt import, or argon2id with other params than h's).
func (h Hasher) Verify(pw, hash string) (ok, rehash bool, err error) {
	switch {
	case strings.HasPrefix(hash, "$2a$"), strings.HasPrefix(hash, "$2b$"), strings.HasPrefix(hash, "$2y$"):
		err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw))
		if errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
			return false, false, nil
		}
		return err == nil, true, err
	case strings.HasPrefix(hash, "$argon2id$"):
		var p Params
		var version int
		parts := strings.Split(hash, "$")
		if len(parts) != 6 {
			return false, false, ErrMalformed
		}
		if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
			return false, false, ErrMalformed
		}
		if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Time, &p.Threads); err != nil {
			return false, false, ErrMalformed
		}
		salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
		want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
		if err1 != nil || err2 != nil || len(want) == 0 || p.Threads == 0 {
			return false, false, ErrMalformed
		}
		got := argon2.IDKey([]byte(pw), salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(want)))
		ok := subtle.ConstantTimeCompare(got, want) == 1
		return ok, ok && p != h.P, nil
	}
	return false, false, ErrMalformed
}
