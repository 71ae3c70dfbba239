package verify_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
	"github.com/stewardhq/steward/verify"
)

// TestVerifySession: the client reports what Steward answers, with no cache
// between a logout and the next call; a key without sessions:verify is an
// APIError.
func TestVerifySession(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		op, _ := a.Operator(steward.RoleOwner)
		pk, err := a.Svc.Keys.CreateKey(apptest.As(op), &steward.KeyCreate{Name: "sessions", Type: steward.KeyPlatform,
			Scopes: []steward.Permission{steward.PermSessionsVerify}})
		if err != nil {
			t.Fatal(err)
		}
		c := verify.NewClient(a.Server.URL, pk.Key)
		u := a.User(steward.RoleUser)
		res, err := a.Svc.Impersonations.StartImpersonation(apptest.As(op), steward.ImpersonationStart{UserID: u.ID, Reason: "support"})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		got, err := c.VerifySession(ctx, res.AccessToken, "POST")
		if err != nil || got.Code != steward.SessionVerifyWriteDenied || got.Valid || got.UserID != u.ID ||
			got.Impersonation == nil || got.Impersonation.OperatorID != op.ID || !got.Impersonation.ReadOnly {
			t.Fatalf("read-only impersonation, POST: %+v, %v", got, err)
		}
		if got, err = c.VerifySession(ctx, res.Token, "GET"); err != nil || !got.Valid {
			t.Fatalf("read-only impersonation, GET: %+v, %v", got, err)
		}
		if _, err := a.Svc.Impersonations.StopImpersonation(apptest.As(op), res.ImpersonationID); err != nil {
			t.Fatal(err)
		}
		if got, err = c.VerifySession(ctx, res.Token, "GET"); err != nil || got.Code != steward.SessionVerifyRevoked {
			t.Fatalf("after stop: %+v, %v", got, err)
		}
		keysOnly, err := a.Svc.Keys.CreateKey(apptest.As(op), &steward.KeyCreate{Name: "keys only", Type: steward.KeyPlatform,
			Scopes: []steward.Permission{steward.PermKeysVerify}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = verify.NewClient(a.Server.URL, keysOnly.Key).VerifySession(ctx, res.Token, "")
		var ae *verify.APIError
		if !errors.As(err, &ae) || ae.StatusCode != 403 || ae.Code != steward.CodeForbidden {
			t.Errorf("a key without sessions:verify: %v", err)
		}
	})
}
