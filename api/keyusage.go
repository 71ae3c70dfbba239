package api

import (
	"net/http"

	"github.com/stewardhq/steward"
)

// keyUsageInput reads the query both key-usage reports take.
func keyUsageInput(r *http.Request) (*steward.KeyUsageInput, error) {
	q := r.URL.Query()
	in := &steward.KeyUsageInput{Granularity: steward.KeyUsageGranularity(q.Get("granularity")), Code: q.Get("code")}
	var err error
	if in.Since, err = timeParam(r, "since"); err != nil {
		return nil, err
	}
	if in.Until, err = timeParam(r, "until"); err != nil {
		return nil, err
	}
	return in, nil
}

func (s *server) keyUsage(w http.ResponseWriter, r *http.Request) error {
	in, err := keyUsageInput(r)
	if err != nil {
		return err
	}
	in.KeyID = r.PathValue("id")
	rep, err := s.KeyUsage.KeyUsage(r.Context(), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

func (s *server) keysUsage(w http.ResponseWriter, r *http.Request) error {
	in, err := keyUsageInput(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	in.TenantID, in.KeyID = q.Get("tenant_id"), q.Get("key_id")
	rep, err := s.KeyUsage.KeysUsage(r.Context(), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}
