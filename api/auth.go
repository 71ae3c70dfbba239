package api

import (
	"net/http"

	"github.com/stewardhq/steward"
)

func (s *server) login(w http.ResponseWriter, r *http.Request) error {
	var in steward.LoginInput
	if err := decode(r, &in, false); err != nil {
		return err
	}
	ri := steward.RequestInfoFrom(r.Context())
	in.IP, in.UserAgent = ri.IP, ri.UserAgent
	res, err := s.Auth.Login(r.Context(), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// refresh takes the session token in the body or as the bearer credential.
func (s *server) refresh(w http.ResponseWriter, r *http.Request) error {
	var b struct {
		SessionToken string `json:"session_token"`
	}
	if err := decode(r, &b, true); err != nil {
		return err
	}
	if b.SessionToken == "" {
		b.SessionToken = bearer(r)
	}
	if b.SessionToken == "" {
		return steward.Errorf(steward.CodeUnauthenticated, "send the session token in the body or as the bearer credential")
	}
	res, err := s.Auth.Refresh(r.Context(), b.SessionToken)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func (s *server) logout(w http.ResponseWriter, r *http.Request) error {
	if err := s.Auth.Logout(r.Context(), bearer(r)); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"logged_out": true})
	return nil
}

func (s *server) me(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, principalFrom(r.Context()).User)
	return nil
}

// updateMe is PATCH /auth/me: the user's own name and username.
func (s *server) updateMe(w http.ResponseWriter, r *http.Request) error {
	var in steward.SelfUpdate
	if err := decode(r, &in, false); err != nil {
		return err
	}
	u, err := s.Auth.UpdateMe(r.Context(), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, u)
	return nil
}

// changeOwnPassword is POST /auth/change-password.
func (s *server) changeOwnPassword(w http.ResponseWriter, r *http.Request) error {
	var b struct {
		CurrentPassword string `json:"current_password"`
		NewPassword     string `json:"new_password"`
	}
	if err := decode(r, &b, false); err != nil {
		return err
	}
	res, err := s.Auth.ChangeOwnPassword(r.Context(), b.CurrentPassword, b.NewPassword)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}
