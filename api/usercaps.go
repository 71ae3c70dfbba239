package api

import (
	"net/http"

	"github.com/stewardhq/steward"
)

func (s *server) getUserSpending(w http.ResponseWriter, r *http.Request) error {
	v, err := s.UserSpending.UserSpending(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// putUserSpending takes a JSON merge patch of the user's own caps.
func (s *server) putUserSpending(w http.ResponseWriter, r *http.Request) error {
	var p steward.UserCapsPatch
	if err := decode(r, &p, false); err != nil {
		return err
	}
	v, err := s.UserSpending.UpdateUserSpending(r.Context(), r.PathValue("id"), &p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}
