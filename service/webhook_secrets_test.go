package service_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
	"github.com/stewardhq/steward/internal/password"
	"github.com/stewardhq/steward/service"
	"github.com/stewardhq/steward/store"
)

// startWebhooks is a second Steward process on a's database with these
// secret keys, started, that may deliver to loopback receivers.
func startWebhooks(t *testing.T, a *apptest.App, secret, previous []byte) *service.Service {
	t.Helper()
	svc := service.New(service.Config{Store: a.Store, Now: a.Clock.Now, Password: password.Cheap,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), SecretKey: secret, SecretKeyPrevious: previous,
		Webhooks: service.WebhookAddressPolicy{AllowInsecure: true}})
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return svc
}

// deliverAll runs svc's delivery rounds until one sends nothing.
func deliverAll(t *testing.T, svc *service.Service) {
	t.Helper()
	for range 100 {
		n, err := svc.Webhooks.DeliverDue(context.Background(), "secrets")
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
	t.Fatal("delivery never settled")
}

// TestWebhookSecretsAtRest: without STEWARD_SECRET_KEY an endpoint's
// secret is stored as given; a start with one seals it (bound to the
// endpoint), new and rotated secrets are stored sealed, and no stored row
// contains a secret; deliveries still verify with each secret; a start
// with a new key and the old one as previous re-seals them and deliveries
// verify; without a key they are reported as not opening.
func TestWebhookSecretsAtRest(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		ctx := apptest.System()
		stored := func(wid string) *steward.WebhookEndpoint {
			t.Helper()
			e, err := a.Store.GetWebhookEndpoint(ctx, wid)
			if err != nil {
				t.Fatal(err)
			}
			return e
		}
		sealedWithout := func(wid string, secrets ...string) {
			t.Helper()
			e := stored(wid)
			for _, col := range []string{e.SigningSecret, e.PreviousSecret} {
				if col != "" && !strings.HasPrefix(col, "sealed:v1:") {
					t.Errorf("%s: a stored secret is not sealed: %q", wid, col)
				}
				for _, s := range secrets {
					if strings.Contains(col, strings.TrimPrefix(s, "whsec_")) {
						t.Errorf("%s: the stored row contains the secret", wid)
					}
				}
			}
		}
		rc1, rc2 := newReceiver(t), newReceiver(t)
		e1, err := a.Svc.Webhooks.CreateWebhook(ctx, steward.WebhookEndpointCreate{URL: rc1.srv.URL, EventTypes: []string{"user.created"}})
		if err != nil {
			t.Fatal(err)
		}
		if got := stored(e1.ID).SigningSecret; got != e1.Secret {
			t.Fatalf("without a secret key the secret is stored as given: %q", got)
		}

		key1, key2 := newSecret(t), newSecret(t)
		svc1 := startWebhooks(t, a, key1, nil)
		sealedWithout(e1.ID, e1.Secret)
		e2, err := svc1.Webhooks.CreateWebhook(ctx, steward.WebhookEndpointCreate{URL: rc2.srv.URL, EventTypes: []string{"user.created"}})
		if err != nil {
			t.Fatal(err)
		}
		r2, err := svc1.Webhooks.RotateWebhookSecret(ctx, e2.ID)
		if err != nil {
			t.Fatal(err)
		}
		sealedWithout(e2.ID, e2.Secret, r2.Secret)
		if e := stored(e2.ID); e.SigningSecret == "" || e.PreviousSecret == "" {
			t.Fatalf("after the rotation both secrets are kept: %+v", e)
		}

		// Each signature verifies with its own secret: the old one alone,
		// then the new one alone.
		rc1.secrets = []string{e1.Secret}
		for _, s := range []string{e2.Secret, r2.Secret} {
			rc2.secrets = []string{s}
			a.User(steward.RoleUser)
			deliverAll(t, svc1)
		}
		if got := rc2.requests(); len(got) != 2 || !got[0].ok || !got[1].ok {
			t.Fatalf("deliveries with sealed secrets: %+v, want two verified", got)
		}

		// Rotation of the secret key: re-sealed under the new one, which
		// alone then opens them.
		before := stored(e2.ID).SigningSecret
		startWebhooks(t, a, key2, key1)
		if stored(e2.ID).SigningSecret == before {
			t.Error("a start with a new secret key did not re-seal the secret")
		}
		sealedWithout(e1.ID, e1.Secret)
		sealedWithout(e2.ID, e2.Secret, r2.Secret)
		svc3 := startWebhooks(t, a, key2, nil)
		a.User(steward.RoleUser)
		deliverAll(t, svc3)
		if got := rc1.requests(); len(got) != 3 || !got[0].ok || !got[1].ok || !got[2].ok {
			t.Errorf("deliveries across the key rotation: %+v, want three verified", got)
		}
		if got := rc2.requests(); len(got) != 3 || !got[2].ok {
			t.Errorf("the rotated endpoint after the key rotation: %+v", got)
		}

		rep, err := service.New(service.Config{Store: a.Store}).CheckWebhookSecrets(ctx)
		if err != nil || rep.Endpoints != 2 || rep.Sealed != 2 || len(rep.Problems) != 2 || !strings.Contains(rep.Problems[0], "STEWARD_SECRET_KEY") {
			t.Errorf("CheckWebhookSecrets without a key = %+v, %v", rep, err)
		}
		if rep, err := svc3.CheckWebhookSecrets(ctx); err != nil || len(rep.Problems) != 0 {
			t.Errorf("CheckWebhookSecrets with the key = %+v, %v", rep, err)
		}

		// A sealed secret is bound to its endpoint: moved to another row,
		// it does not open.
		moved := stored(e2.ID)
		moved.SigningSecret = stored(e1.ID).SigningSecret
		if err := a.Store.Update(ctx, func(tx store.Tx) error { return tx.UpdateWebhookEndpoint(ctx, moved) }); err != nil {
			t.Fatal(err)
		}
		if rep, err := svc3.CheckWebhookSecrets(ctx); err != nil || len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0], e2.ID) {
			t.Errorf("CheckWebhookSecrets after moving a sealed secret = %+v, %v", rep, err)
		}
	}, loopbackOK)
}
