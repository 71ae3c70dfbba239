package api

import (
	"net/http"

	"github.com/stewardhq/steward"
)

func (s *server) listSessions(w http.ResponseWriter, r *http.Request) error {
	return s.sessionsPage(w, r, r.URL.Query().Get("user_id"))
}

func (s *server) sessionsPage(w http.ResponseWriter, r *http.Request, userID string) error {
	p, err := listParams(r)
	if err != nil {
		return err
	}
	pg, err := s.Sessions.ListSessions(r.Context(),
		steward.SessionFilter{UserID: userID, Status: r.URL.Query().Get("status")}, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pg)
	return nil
}

func (s *server) revokeSession(w http.ResponseWriter, r *http.Request) error {
	sess, err := s.Sessions.RevokeSession(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, sess)
	return nil
}
