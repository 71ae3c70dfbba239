package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
	"github.com/stewardhq/steward/service"
)

// TestDoctorWebhookSecrets on both stores: plaintext secrets are ok and
// said to be; once sealed (a start with a secret key) they are ok with
// the key and CANNOT DECRYPT without it, which is not healthy.
func TestDoctorWebhookSecrets(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		ctx := context.Background()
		if _, err := a.Svc.Webhooks.CreateWebhook(apptest.System(), steward.WebhookEndpointCreate{
			URL: "https://hooks.example.com/in", EventTypes: []string{"*"}}); err != nil {
			t.Fatal(err)
		}
		check := func(svc *service.Service, wantOK bool, want string) {
			t.Helper()
			var out bytes.Buffer
			ok, err := doctorWebhookSecrets(ctx, svc, &out)
			if err != nil || ok != wantOK || !strings.Contains(out.String(), want) {
				t.Errorf("doctor = %v, %v, %q; want %v and %q", ok, err, out.String(), wantOK, want)
			}
		}
		check(a.Svc, true, "webhook secrets: ok (1 endpoints, 1 stored in plaintext")
		key := make([]byte, service.SecretKeySize)
		_, _ = rand.Read(key)
		sealed := service.New(service.Config{Store: a.Store, Now: a.Clock.Now, SecretKey: key})
		if err := sealed.Start(ctx); err != nil {
			t.Fatal(err)
		}
		check(sealed, true, "webhook secrets: ok (1 endpoints, encrypted at rest)")
		check(service.New(service.Config{Store: a.Store}), false, "webhook secrets: CANNOT DECRYPT 1 of 1")
	})
}
