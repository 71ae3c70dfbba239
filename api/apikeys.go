package api

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/stewardhq/steward"
)

func (s *server) listKeys(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	return s.keysPage(w, r, steward.KeyFilter{TenantID: q.Get("tenant_id"), UserID: q.Get("user_id"),
		Status: steward.KeyStatus(q.Get("status")), Type: steward.KeyType(q.Get("type"))})
}

func (s *server) userKeys(w http.ResponseWriter, r *http.Request) error {
	uid := r.PathValue("id")
	if _, err := s.Users.GetUser(r.Context(), uid); err != nil {
		return err
	}
	q := r.URL.Query()
	return s.keysPage(w, r, steward.KeyFilter{UserID: uid, Status: steward.KeyStatus(q.Get("status")),
		Type: steward.KeyType(q.Get("type"))})
}

func (s *server) keysPage(w http.ResponseWriter, r *http.Request, f steward.KeyFilter) error {
	p, err := listParams(r)
	if err != nil {
		return err
	}
	pg, err := s.Keys.ListKeys(r.Context(), f, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pg)
	return nil
}

// keyCreateBody mirrors steward.KeyCreate with expires_at as text, so a
// malformed time is reported on its own field.
type keyCreateBody struct {
	steward.KeyCreate
	ExpiresAt *string `json:"expires_at"`
}

func (s *server) createKey(w http.ResponseWriter, r *http.Request) error {
	var b keyCreateBody
	if err := decode(r, &b, false); err != nil {
		return err
	}
	in := b.KeyCreate
	var err error
	if in.ExpiresAt, err = optionalTime(b.ExpiresAt, "expires_at"); err != nil {
		return err
	}
	k, err := s.Keys.CreateKey(r.Context(), &in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, k)
	return nil
}

// optionalTime parses an optional RFC 3339 body field.
func optionalTime(v *string, field string) (*time.Time, error) {
	if v == nil || *v == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339Nano, *v)
	if err != nil {
		return nil, badRequest(field+" must be an RFC 3339 time", map[string]any{field: "must be an RFC 3339 time"})
	}
	if msg := steward.CheckTime(t); msg != "" {
		return nil, steward.FieldError(field, msg)
	}
	return &t, nil
}

func (s *server) getKey(w http.ResponseWriter, r *http.Request) error {
	return s.keyResult(w)(s.Keys.GetKey(r.Context(), r.PathValue("id")))
}

func (s *server) updateKey(w http.ResponseWriter, r *http.Request) error {
	var p steward.KeyPatch
	if err := decode(r, &p, false); err != nil {
		return err
	}
	return s.keyResult(w)(s.Keys.UpdateKey(r.Context(), r.PathValue("id"), &p))
}

func (s *server) revokeKey(w http.ResponseWriter, r *http.Request) error {
	var b reasonBody
	if err := decode(r, &b, true); err != nil {
		return err
	}
	if b.Reason == "" {
		b.Reason = r.URL.Query().Get("reason")
	}
	return s.keyResult(w)(s.Keys.RevokeKey(r.Context(), r.PathValue("id"), b.Reason))
}

func (s *server) bulkRevokeKeys(w http.ResponseWriter, r *http.Request) error {
	var b struct {
		KeyIDs []string `json:"key_ids"`
	}
	if err := decode(r, &b, false); err != nil {
		return err
	}
	res, err := s.Keys.BulkRevokeKeys(r.Context(), b.KeyIDs)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func (s *server) rotateKey(w http.ResponseWriter, r *http.Request) error {
	var in steward.KeyRotate
	if err := decode(r, &in, true); err != nil {
		return err
	}
	k, err := s.Keys.RotateKey(r.Context(), r.PathValue("id"), &in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, k)
	return nil
}

func (s *server) keyStats(w http.ResponseWriter, r *http.Request) error {
	st, err := s.Keys.KeyStats(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

// verifyKey always answers 200 for the key it checks; only the caller's own
// credential or a malformed body is an error.
func (s *server) verifyKey(w http.ResponseWriter, r *http.Request) error {
	var in steward.VerifyRequest
	if err := decode(r, &in, false); err != nil {
		// A key that breaks the text rule names no key that can exist: it
		// gets the verify answer (always 200), not a 422.
		if onlyFieldInvalid(err, "key") {
			writeJSON(w, http.StatusOK, &steward.VerifyResult{Code: steward.VerifyNotFound, Scopes: []steward.Permission{}})
			return nil
		}
		return err
	}
	res, err := s.Keys.VerifyKey(r.Context(), &in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func (s *server) keyResult(w http.ResponseWriter) func(*steward.APIKey, error) error {
	return func(k *steward.APIKey, err error) error {
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, k)
		return nil
	}
}

// idempotent honours Idempotency-Key on a POST: the first answer (success
// or client error) is kept for 24 h and replayed to the same caller sending
// the same key and body, with Idempotent-Replayed: true.
func (s *server) idempotent(h handler) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		key := r.Header.Get("Idempotency-Key")
		if key == "" {
			return h(w, r)
		}
		body, err := readBody(r)
		if err != nil {
			return err
		}
		// Scoped to who acts, not to the credential: a client that signs in
		// again and retries still gets its first answer.
		a, _ := steward.ActorFrom(r.Context())
		scope := a.Type + " " + a.ID + " " + r.Method + " " + r.URL.Path
		var first *capture
		ans, replayed, err := s.Idem.Idempotent(r.Context(), scope, key, body, func() steward.Answer {
			first = &capture{header: http.Header{}}
			r.Body = io.NopCloser(bytes.NewReader(body))
			if err := h(first, r); err != nil {
				s.writeError(first, r, err)
			}
			return steward.Answer{Status: first.status, Body: first.buf.Bytes()}
		})
		if err != nil {
			return err
		}
		if first != nil && !replayed {
			for k, v := range first.header {
				w.Header()[k] = v
			}
		}
		if replayed {
			w.Header().Set("Idempotent-Replayed", "true")
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(ans.Status)
		_, err = w.Write(ans.Body)
		return err
	}
}

// capture is a ResponseWriter that keeps the answer for the idempotency store.
type capture struct {
	header http.Header
	status int
	buf    bytes.Buffer
}

func (c *capture) Header() http.Header { return c.header }
func (c *capture) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
}
func (c *capture) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	return c.buf.Write(b)
}

// onlyFieldInvalid reports whether err is a validation failure of field and
// of no other.
func onlyFieldInvalid(err error, field string) bool {
	var e *steward.Error
	if !errors.As(err, &e) || e.Code != steward.CodeValidation {
		return false
	}
	fields, _ := e.Details["fields"].(map[string]any)
	_, ok := fields[field]
	return ok && len(fields) == 1
}
