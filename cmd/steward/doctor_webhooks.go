package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/stewardhq/steward/service"
)

// doctorWebhookSecrets writes the webhook endpoints' secrets line: each
// opens with the configured secret key, or is stored in plaintext. It says
// whether all open.
func doctorWebhookSecrets(ctx context.Context, svc *service.Service, out io.Writer) (bool, error) {
	r, err := svc.CheckWebhookSecrets(ctx)
	if err != nil {
		return false, err
	}
	switch {
	case len(r.Problems) > 0:
		fmt.Fprintf(out, "webhook secrets: CANNOT DECRYPT %d of %d: %s\n", len(r.Problems), r.Endpoints, strings.Join(r.Problems, "; "))
		return false, nil
	case r.Sealed == r.Endpoints:
		fmt.Fprintf(out, "webhook secrets: ok (%d endpoints, encrypted at rest)\n", r.Endpoints)
	default:
		fmt.Fprintf(out, "webhook secrets: ok (%d endpoints, %d stored in plaintext: set STEWARD_SECRET_KEY to encrypt them at rest)\n",
			r.Endpoints, r.Endpoints-r.Sealed)
	}
	return true, nil
}
