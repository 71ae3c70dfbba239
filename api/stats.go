package api

import (
	"net/http"
	"time"
	_ "time/tzdata" // IANA zones for ?tz= even where the host has no zoneinfo

	"github.com/stewardhq/steward"
)

func (s *server) stats(w http.ResponseWriter, r *http.Request) error {
	loc, err := statsLocation(r.URL.Query().Get("tz"))
	if err != nil {
		return err
	}
	st, err := s.Stats.Stats(r.Context(), loc)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

// statsLocation is ?tz=: an IANA zone name, UTC when absent. "Local" (the
// server's own zone, which a client cannot know) is refused like any
// unknown name: 422 naming tz.
func statsLocation(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil || name == "Local" {
		return nil, steward.FieldError("tz", "must be an IANA time zone name such as Europe/Paris")
	}
	return loc, nil
}
