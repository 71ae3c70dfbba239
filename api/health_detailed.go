package api

import (
	"net/http"
)

// BuildInfo is what the process says about itself in the detailed health
// report: the build it runs and the replica it is.
type BuildInfo struct {
	Version, Commit, ReplicaID string
}

// detailedHealth answers 200 whatever the status, "down" included: the
// report was made, and every non-2xx answer of the API is an error object.
// Probes that want a status code use /readyz.
func (s *server) detailedHealth(w http.ResponseWriter, r *http.Request) error {
	rep, err := s.Health.DetailedHealth(r.Context())
	if err != nil {
		return err
	}
	rep.Version, rep.Commit, rep.ReplicaID = s.Build.Version, s.Build.Commit, s.Build.ReplicaID
	if s.HTTPConnections != nil {
		rep.HTTP.OpenConnections, rep.HTTP.MaxConnections = s.HTTPConnections()
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}
