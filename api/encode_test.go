package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
)

// TestWriteJSONEncodingFailure: an answer JSON cannot encode is a 500
// INTERNAL with the flat error body and the request id, and the cause is
// logged; nothing of the failed answer (its status, a partial body) leaks.
func TestWriteJSONEncodingFailure(t *testing.T) {
	unencodable := map[string]any{"expires_at": time.Date(10000, 1, 1, 4, 0, 0, 0, time.UTC)}
	for _, c := range []struct {
		name  string
		write func(w http.ResponseWriter, s *server, r *http.Request)
	}{
		{"writeJSON", func(w http.ResponseWriter, s *server, r *http.Request) { writeJSON(w, http.StatusCreated, unencodable) }},
		{"error details", func(w http.ResponseWriter, s *server, r *http.Request) {
			s.writeError(w, r, &steward.Error{Code: steward.CodeValidation, Message: "m", Details: map[string]any{"bad": func() {}}})
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var logs bytes.Buffer
			s := &server{log: slog.New(slog.NewTextHandler(&logs, nil))}
			r := httptest.NewRequest(http.MethodGet, "/api/v1/admin/api-keys", nil)
			r = r.WithContext(context.WithValue(r.Context(), requestIDKey{}, "req_encode"))
			out := httptest.NewRecorder()
			c.write(&recorder{ResponseWriter: out, s: s, r: r}, s, r)

			var body map[string]any
			if err := json.Unmarshal(out.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q is not JSON: %v", out.Body.String(), err)
			}
			if out.Code != http.StatusInternalServerError || body["code"] != steward.CodeInternal || body["request_id"] != "req_encode" {
				t.Errorf("got %d %s, want 500 INTERNAL with the request id", out.Code, out.Body.String())
			}
			if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "json") ||
				!strings.Contains(logs.String(), "req_encode") {
				t.Errorf("the cause was not logged at ERROR with the request id: %s", logs.String())
			}
		})
	}
}

// TestWriteJSONEncodingFailureCaptured: inside the idempotency capture the
// answer is a 500 INTERNAL body too (a 5xx is never kept for replay).
func TestWriteJSONEncodingFailureCaptured(t *testing.T) {
	c := &capture{header: http.Header{}}
	writeJSON(c, http.StatusCreated, map[string]any{"t": time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)})
	var body map[string]any
	if err := json.Unmarshal(c.buf.Bytes(), &body); err != nil || c.status != http.StatusInternalServerError || body["code"] != steward.CodeInternal {
		t.Errorf("got %d %q (%v), want 500 INTERNAL", c.status, c.buf.String(), err)
	}
}

func TestHeaderText(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{"curl/8", 512, "curl/8"},
		{"a\xffb", 512, "a\uFFFDb"},
		{"ééé", 5, "éé"}, // never cut inside a character
		{"abc", 2, "ab"},
	} {
		if got := headerText(c.in, c.n); got != c.want {
			t.Errorf("headerText(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}

func TestInvalidUTF8Field(t *testing.T) {
	for _, c := range []struct{ body, want string }{
		{"{\"name\":\"a\xff\"}", "name"},
		{"{\"ok\":1,\"metadata\":{\"a\":[1,\"x\",{\"b\":\"\xc3\"}]}}", "metadata.a[2].b"},
		{"{\"events\":[{\"id\":\"1\"},{\"id\":\"\xfe\"}]}", "events[1].id"},
		{"{\"metadata\":{\"\xff\":1}}", "metadata"},
	} {
		if got := invalidUTF8Field([]byte(c.body)); got != c.want {
			t.Errorf("invalidUTF8Field(%q) = %q, want %q", c.body, got, c.want)
		}
	}
}

func TestUnparsableTimeNamesTheField(t *testing.T) {
	for _, c := range []struct{ body, want string }{
		{`{"tenant_id":"t","amount":1,"description":"d","expires_at":"10000-01-01T00:00:00Z"}`, "expires_at"},
		{`{"events":[{"id":"a","occurred_at":"2026-01-01T00:00:00Z"},{"id":"b","occurred_at":"yesterday"}]}`, "events[1].occurred_at"},
	} {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(c.body))
		var v struct {
			steward.GrantInput
			Events []steward.UsageEventInput `json:"events"`
		}
		err := decode(r, &v, false)
		var e *steward.Error
		if !errors.As(err, &e) || e.Code != steward.CodeBadRequest {
			t.Fatalf("%s: got %v, want BAD_REQUEST", c.body, err)
		}
		if fields, _ := e.Details["fields"].(map[string]any); fields[c.want] == nil {
			t.Errorf("%s: fields %v do not name %s", c.body, e.Details["fields"], c.want)
		}
	}
}
