package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/stewardhq/steward"
)

// MaxBodyBytes is the largest request body accepted (413 beyond).
const MaxBodyBytes = 1 << 20

// writeJSON encodes v before anything is written, so that a value JSON
// cannot encode (a time past year 9999, say) becomes a logged 500 INTERNAL
// with a body, never a status with an empty or cut-off body.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		encodeFailed(w, fmt.Errorf("encoding the %d answer: %w", status, err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// encodeFailed answers 500 INTERNAL for an answer that could not be encoded
// and logs why, through the server's logger when w is (or wraps) the
// request's recorder. The idempotency capture does not wrap it; there the
// default logger gets the cause, and the answer (a 5xx, never kept) still
// carries the flat error shape.
func encodeFailed(w http.ResponseWriter, err error) {
	for x := w; x != nil; {
		if rec, ok := x.(*recorder); ok {
			rec.s.writeError(w, rec.r, err)
			return
		}
		u, ok := x.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			break
		}
		x = u.Unwrap()
	}
	rid := w.Header().Get("X-Request-ID")
	slog.Error("internal error", "err", err, "request_id", rid)
	body, _ := json.Marshal(errorBody{Code: steward.CodeInternal,
		Message: "internal error; quote the request id when reporting it", Details: map[string]any{}, RequestID: rid})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusInternalServerError)
	_, _ = w.Write(append(body, '\n'))
}

func badRequest(msg string, fields map[string]any) error {
	e := &steward.Error{Code: steward.CodeBadRequest, Message: msg, Details: map[string]any{}}
	if fields != nil {
		e.Details["fields"] = fields
	}
	return e
}

// decode reads one JSON object into v: limited to MaxBodyBytes, unknown
// fields refused, trailing data refused. An empty body decodes as {} when
// optional is true.
func decode(r *http.Request, v any, optional bool) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		if optional {
			return nil
		}
		return badRequest("a JSON object body is required", nil)
	}
	if t := strings.TrimSpace(string(body)); t[0] != '{' {
		return badRequest("the body must be a JSON object", nil)
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tm *time.ParseError
		if errors.As(err, &tm) { // the error does not say which field: find the value
			field := findField(body, func(_ []byte, s string) bool { return s == tm.Value })
			return badRequest(field+" must be an RFC 3339 time", map[string]any{field: "must be an RFC 3339 time"})
		}
		return decodeError(err)
	}
	if dec.More() {
		return badRequest("unexpected data after the JSON object", nil)
	}
	return checkBody(body, v)
}

// readBody reads the whole body, up to MaxBodyBytes.
func readBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, MaxBodyBytes))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, steward.Errorf(steward.CodePayloadTooLarge, "request body is larger than 1 MiB")
	}
	if err != nil {
		return nil, badRequest("could not read the request body", nil)
	}
	return body, nil
}

func decodeError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return badRequest("malformed JSON at byte "+strconv.FormatInt(syn.Offset, 10), nil)
	case errors.As(err, &typ):
		field := typ.Field
		// A field of an embedded struct comes as "GoType.json_name"; our
		// JSON names are lower-case, so an upper-case first segment is the
		// Go type and not part of what the client sent.
		if head, rest, ok := strings.Cut(field, "."); ok && head != "" && head[0] >= 'A' && head[0] <= 'Z' {
			field = rest
		}
		if field == "" {
			field = "body"
		}
		return badRequest(field+" must be of type "+typ.Type.String(), map[string]any{field: "must be of type " + jsonType(typ.Type.String())})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return badRequest("unknown field "+name, map[string]any{name: "unknown field"})
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("truncated JSON", nil)
	}
	return badRequest("invalid JSON: "+err.Error(), nil)
}

func jsonType(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"):
		return "array"
	case strings.HasPrefix(goType, "map"), strings.HasPrefix(goType, "struct"):
		return "object"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "float"), strings.HasPrefix(goType, "uint"):
		return "number"
	case goType == "bool":
		return "boolean"
	}
	return "string"
}

// listParams reads limit, cursor and include_total.
func listParams(r *http.Request) (steward.ListParams, error) {
	p, err := pageParams(r)
	p.IncludeTotal = boolParam(r, "include_total")
	return p, err
}

// pageParams reads limit and cursor, for the lists that count no total
// (include_total is refused there rather than ignored).
func pageParams(r *http.Request) (steward.ListParams, error) {
	q := r.URL.Query()
	p := steward.ListParams{Cursor: q.Get("cursor")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > steward.MaxLimit {
			return p, badRequest("limit must be an integer between 1 and 200", map[string]any{"limit": "must be an integer between 1 and 200"})
		}
		p.Limit = n
	}
	return p, nil
}

// timeParam reads an optional RFC 3339 query parameter.
func timeParam(r *http.Request, name string) (*time.Time, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return nil, badRequest(name+" must be an RFC 3339 time", map[string]any{name: "must be an RFC 3339 time"})
	}
	if msg := steward.CheckTime(t); msg != "" {
		return nil, steward.FieldError(name, msg)
	}
	t = t.UTC()
	return &t, nil
}

func boolParam(r *http.Request, name string) bool { return r.URL.Query().Get(name) == "true" }
