package api

import (
	"net/http"

	"github.com/stewardhq/steward"
)

func (s *server) listUsers(w http.ResponseWriter, r *http.Request) error {
	p, err := listParams(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := steward.UserFilter{Q: q.Get("q"), Status: steward.UserStatus(q.Get("status")),
		Role: steward.Role(q.Get("role")), TenantID: q.Get("tenant_id"), Tag: q.Get("tag")}
	pg, err := s.Users.ListUsers(r.Context(), f, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pg)
	return nil
}

func (s *server) listAdmins(w http.ResponseWriter, r *http.Request) error {
	p, err := listParams(r)
	if err != nil {
		return err
	}
	pg, err := s.Users.ListAdmins(r.Context(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pg)
	return nil
}

func (s *server) createUser(w http.ResponseWriter, r *http.Request) error {
	var in steward.UserCreate
	if err := decode(r, &in, false); err != nil {
		return err
	}
	u, err := s.Users.CreateUser(r.Context(), &in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, u)
	return nil
}

func (s *server) getUser(w http.ResponseWriter, r *http.Request) error {
	u, err := s.Users.GetUser(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, u)
	return nil
}

// updateUser serves PUT and PATCH alike: both are JSON Merge Patch.
func (s *server) updateUser(w http.ResponseWriter, r *http.Request) error {
	var p steward.UserPatch
	if err := decode(r, &p, false); err != nil {
		return err
	}
	return s.userResult(w)(s.Users.UpdateUser(r.Context(), r.PathValue("id"), &p))
}

type reasonBody struct {
	Reason string `json:"reason"`
}

func (s *server) deleteUser(w http.ResponseWriter, r *http.Request) error {
	var b reasonBody
	if err := decode(r, &b, true); err != nil {
		return err
	}
	if b.Reason == "" {
		b.Reason = r.URL.Query().Get("reason")
	}
	uid := r.PathValue("id")
	purge, err := deleteMode(r, "user", "erases the user with their sessions and keys", "POST /api/v1/admin/users/{id}/restore")
	if err != nil {
		return err
	}
	if purge {
		if err := s.Users.PurgeUser(r.Context(), uid, b.Reason); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"id": uid, "purged": true})
		return nil
	}
	return s.userResult(w)(s.Users.DeleteUser(r.Context(), uid, b.Reason))
}

func (s *server) restoreUser(w http.ResponseWriter, r *http.Request) error {
	return s.userResult(w)(s.Users.RestoreUser(r.Context(), r.PathValue("id")))
}

func (s *server) suspendUser(w http.ResponseWriter, r *http.Request) error {
	var b reasonBody
	if err := decode(r, &b, true); err != nil {
		return err
	}
	return s.userResult(w)(s.Users.SuspendUser(r.Context(), r.PathValue("id"), b.Reason))
}

func (s *server) unsuspendUser(w http.ResponseWriter, r *http.Request) error {
	if err := decode(r, &struct{}{}, true); err != nil {
		return err
	}
	return s.userResult(w)(s.Users.UnsuspendUser(r.Context(), r.PathValue("id")))
}

func (s *server) banUser(w http.ResponseWriter, r *http.Request) error {
	var b struct {
		Reason    string  `json:"reason"`
		ExpiresAt *string `json:"expires_at"`
	}
	if err := decode(r, &b, false); err != nil {
		return err
	}
	in := steward.BanInput{Reason: b.Reason}
	var err error
	if in.ExpiresAt, err = optionalTime(b.ExpiresAt, "expires_at"); err != nil {
		return err
	}
	return s.userResult(w)(s.Users.BanUser(r.Context(), r.PathValue("id"), in))
}

func (s *server) unbanUser(w http.ResponseWriter, r *http.Request) error {
	if err := decode(r, &struct{}{}, true); err != nil {
		return err
	}
	return s.userResult(w)(s.Users.UnbanUser(r.Context(), r.PathValue("id")))
}

func (s *server) forceLogout(w http.ResponseWriter, r *http.Request) error {
	if err := decode(r, &struct{}{}, true); err != nil {
		return err
	}
	res, err := s.Users.ForceLogout(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func (s *server) changePassword(w http.ResponseWriter, r *http.Request) error {
	var b struct {
		NewPassword string `json:"new_password"`
	}
	if err := decode(r, &b, false); err != nil {
		return err
	}
	return s.userResult(w)(s.Users.ChangePassword(r.Context(), r.PathValue("id"), b.NewPassword))
}

func (s *server) changeRole(w http.ResponseWriter, r *http.Request) error {
	var b struct {
		Role steward.Role `json:"role"`
	}
	if err := decode(r, &b, false); err != nil {
		return err
	}
	return s.userResult(w)(s.Users.ChangeRole(r.Context(), r.PathValue("id"), b.Role))
}

func (s *server) bulkUsers(w http.ResponseWriter, r *http.Request) error {
	var in steward.BulkRequest
	if err := decode(r, &in, false); err != nil {
		return err
	}
	res, err := s.Users.BulkUsers(r.Context(), &in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func (s *server) userSessions(w http.ResponseWriter, r *http.Request) error {
	uid := r.PathValue("id")
	if _, err := s.Users.GetUser(r.Context(), uid); err != nil {
		return err
	}
	return s.sessionsPage(w, r, uid)
}

func (s *server) userAudit(w http.ResponseWriter, r *http.Request) error {
	uid := r.PathValue("id")
	if _, err := s.Users.GetUser(r.Context(), uid); err != nil {
		return err
	}
	return s.auditPage(w, r, &steward.AuditFilter{TargetType: "user", TargetID: uid})
}

// userResult writes a user or returns the error.
func (s *server) userResult(w http.ResponseWriter) func(*steward.User, error) error {
	return func(u *steward.User, err error) error {
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, u)
		return nil
	}
}
