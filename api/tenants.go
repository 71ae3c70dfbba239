package api

import (
	"net/http"

	"github.com/stewardhq/steward"
)

func (s *server) listPlans(w http.ResponseWriter, r *http.Request) error {
	plans, err := s.Tenants.ListPlans(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": plans})
	return nil
}

func (s *server) listTenants(w http.ResponseWriter, r *http.Request) error {
	p, err := listParams(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := steward.TenantFilter{Q: q.Get("q"), Status: steward.TenantStatus(q.Get("status")), Plan: q.Get("plan")}
	pg, err := s.Tenants.ListTenants(r.Context(), f, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pg)
	return nil
}

func (s *server) createTenant(w http.ResponseWriter, r *http.Request) error {
	var in steward.TenantCreate
	if err := decode(r, &in, false); err != nil {
		return err
	}
	t, err := s.Tenants.CreateTenant(r.Context(), &in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, t)
	return nil
}

// getTenant takes an id (ten_…) or a slug.
func (s *server) getTenant(w http.ResponseWriter, r *http.Request) error {
	t, err := s.Tenants.GetTenant(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}

func (s *server) updateTenant(w http.ResponseWriter, r *http.Request) error {
	var p steward.TenantPatch
	if err := decode(r, &p, false); err != nil {
		return err
	}
	t, err := s.Tenants.UpdateTenant(r.Context(), r.PathValue("id"), &p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}

func (s *server) tenantDetail(w http.ResponseWriter, r *http.Request) error {
	d, err := s.Tenants.TenantDetail(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

// cascadeResult renders the answer of suspend, unsuspend, delete and restore.
func cascadeResult(w http.ResponseWriter, c *steward.TenantCascade, err error) error {
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (s *server) suspendTenant(w http.ResponseWriter, r *http.Request) error {
	var b reasonBody
	if err := decode(r, &b, true); err != nil {
		return err
	}
	c, err := s.Tenants.SuspendTenant(r.Context(), r.PathValue("id"), b.Reason)
	return cascadeResult(w, c, err)
}

func (s *server) unsuspendTenant(w http.ResponseWriter, r *http.Request) error {
	if err := decode(r, &struct{}{}, true); err != nil {
		return err
	}
	c, err := s.Tenants.UnsuspendTenant(r.Context(), r.PathValue("id"))
	return cascadeResult(w, c, err)
}

func (s *server) restoreTenant(w http.ResponseWriter, r *http.Request) error {
	if err := decode(r, &struct{}{}, true); err != nil {
		return err
	}
	c, err := s.Tenants.RestoreTenant(r.Context(), r.PathValue("id"))
	return cascadeResult(w, c, err)
}

// deleteTenant soft-deletes, or with purge=true&confirm=true erases.
func (s *server) deleteTenant(w http.ResponseWriter, r *http.Request) error {
	var b reasonBody
	if err := decode(r, &b, true); err != nil {
		return err
	}
	if b.Reason == "" {
		b.Reason = r.URL.Query().Get("reason")
	}
	tid := r.PathValue("id")
	purge, err := deleteMode(r, "tenant", "erases the tenant, its members, their sessions and keys, its ledger and usage", "POST /api/v1/admin/tenants/{id}/restore")
	if err != nil {
		return err
	}
	if purge {
		res, err := s.Tenants.PurgeTenant(r.Context(), tid, b.Reason)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, res)
		return nil
	}
	c, err := s.Tenants.DeleteTenant(r.Context(), tid, b.Reason)
	return cascadeResult(w, c, err)
}

func (s *server) changePlan(w http.ResponseWriter, r *http.Request) error {
	var in steward.PlanChangeInput
	if err := decode(r, &in, false); err != nil {
		return err
	}
	res, err := s.Tenants.ChangePlan(r.Context(), r.PathValue("id"), &in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func (s *server) listPlanChanges(w http.ResponseWriter, r *http.Request) error {
	p, err := pageParams(r)
	if err != nil {
		return err
	}
	pg, err := s.Tenants.ListPlanChanges(r.Context(), r.PathValue("id"), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pg)
	return nil
}
