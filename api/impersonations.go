package api

import (
	"math"
	"net/http"
	"time"

	"github.com/stewardhq/steward"
)

// impersonateBody is POST /admin/users/{id}/impersonate. Duration is in
// nanoseconds: what a Go client marshalling a time.Duration sends.
type impersonateBody struct {
	Reason          string `json:"reason"`
	DurationSeconds *int64 `json:"duration_seconds"`
	Duration        *int64 `json:"duration"`
	AllowWrites     bool   `json:"allow_writes"`
}

// seconds turns a count of seconds into a Duration, refusing what would
// overflow rather than wrapping it into a short one.
func seconds(n int64, field string) (time.Duration, error) {
	if n < 1 || n > math.MaxInt64/int64(time.Second) {
		return 0, steward.FieldError(field, "must be a positive number of seconds")
	}
	return time.Duration(n) * time.Second, nil
}

func (s *server) impersonateUser(w http.ResponseWriter, r *http.Request) error {
	var b impersonateBody
	if err := decode(r, &b, false); err != nil {
		return err
	}
	in := steward.ImpersonationStart{UserID: r.PathValue("id"), Reason: b.Reason, AllowWrites: b.AllowWrites}
	switch {
	case b.DurationSeconds != nil && b.Duration != nil:
		return steward.FieldError("duration", "give duration_seconds or duration, not both")
	case b.DurationSeconds != nil:
		d, err := seconds(*b.DurationSeconds, "duration_seconds")
		if err != nil {
			return err
		}
		in.Duration = d
	case b.Duration != nil:
		if *b.Duration < 1 {
			return steward.FieldError("duration", "must be a positive number of nanoseconds")
		}
		in.Duration, in.DurationField = time.Duration(*b.Duration), "duration"
	}
	return s.startImpersonation(w, r, in)
}

// impersonateAlias is POST /admin/impersonate, the shape other admin tools
// send. A reason is required here too.
func (s *server) impersonateAlias(w http.ResponseWriter, r *http.Request) error {
	var b struct {
		ExternalUserID string `json:"external_user_id"`
		TTLSec         *int64 `json:"ttl_sec"`
		Reason         string `json:"reason"`
		AllowWrites    bool   `json:"allow_writes"`
	}
	if err := decode(r, &b, false); err != nil {
		return err
	}
	if b.ExternalUserID == "" {
		return steward.FieldError("external_user_id", "is required")
	}
	in := steward.ImpersonationStart{UserID: b.ExternalUserID, Reason: b.Reason, AllowWrites: b.AllowWrites,
		DurationField: "ttl_sec"}
	if b.TTLSec != nil {
		d, err := seconds(*b.TTLSec, "ttl_sec")
		if err != nil {
			return err
		}
		in.Duration = d
	}
	return s.startImpersonation(w, r, in)
}

func (s *server) startImpersonation(w http.ResponseWriter, r *http.Request, in steward.ImpersonationStart) error {
	ri := steward.RequestInfoFrom(r.Context())
	in.IP, in.UserAgent = ri.IP, ri.UserAgent
	res, err := s.Impersonations.StartImpersonation(r.Context(), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, res)
	return nil
}

func (s *server) listImpersonations(w http.ResponseWriter, r *http.Request) error {
	p, err := pageParams(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := steward.ImpersonationFilter{OperatorID: q.Get("operator_id"), UserID: q.Get("user_id")}
	switch v := q.Get("active"); v {
	case "":
	case "true", "false":
		active := v == "true"
		f.Active = &active
	default:
		return badRequest("active must be true or false", map[string]any{"active": "must be true or false"})
	}
	pg, err := s.Impersonations.ListImpersonations(r.Context(), f, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pg)
	return nil
}

func (s *server) getImpersonation(w http.ResponseWriter, r *http.Request) error {
	d, err := s.Impersonations.GetImpersonation(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

func (s *server) stopImpersonation(w http.ResponseWriter, r *http.Request) error {
	if err := decode(r, &struct{}{}, true); err != nil {
		return err
	}
	m, err := s.Impersonations.StopImpersonation(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, m)
	return nil
}

// readOnlyCheck refuses an unsafe request on the auth surface under a
// read-only impersonation. Logging the impersonation's own session out is
// allowed: it only gives access up.
func readOnlyCheck(r *http.Request, p *steward.Principal) error {
	if p.Session == nil || !p.Session.ReadOnly {
		return nil
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil
	}
	if r.URL.Path == "/api/v1/auth/logout" {
		return nil
	}
	return &steward.Error{Code: steward.CodeImpersonationWriteDenied,
		Message: "this is a read-only impersonation: it cannot change anything",
		Details: map[string]any{"impersonator_id": p.Session.ImpersonatorID, "method": r.Method}}
}

// verifySession is POST /platform/sessions/verify: always 200 for a token,
// whatever its state.
func (s *server) verifySession(w http.ResponseWriter, r *http.Request) error {
	var in steward.SessionVerifyRequest
	if err := decode(r, &in, false); err != nil {
		// A token that breaks the text rule names no session that can exist.
		if onlyFieldInvalid(err, "token") {
			writeJSON(w, http.StatusOK, &steward.SessionVerifyResult{Code: steward.SessionVerifyNotFound})
			return nil
		}
		return err
	}
	res, err := s.Auth.VerifySession(r.Context(), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// myImpersonations is GET /auth/impersonations.
func (s *server) myImpersonations(w http.ResponseWriter, r *http.Request) error {
	p, err := pageParams(r)
	if err != nil {
		return err
	}
	pg, err := s.Impersonations.ListMyImpersonations(r.Context(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pg)
	return nil
}
