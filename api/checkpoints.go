package api

import "net/http"

func (s *server) listAuditCheckpoints(w http.ResponseWriter, r *http.Request) error {
	p, err := listParams(r)
	if err != nil {
		return err
	}
	pg, err := s.Audit.ListAuditCheckpoints(r.Context(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pg)
	return nil
}

func (s *server) createAuditCheckpoint(w http.ResponseWriter, r *http.Request) error {
	c, err := s.Audit.CreateAuditCheckpoint(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, c)
	return nil
}
