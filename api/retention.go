package api

import (
	"net/http"

	"github.com/stewardhq/steward"
)

func (s *server) getRetention(w http.ResponseWriter, r *http.Request) error {
	st, err := s.Retention.Retention(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

// putRetention takes a JSON merge patch: the service names a bad data set.
func (s *server) putRetention(w http.ResponseWriter, r *http.Request) error {
	var p steward.RetentionPatch
	if err := decode(r, &p, false); err != nil {
		return err
	}
	st, err := s.Retention.UpdateRetention(r.Context(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

func (s *server) runRetention(w http.ResponseWriter, r *http.Request) error {
	run, err := s.Retention.RunRetention(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, run)
	return nil
}
