package service

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// Endpoint signing secrets at rest. With a key-encryption key (Config.
// SecretKey, STEWARD_SECRET_KEY) each endpoint's secrets, current and
// previous, are stored sealed with AES-256-GCM (sealBound), bound to the
// endpoint's id, as webhookSealPrefix and the base64 of nonce and
// ciphertext; without one they are stored as given ("whsec_…"), so the
// two forms cannot be mistaken for each other. The binding is to the id
// alone, so a rotation moves the sealed current secret to the previous
// slot as it is.
const webhookSealPrefix = "sealed:v1:"

func webhookSecretAAD(wid string) []byte { return []byte("steward webhook secret\x00" + wid) }

// wrapWebhookSecret is the stored form of an endpoint's secret.
func (s *core) wrapWebhookSecret(wid, secret string) (string, error) {
	if secret == "" || s.cfg.SecretKey == nil {
		return secret, nil
	}
	b, err := sealBound(s.cfg.SecretKey, []byte(secret), webhookSecretAAD(wid))
	if err != nil {
		return "", err
	}
	return webhookSealPrefix + base64.RawStdEncoding.EncodeToString(b), nil
}

// unwrapWebhookSecret returns a stored secret and what opened it.
func (s *core) unwrapWebhookSecret(wid, stored string) (string, keySource, error) {
	rest, sealed := strings.CutPrefix(stored, webhookSealPrefix)
	if !sealed {
		return stored, fromPlaintext, nil
	}
	b, err := base64.RawStdEncoding.DecodeString(rest)
	if err != nil {
		return "", 0, fmt.Errorf("sealed secret is not base64: %w", err)
	}
	tried := false
	for _, c := range []struct {
		secret []byte
		source keySource
	}{{s.cfg.SecretKey, fromSecret}, {s.cfg.SecretKeyPrevious, fromPrevious}} {
		if c.secret == nil {
			continue
		}
		tried = true
		if plain, err := openBound(c.secret, b, webhookSecretAAD(wid)); err == nil {
			return string(plain), c.source, nil
		}
	}
	if !tried {
		return "", 0, errSecretMissing
	}
	return "", 0, errSecretWrong
}

// openWebhookSecrets returns a copy of e with its secrets opened, to sign
// with.
func (s *core) openWebhookSecrets(e *steward.WebhookEndpoint) (*steward.WebhookEndpoint, error) {
	c := *e
	var err error
	if c.SigningSecret, _, err = s.unwrapWebhookSecret(e.ID, e.SigningSecret); err != nil {
		return nil, fmt.Errorf("webhook %s secret: %w", e.ID, err)
	}
	if c.PreviousSecret, _, err = s.unwrapWebhookSecret(e.ID, e.PreviousSecret); err != nil {
		return nil, fmt.Errorf("webhook %s previous secret: %w", e.ID, err)
	}
	return &c, nil
}

// sealWebhookSecrets brings every endpoint's stored secrets to the form
// the configuration asks for, as seal does for the signing keys: sealed
// with SecretKey when it is set (plaintext ones and ones sealed with
// SecretKeyPrevious are re-sealed), plaintext when it is not (ones sealed
// with SecretKeyPrevious are opened). A secret that cannot be opened stops
// it with an error naming the endpoint. Run at start, in the signing keys'
// transaction.
func (s *core) sealWebhookSecrets(ctx context.Context, tx store.Tx) error {
	all, err := tx.ListWebhookEndpoints(ctx)
	if err != nil {
		return err
	}
	changed := 0
	for _, e := range all {
		dirty := false
		for _, slot := range []*string{&e.SigningSecret, &e.PreviousSecret} {
			if *slot == "" {
				continue
			}
			plain, from, err := s.unwrapWebhookSecret(e.ID, *slot)
			if err != nil {
				return fmt.Errorf("webhook %s secret: %w", e.ID, err)
			}
			if (s.cfg.SecretKey != nil && from == fromSecret) || (s.cfg.SecretKey == nil && from == fromPlaintext) {
				continue
			}
			if *slot, err = s.wrapWebhookSecret(e.ID, plain); err != nil {
				return err
			}
			dirty = true
		}
		if !dirty {
			continue
		}
		if err := tx.UpdateWebhookEndpoint(ctx, e); err != nil {
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
	return s.audit(ctx, tx, event{Action: "webhook.seal_secrets", TargetType: "webhook",
		Metadata: map[string]any{"endpoints": changed, "at_rest": atRest}})
}

// WebhookSecretReport is what `steward doctor` says about the endpoints'
// signing secrets.
type WebhookSecretReport struct {
	Endpoints, Sealed int
	// Problems names each endpoint whose secrets this process cannot open.
	Problems []string
}

// CheckWebhookSecrets opens every endpoint's secrets with the configured
// secrets without changing anything.
func (s *core) CheckWebhookSecrets(ctx context.Context) (*WebhookSecretReport, error) {
	all, err := s.store.ListWebhookEndpoints(ctx)
	if err != nil {
		return nil, err
	}
	r := &WebhookSecretReport{Endpoints: len(all)}
	for _, e := range all {
		if strings.HasPrefix(e.SigningSecret, webhookSealPrefix) {
			r.Sealed++
		}
		if _, err := s.openWebhookSecrets(e); err != nil {
			r.Problems = append(r.Problems, err.Error())
		}
	}
	return r, nil
}
