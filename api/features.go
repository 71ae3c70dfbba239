package api

import (
	"net/http"

	"github.com/stewardhq/steward"
)

// Feature flags (docs/flags.md): the tenant and user tiers, and the
// effective flags a product asks for.

func (s *server) getTenantFeatures(w http.ResponseWriter, r *http.Request) error {
	st, err := s.Features.TenantFeatures(r.Context(), r.PathValue("id"))
	return writeFeatureState(w, st, err)
}

// putTenantFeatures takes a merge patch of the tenant's overrides.
func (s *server) putTenantFeatures(w http.ResponseWriter, r *http.Request) error {
	var p map[string]any
	if err := decode(r, &p, false); err != nil {
		return err
	}
	st, err := s.Features.UpdateTenantFeatures(r.Context(), r.PathValue("id"), p)
	return writeFeatureState(w, st, err)
}

func (s *server) getUserFeatures(w http.ResponseWriter, r *http.Request) error {
	st, err := s.Features.UserFeatures(r.Context(), r.PathValue("id"))
	return writeFeatureState(w, st, err)
}

// putUserFeatures takes a merge patch of the user's overrides.
func (s *server) putUserFeatures(w http.ResponseWriter, r *http.Request) error {
	var p map[string]any
	if err := decode(r, &p, false); err != nil {
		return err
	}
	st, err := s.Features.UpdateUserFeatures(r.Context(), r.PathValue("id"), p)
	return writeFeatureState(w, st, err)
}

func writeFeatureState(w http.ResponseWriter, st *steward.FeatureState, err error) error {
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

// platformFeatures answers a product from this replica's cache.
func (s *server) platformFeatures(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f, err := s.Features.EffectiveFeatures(r.Context(), q.Get("user_id"), q.Get("tenant_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, f)
	return nil
}
