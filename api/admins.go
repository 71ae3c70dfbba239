package api

import (
	"net/http"

	"github.com/stewardhq/steward"
)

// Operators as a resource (/admin/admins): the user lifecycle restricted to
// operators; see docs/operators.md.

func (s *server) createAdmin(w http.ResponseWriter, r *http.Request) error {
	var in steward.AdminCreate
	if err := decode(r, &in, false); err != nil {
		return err
	}
	u, err := s.Users.CreateAdmin(r.Context(), &in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, u)
	return nil
}

func (s *server) getAdmin(w http.ResponseWriter, r *http.Request) error {
	return s.userResult(w)(s.Users.GetAdmin(r.Context(), r.PathValue("id")))
}

func (s *server) updateAdmin(w http.ResponseWriter, r *http.Request) error {
	var p steward.AdminPatch
	if err := decode(r, &p, false); err != nil {
		return err
	}
	return s.userResult(w)(s.Users.UpdateAdmin(r.Context(), r.PathValue("id"), &p))
}

// deleteAdmin is deleteUser for operators: a soft delete, or with
// purge=true&confirm=true an erasure.
func (s *server) deleteAdmin(w http.ResponseWriter, r *http.Request) error {
	var b reasonBody
	if err := decode(r, &b, true); err != nil {
		return err
	}
	if b.Reason == "" {
		b.Reason = r.URL.Query().Get("reason")
	}
	uid := r.PathValue("id")
	purge, err := deleteMode(r, "operator", "erases the operator with their sessions and keys", "POST /api/v1/admin/users/{id}/restore")
	if err != nil {
		return err
	}
	u, err := s.Users.DeleteAdmin(r.Context(), uid, b.Reason, purge)
	if err != nil {
		return err
	}
	if purge {
		writeJSON(w, http.StatusOK, map[string]any{"id": uid, "purged": true})
		return nil
	}
	return s.userResult(w)(u, nil)
}
