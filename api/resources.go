package api

import (
	"context"
	"net/http"

	"github.com/stewardhq/steward"
)

// serviceChecksPath names the path wildcards whose values the service
// validates itself: a resource id is the product's own (1-128 of
// [A-Za-z0-9._:-], steward.ValidResourceID), wider than pathValueRe, and a
// bad one is 422 naming id on PUT, 404 on reads.
// A data admin row's key (pk) is decoded and checked by store/datatables.
var serviceChecksPath = map[string]bool{"resource_id": true, "pk": true}

// reportResource records what the product reports of one of its resources
// (PUT /platform/resources/{id}): a heartbeat.
func (s *server) reportResource(w http.ResponseWriter, r *http.Request) error {
	var in steward.ResourceReport
	if err := decode(r, &in, false); err != nil {
		return err
	}
	v, err := s.Resources.ReportResource(r.Context(), r.PathValue("resource_id"), &in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// platformResource lets the product read a resource's desired state back.
func (s *server) platformResource(w http.ResponseWriter, r *http.Request) error {
	v, err := s.Resources.PlatformResource(r.Context(), r.PathValue("resource_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *server) listComputers(w http.ResponseWriter, r *http.Request) error {
	p, err := pageParams(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := steward.ResourceFilter{Status: steward.ResourceStatus(q.Get("status")), TenantID: q.Get("tenant_id"), Kind: q.Get("kind")}
	pg, err := s.Resources.ListResources(r.Context(), f, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pg)
	return nil
}

func (s *server) getComputer(w http.ResponseWriter, r *http.Request) error {
	v, err := s.Resources.GetResource(r.Context(), r.PathValue("resource_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// computerAction answers suspend, resume, restart and delete: an optional
// empty object in, the resource with its new desired state out.
func computerAction(w http.ResponseWriter, r *http.Request, act func(context.Context, string) (*steward.Resource, error)) error {
	if err := decode(r, &struct{}{}, true); err != nil {
		return err
	}
	v, err := act(r.Context(), r.PathValue("resource_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *server) suspendComputer(w http.ResponseWriter, r *http.Request) error {
	return computerAction(w, r, s.Resources.SuspendResource)
}

func (s *server) resumeComputer(w http.ResponseWriter, r *http.Request) error {
	return computerAction(w, r, s.Resources.ResumeResource)
}

func (s *server) restartComputer(w http.ResponseWriter, r *http.Request) error {
	return computerAction(w, r, s.Resources.RestartResource)
}

func (s *server) deleteComputer(w http.ResponseWriter, r *http.Request) error {
	return computerAction(w, r, s.Resources.DeleteResource)
}

func (s *server) purgeStaleComputers(w http.ResponseWriter, r *http.Request) error {
	var in steward.ResourcePurge
	if err := decode(r, &in, true); err != nil {
		return err
	}
	v, err := s.Resources.PurgeStaleResources(r.Context(), in.OlderThan)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}
