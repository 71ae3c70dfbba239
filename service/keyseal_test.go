package service_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
	"github.com/stewardhq/steward/internal/password"
	"github.com/stewardhq/steward/service"
	"github.com/stewardhq/steward/store"
)

func newSecret(t *testing.T) []byte {
	t.Helper()
	b := make([]byte, service.SecretKeySize)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// restart is a second Steward process on a's database with these secrets,
// started; it returns the service and Start's error.
func restart(a *apptest.App, secret, previous []byte) (*service.Service, error) {
	svc := service.New(service.Config{Store: a.Store, Now: a.Clock.Now, Password: password.Cheap,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), SecretKey: secret, SecretKeyPrevious: previous})
	return svc, svc.Start(context.Background())
}

// storedKeys is every signing key's stored private_key column.
func storedKeys(t *testing.T, a *apptest.App) map[string][]byte {
	t.Helper()
	keys, err := a.Store.ListSigningKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, k := range keys {
		out[k.ID] = k.PrivateKey
	}
	return out
}

func TestSigningKeysEncryptedAtRest(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		ctx := context.Background()
		plain := storedKeys(t, a)
		if len(plain) != 1 {
			t.Fatalf("%d keys, want 1", len(plain))
		}
		var kid string
		var priv ed25519.PrivateKey
		for id, b := range plain {
			kid, priv = id, ed25519.PrivateKey(b)
		}
		if len(priv) != ed25519.PrivateKeySize {
			t.Fatalf("without a secret the key is stored as is: %d bytes", len(priv))
		}
		u := a.User(steward.RoleUser)
		before, err := a.Svc.Auth.Login(ctx, steward.LoginInput{Email: u.Email, Password: apptest.Password})
		if err != nil {
			t.Fatal(err)
		}

		// A start with a secret seals the plaintext key, and says so.
		secret := newSecret(t)
		svc, err := restart(a, secret, nil)
		if err != nil {
			t.Fatalf("start with a secret: %v", err)
		}
		sealed := storedKeys(t, a)[kid]
		if bytes.Contains(sealed, priv.Seed()) || bytes.Equal(sealed, priv) {
			t.Fatal("the stored key still holds the private key in the clear")
		}
		entries, err := a.Svc.Audit.ListAudit(apptest.System(), steward.AuditFilter{Action: "signing_key.seal"}, steward.ListParams{})
		if err != nil || len(entries.Data) != 1 || !strings.Contains(string(entries.Data[0].Metadata), `"encrypted"`) {
			t.Fatalf("signing_key.seal entries: %+v %v", entries, err)
		}
		// Same key: a token signed before still verifies, new ones are signed, checkpoints too.
		if _, err := svc.Auth.Authenticate(ctx, before.AccessToken); err != nil {
			t.Fatalf("a token from before the sealing: %v", err)
		}
		after, err := svc.Auth.Login(ctx, steward.LoginInput{Email: u.Email, Password: apptest.Password})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Svc.Auth.Authenticate(ctx, after.AccessToken); err != nil {
			t.Fatalf("a token signed with the sealed key: %v", err)
		}
		if _, err := svc.Audit.CreateAuditCheckpoint(apptest.System()); err != nil {
			t.Fatal(err)
		}
		mustOK(t, "a checkpoint by a sealed key", verifyChain(t, a))
		// A second start changes nothing.
		if _, err := restart(a, secret, nil); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(storedKeys(t, a)[kid], sealed) {
			t.Fatal("a start with the same secret re-sealed the key")
		}

		// Missing or wrong secret: the start fails, naming the key and the setting.
		for _, tc := range []struct {
			name     string
			secret   []byte
			previous []byte
			want     string
		}{
			{"no secret", nil, nil, "no secret key is configured: set STEWARD_SECRET_KEY"},
			{"wrong secret", newSecret(t), nil, "wrong secret"},
			{"wrong secret and previous", newSecret(t), newSecret(t), "wrong secret"},
		} {
			_, err := restart(a, tc.secret, tc.previous)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), kid) {
				t.Errorf("%s: start = %v, want an error naming %s and %q", tc.name, err, kid, tc.want)
			}
		}
		if !bytes.Equal(storedKeys(t, a)[kid], sealed) {
			t.Fatal("a failed start changed the stored key")
		}
		rep, err := service.New(service.Config{Store: a.Store}).CheckSigningKeys(ctx)
		if err != nil || rep.Keys != 1 || rep.Sealed != 1 || len(rep.Problems) != 1 {
			t.Fatalf("CheckSigningKeys without the secret = %+v, %v", rep, err)
		}
	})
}

func TestSecretKeyRotation(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		ctx := context.Background()
		oldSecret, newSecretKey := newSecret(t), newSecret(t)
		running, err := restart(a, oldSecret, nil)
		if err != nil {
			t.Fatal(err)
		}
		sealedOld := storedKeys(t, a)

		// The new secret with the old one as previous: re-sealed under the new.
		svc, err := restart(a, newSecretKey, oldSecret)
		if err != nil {
			t.Fatalf("rotation start: %v", err)
		}
		for id, b := range storedKeys(t, a) {
			if bytes.Equal(b, sealedOld[id]) {
				t.Fatalf("key %s was not re-sealed", id)
			}
		}
		u := a.User(steward.RoleUser)
		if _, err := svc.Auth.Login(ctx, steward.LoginInput{Email: u.Email, Password: apptest.Password}); err != nil {
			t.Fatalf("login after rotation: %v", err)
		}
		// A replica still on the old secret during a rolling restart keeps
		// the keys it holds: it reloads and signs on.
		if err := running.Maintain(ctx); err != nil {
			t.Fatalf("maintenance on a replica with the old secret: %v", err)
		}
		if _, err := running.Auth.Login(ctx, steward.LoginInput{Email: u.Email, Password: apptest.Password}); err != nil {
			t.Fatalf("login on a replica with the old secret: %v", err)
		}
		// From now on the new secret alone opens them, the old one no longer does.
		if _, err := restart(a, newSecretKey, nil); err != nil {
			t.Fatalf("the new secret alone: %v", err)
		}
		if _, err := restart(a, oldSecret, nil); err == nil || !strings.Contains(err.Error(), "wrong secret") {
			t.Fatalf("the old secret after rotation: %v, want wrong secret", err)
		}
		rep, err := service.New(service.Config{Store: a.Store, SecretKey: newSecretKey}).CheckSigningKeys(ctx)
		if err != nil || rep.Sealed != rep.Keys || len(rep.Problems) != 0 {
			t.Fatalf("CheckSigningKeys with the new secret = %+v, %v", rep, err)
		}

		// Previous alone turns encryption off: the keys go back to plaintext.
		if _, err := restart(a, nil, newSecretKey); err != nil {
			t.Fatalf("turning encryption off: %v", err)
		}
		for id, b := range storedKeys(t, a) {
			if len(b) != ed25519.PrivateKeySize {
				t.Fatalf("key %s is %d bytes, want a plaintext key", id, len(b))
			}
		}
		if _, err := restart(a, nil, nil); err != nil {
			t.Fatalf("plaintext keys without a secret: %v", err)
		}
		mustOK(t, "after the rotations", verifyChain(t, a))
	})
}

func TestParseSecretKey(t *testing.T) {
	raw := bytes.Repeat([]byte{0xfb}, service.SecretKeySize)
	for _, s := range []string{base64.StdEncoding.EncodeToString(raw), base64.RawURLEncoding.EncodeToString(raw) + "\n"} {
		got, err := service.ParseSecretKey(s)
		if err != nil || !bytes.Equal(got, raw) {
			t.Errorf("ParseSecretKey(%q) = %x, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "not base64!", base64.StdEncoding.EncodeToString(raw[:16]), strings.Repeat("a", 64)} {
		if _, err := service.ParseSecretKey(s); err == nil || !strings.Contains(err.Error(), "openssl rand -base64 32") {
			t.Errorf("ParseSecretKey(%q) = %v, want an error saying how to make one", s, err)
		}
	}
}

// With a secret key, a signing key put into the table behind Steward's back
// (it cannot seal one without the secret) is trusted for nothing: tokens and
// checkpoints it signs fail, the JWKS leaves it out and doctor reports it.
func TestInjectedSigningKeyIsNotTrusted(t *testing.T) {
	secret := newSecret(t)
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		ctx := context.Background()
		u := a.User(steward.RoleUser)
		res, err := a.Svc.Auth.Login(ctx, steward.LoginInput{Email: u.Email, Password: apptest.Password})
		if err != nil {
			t.Fatal(err)
		}
		_, evil, _ := ed25519.GenerateKey(rand.Reader)
		const kid = "jwk_INJECTED"
		if err := a.Store.Update(ctx, func(tx store.Tx) error {
			return tx.InsertSigningKey(ctx, &steward.SigningKey{ID: kid, PrivateKey: evil, CreatedAt: a.Clock.Now()})
		}); err != nil {
			t.Fatal(err)
		}
		a.Clock.Advance(2 * time.Minute) // past every reload interval

		// The real token's claims, signed by the injected key.
		claims, err := base64.RawURLEncoding.DecodeString(strings.Split(res.AccessToken, ".")[1])
		if err != nil {
			t.Fatal(err)
		}
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: jose.JSONWebKey{Key: evil, KeyID: kid}},
			(&jose.SignerOptions{}).WithType("JWT"))
		if err != nil {
			t.Fatal(err)
		}
		obj, err := signer.Sign(claims)
		if err != nil {
			t.Fatal(err)
		}
		forged, _ := obj.CompactSerialize()
		if _, err := a.Svc.Auth.Authenticate(ctx, forged); code(err) != steward.CodeUnauthenticated {
			t.Fatalf("a token signed by the injected key: %v, want UNAUTHENTICATED", err)
		}
		if _, err := a.Svc.Auth.Authenticate(ctx, res.AccessToken); err != nil {
			t.Fatalf("the real token: %v", err)
		}
		raw, err := a.Svc.Auth.JWKS(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(raw), kid) {
			t.Fatalf("the JWKS publishes the injected key: %s", raw)
		}

		head, err := a.Svc.Audit.CreateAuditCheckpoint(apptest.System())
		if err != nil {
			t.Fatal(err)
		}
		fake := &steward.AuditCheckpoint{ID: "ckp_ZZZZZZZZZZZZZZZZZZZZZZZZZZ", Seq: head.Seq, Hash: head.Hash, Time: a.Clock.Now(), KeyID: kid}
		fake.Signature = signWith(t, evil, fake)
		if err := a.Store.Update(ctx, func(tx store.Tx) error { return tx.InsertAuditCheckpoint(ctx, fake) }); err != nil {
			t.Fatal(err)
		}
		wantBreak(t, "a checkpoint by the injected key", verifyChain(t, a), head.Seq, fake.ID, "not a trusted key")

		rep, err := a.Svc.CheckSigningKeys(ctx)
		if err != nil || len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0], kid) || !strings.Contains(rep.Problems[0], "plaintext") {
			t.Fatalf("CheckSigningKeys = %+v, %v; want the injected key named", rep, err)
		}
	}, apptest.Options{Service: func(c *service.Config) { c.SecretKey = secret }})
}
