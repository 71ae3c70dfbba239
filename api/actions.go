package api

import (
	"net/http"

	"github.com/stewardhq/steward"
)

// Custom admin actions (docs/data-admin.md#custom-admin-actions): the
// actions the caller may run, and running one.

func (s *server) listActions(w http.ResponseWriter, r *http.Request) error {
	by, err := s.Actions.ListActions(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"targets": by})
	return nil
}

// runAction answers the product's JSON object as the product sent it.
func (s *server) runAction(w http.ResponseWriter, r *http.Request) error {
	var in steward.AdminActionCall
	if err := decode(r, &in, false); err != nil {
		return err
	}
	out, err := s.Actions.RunAction(r.Context(), r.PathValue("name"), in)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(append(out, '\n'))
	return nil
}
