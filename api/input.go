package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/stewardhq/steward"
)

// The input rules (steward.CheckText, CheckTime, CheckJSON) applied to what
// arrives over HTTP, once per kind of input, before any handler runs or any
// query is made: JSON bodies in decode (checkBody), query strings and path
// values in adapt (checkRequest).

// checkBody applies the input rules to a decoded body: the raw text must be
// valid UTF-8 (the decoder would silently turn bad bytes into U+FFFD), and
// the decoded value passes steward.ValidateInput.
func checkBody(body []byte, v any) error {
	if !utf8.Valid(body) {
		return steward.FieldError(invalidUTF8Field(body), "must be valid UTF-8")
	}
	return steward.ValidateInput(v)
}

// invalidUTF8Field names the field whose string holds the first invalid
// UTF-8 in body ("body" when it cannot tell). body is valid JSON.
func invalidUTF8Field(body []byte) string {
	return findField(body, func(raw []byte, _ string) bool { return !utf8.Valid(raw) })
}

// findField walks the JSON text body and names the field of the first
// string (value or object key) for which match is true, given the
// token's raw bytes and its decoded text: "metadata.a[2].b". A matching key
// names the object that holds it. "body" when nothing matches.
func findField(body []byte, match func(raw []byte, s string) bool) string {
	type frame struct {
		object  bool
		key     string
		index   int
		wantKey bool
	}
	var stack []*frame
	path := func() string {
		var b strings.Builder
		for _, f := range stack {
			if f.object {
				if b.Len() > 0 {
					b.WriteByte('.')
				}
				b.WriteString(f.key)
			} else {
				b.WriteString("[" + strconv.Itoa(f.index) + "]")
			}
		}
		if b.Len() == 0 {
			return "body"
		}
		return b.String()
	}
	// After a value inside a container, move to the next key or index.
	next := func() {
		if n := len(stack); n > 0 {
			if f := stack[n-1]; f.object {
				f.wantKey = true
			} else {
				f.index++
			}
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	for {
		before := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return "body"
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				stack = append(stack, &frame{object: true, wantKey: true})
			case '[':
				stack = append(stack, &frame{})
			default:
				stack = stack[:len(stack)-1]
				next()
			}
			continue
		case string:
			// The bytes between the offsets are the token with ASCII
			// separators around it.
			hit := match(body[before:dec.InputOffset()], t)
			if n := len(stack); n > 0 && stack[n-1].object && stack[n-1].wantKey {
				if hit {
					stack = stack[:n-1]
					return path()
				}
				stack[n-1].key, stack[n-1].wantKey = t, false
				continue
			}
			if hit {
				return path()
			}
		}
		next()
	}
}

// pathValueRe is what a path value may be: an id (usr_01J…, or a
// product's own id) or a slug. Anything else cannot name a row.
var pathValueRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$`)

var wildcardRe = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*)(?:\.\.\.)?\}`)

// pathWildcards lists the wildcard names of a route pattern.
func pathWildcards(pattern string) []string {
	var names []string
	for _, m := range wildcardRe.FindAllStringSubmatch(pattern, -1) {
		names = append(names, m[1])
	}
	return names
}

// checkRequest applies the input rules to the path values of r and to q, its
// query string as the route's querySpec already parsed and checked it: a
// path value that cannot be an id or slug is 404 (no row can have it); a
// query parameter that breaks the text rule is 422 naming it.
func checkRequest(r *http.Request, wildcards []string, q url.Values) error {
	for _, name := range wildcards {
		if v := r.PathValue(name); !pathValueRe.MatchString(v) && !serviceChecksPath[name] {
			return steward.Errorf(steward.CodeNotFound, "%s %q matches nothing: ids and slugs are letters, digits, '_' and '-'", name, v)
		}
	}
	fe := steward.FieldErrors{}
	for k, vs := range q {
		if msg := steward.CheckText(k, false); msg != "" {
			fe.Add(strconv.Quote(k), "parameter names "+msg)
			continue
		}
		for _, v := range vs {
			if msg := steward.CheckText(v, steward.IsFreeText(k)); msg != "" {
				fe.Add(k, msg)
			}
		}
	}
	return fe.Err()
}

// headerText makes a header value fit to store (the user agent in sessions
// and the audit log): invalid UTF-8 (headers may carry any byte above 0x7F)
// replaced, and cut to at most n bytes on a character boundary, so a long
// multi-byte value is not cut into invalid UTF-8 either.
func headerText(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
