package api

import (
	"net/http"

	"github.com/stewardhq/steward"
)

func (s *server) getPlatformConfig(w http.ResponseWriter, r *http.Request) error {
	c, err := s.PlatformConfig.PlatformConfig(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

// putPlatformConfig takes a JSON merge patch; each section's rules name a
// bad value as "section.key".
func (s *server) putPlatformConfig(w http.ResponseWriter, r *http.Request) error {
	var p steward.PlatformConfigPatch
	if err := decode(r, &p, false); err != nil {
		return err
	}
	c, err := s.PlatformConfig.UpdatePlatformConfig(r.Context(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}
