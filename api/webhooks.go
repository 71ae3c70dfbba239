package api

import (
	"net/http"
)

func (s *server) listWebhookEventTypes(w http.ResponseWriter, r *http.Request) error {
	types, err := s.Webhooks.EventTypes(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": types})
	return nil
}
