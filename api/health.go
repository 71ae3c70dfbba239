package api

import (
	"context"
	_ "embed"
	"net/http"
	"time"

	"github.com/stewardhq/steward"
)

func (s *server) healthz(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
	return nil
}

// readyz answers 200 only while the database answers within two seconds.
func (s *server) readyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if s.Ready != nil {
		if err := s.Ready(ctx); err != nil {
			s.log.WarnContext(ctx, "not ready", "err", err)
			return steward.Errorf(steward.CodeUnavailable, "the database is not reachable")
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ready"})
	return nil
}

func (s *server) jwks(w http.ResponseWriter, r *http.Request) error {
	b, err := s.Auth.JWKS(r.Context())
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Cache-Control", "public, max-age=60")
	_, err = w.Write(b)
	return err
}

//go:embed openapi.json
var openAPIDoc []byte

// OpenAPI returns the OpenAPI 3.1 document of the API.
func OpenAPI() []byte { return openAPIDoc }

func (s *server) openapi(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	_, err := w.Write(openAPIDoc)
	return err
}
