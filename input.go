package steward

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The input rules every request passes, the same on every store, so that
// nothing a client sends reaches a database that would refuse it (PostgreSQL
// refuses NUL and invalid UTF-8 in text; JSON cannot encode a year past
// 9999) or is stored where it cannot be read back. The api package applies
// them to every JSON body (ValidateInput), every query parameter and every
// path value; a violation is VALIDATION_FAILED naming the field.

// Bounds of stored free-form JSON (user metadata, tenant features, bulk
// params): nesting depth and encoded size.
const (
	MaxJSONDepth = 32
	MaxJSONBytes = 16 << 10
)

// The supported range of times, in UTC: from the Unix epoch to the last
// instant of year 9999, the last year JSON (RFC 3339) can write.
var (
	minTime = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
)

// IsFreeText reports whether the field (a JSON name or query parameter) is
// free text, where tab and newline are allowed: descriptions, reasons,
// notes, messages, and passwords. Every other text field is a name, an id
// or a token and takes no control character at all.
func IsFreeText(field string) bool {
	switch field {
	case "description", "reason", "notes", "message", "subject", "password", "new_password":
		return true
	}
	return false
}

// CheckText reports what is wrong with s under the text rule, or "": it must
// be valid UTF-8 without NUL or any other C0 control character, except tab
// and newline when free is true.
func CheckText(s string, free bool) string {
	if !utf8.ValidString(s) {
		return "must be valid UTF-8"
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 {
			continue
		}
		if free && (c == '\t' || c == '\n') {
			continue
		}
		if free {
			return "must not contain NUL or control characters other than tab and newline"
		}
		return "must not contain NUL or control characters"
	}
	return ""
}

// CheckTime reports what is wrong with t, or "": it must lie between
// 1970-01-01T00:00:00Z and 9999-12-31T23:59:59Z once converted to UTC.
func CheckTime(t time.Time) string {
	if t.Before(minTime) || t.After(maxTime) {
		return "must be between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59Z (UTC)"
	}
	return ""
}

// CheckJSON reports what is wrong with a decoded JSON value to be stored, or
// "": at most MaxJSONDepth levels of objects and arrays, at most
// MaxJSONBytes once encoded, and every object key and string under the text
// rule (keys strict, strings free text).
func CheckJSON(v any) string {
	if msg := checkJSONValue(v, 0); msg != "" {
		return msg
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "must be JSON"
	}
	if len(b) > MaxJSONBytes {
		return fmt.Sprintf("must be at most %d bytes of JSON", MaxJSONBytes)
	}
	return ""
}

// CheckRawJSON is CheckJSON for JSON text; null and empty are fine.
func CheckRawJSON(raw []byte) string {
	if len(raw) == 0 {
		return ""
	}
	if !utf8.Valid(raw) {
		return "must be valid UTF-8"
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return "must be JSON"
	}
	return CheckJSON(v)
}

func checkJSONValue(v any, depth int) string {
	switch x := v.(type) {
	case string:
		if msg := CheckText(x, true); msg != "" {
			return "strings " + msg
		}
	case map[string]any:
		if depth >= MaxJSONDepth {
			return fmt.Sprintf("must nest at most %d levels deep", MaxJSONDepth)
		}
		for k, e := range x {
			if msg := CheckText(k, false); msg != "" {
				return "keys " + msg
			}
			if msg := checkJSONValue(e, depth+1); msg != "" {
				return msg
			}
		}
	case []any:
		if depth >= MaxJSONDepth {
			return fmt.Sprintf("must nest at most %d levels deep", MaxJSONDepth)
		}
		for _, e := range x {
			if msg := checkJSONValue(e, depth+1); msg != "" {
				return msg
			}
		}
	}
	return ""
}

// optionalInput is implemented by Optional: the value a merge patch sets, if
// it sets one.
type optionalInput interface{ inputValue() (any, bool) }

func (o Optional[T]) inputValue() (any, bool) { return o.Value, o.Set && !o.Null }

var (
	timeType = reflect.TypeFor[time.Time]()
	rawType  = reflect.TypeFor[json.RawMessage]()
)

// ValidateInput applies the input rules to a decoded request body: every
// string field (named types such as Role included, in slices and nested
// structs too) under the text rule, free text by IsFreeText of its JSON
// name; every time in the supported range; every free-form JSON field
// (json.RawMessage, map[string]any) within the JSON bounds. Fields are
// named as the client wrote them: "metadata", "events[2].occurred_at".
// It walks the value by reflection so that no body type, however new, can
// be left out.
func ValidateInput(v any) error {
	fe := FieldErrors{}
	walkInput(reflect.ValueOf(v), "", "", fe)
	return fe.Err()
}

// walkInput checks rv, which the client sent as field path (name is the
// last JSON name on the path, which decides free text).
func walkInput(rv reflect.Value, path, name string, fe FieldErrors) {
	if !rv.IsValid() {
		return
	}
	switch rv.Type() {
	case timeType:
		if t := rv.Interface().(time.Time); !t.IsZero() {
			if msg := CheckTime(t); msg != "" {
				fe.Add(field(path), msg)
			}
		}
		return
	case rawType:
		if msg := CheckRawJSON(rv.Bytes()); msg != "" {
			fe.Add(field(path), msg)
		}
		return
	}
	switch rv.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !rv.IsNil() {
			walkInput(rv.Elem(), path, name, fe)
		}
	case reflect.String:
		if msg := CheckText(rv.String(), IsFreeText(name)); msg != "" {
			fe.Add(field(path), msg)
		}
	case reflect.Map:
		if rv.Type().Key().Kind() == reflect.String && rv.Type().Elem().Kind() == reflect.Interface {
			if !rv.IsNil() {
				if msg := CheckJSON(rv.Interface()); msg != "" {
					fe.Add(field(path), msg)
				}
			}
			return
		}
		for _, k := range rv.MapKeys() {
			if msg := CheckText(k.String(), false); msg != "" {
				fe.Add(field(path), "keys "+msg)
			}
			walkInput(rv.MapIndex(k), path+"."+k.String(), k.String(), fe)
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < rv.Len(); i++ {
			walkInput(rv.Index(i), path+"["+strconv.Itoa(i)+"]", name, fe)
		}
	case reflect.Struct:
		if o, ok := rv.Interface().(optionalInput); ok {
			if val, set := o.inputValue(); set {
				walkInput(reflect.ValueOf(val), path, name, fe)
			}
			return
		}
		t := rv.Type()
		for i := 0; i < t.NumField(); i++ {
			sf := t.Field(i)
			if !sf.IsExported() {
				continue
			}
			jn, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
			if jn == "-" {
				continue
			}
			if sf.Anonymous && jn == "" {
				walkInput(rv.Field(i), path, name, fe)
				continue
			}
			if jn == "" {
				jn = sf.Name
			}
			walkInput(rv.Field(i), join(path, jn), jn, fe)
		}
	}
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func field(path string) string {
	if path == "" {
		return "body"
	}
	return strings.TrimPrefix(path, ".")
}
