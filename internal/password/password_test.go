package password

import (
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestArgon2RoundTrip(t *testing.T) {
	h := Hasher{P: Cheap}
	hash, err := h.Hash("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if ok, rehash, err := h.Verify("correct horse", hash); !ok || rehash || err != nil {
		t.Fatalf("verify = %v %v %v", ok, rehash, err)
	}
	if ok, _, _ := h.Verify("wrong horse", hash); ok {
		t.Fatal("wrong password verified")
	}
	// Same password under other params verifies and asks for an upgrade.
	if ok, rehash, _ := (Hasher{P: Params{Time: 2, MemoryKiB: 64, Threads: 1}}).Verify("correct horse", hash); !ok || !rehash {
		t.Fatalf("param change: ok=%v rehash=%v", ok, rehash)
	}
}

func TestBcryptVerifiesAndAsksForUpgrade(t *testing.T) {
	b, _ := bcrypt.GenerateFromPassword([]byte("imported-pass"), bcrypt.MinCost)
	h := Hasher{P: Cheap}
	ok, rehash, err := h.Verify("imported-pass", string(b))
	if !ok || !rehash || err != nil {
		t.Fatalf("bcrypt verify = %v %v %v", ok, rehash, err)
	}
	if ok, _, _ := h.Verify("nope-nope", string(b)); ok {
		t.Fatal("wrong password verified against bcrypt")
	}
}

func TestMalformed(t *testing.T) {
	h := Hasher{P: Cheap}
	for _, s := range []string{"", "plain", "$argon2id$v=19$m=x$a$b", "$argon2id$v=19$m=64,t=1,p=0$AAAA$AAAA"} {
		if ok, _, err := h.Verify("x", s); ok || err == nil {
			t.Errorf("%q: ok=%v err=%v", s, ok, err)
		}
	}
}
