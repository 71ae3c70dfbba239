package datatables

import (
	"bytes"
	"database/sql/driver"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/stewardhq/steward"
)

// The codec converts values between the API's JSON and a column's bound
// parameter, per steward.DataType, and back from what either driver
// decodes. Every value is checked here, before any statement is built, so
// a bad value is a 422 naming its field and never a database error.

// How values are stored on SQLite, which has no types of its own for them:
// timestamps as RFC 3339 text in UTC with microseconds
// ("2026-03-01T12:00:00.000000Z", fixed width so that text order is time
// order), dates as "2006-01-02", booleans as 0 or 1, UUIDs as lower-case
// text, JSON as its text. PostgreSQL gets its own types.
const sqliteTimeLayout = "2006-01-02T15:04:05.000000Z"

var (
	numericRe = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)
	uuidRe    = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
)

// maxTextBytes bounds a text value the data admin writes or filters on when
// the column states no length: the request body's own limit bounds it too.
const maxTextBytes = 64 << 10

// maxBlobBytes bounds a blob value (decoded).
const maxBlobBytes = 512 << 10

// FromJSON converts the JSON value of a write to column c into the value
// bound for dialect. The message of an error is for details.fields[c.Name].
func FromJSON(dialect string, c *steward.DataColumn, raw json.RawMessage) (any, string) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		if !c.Nullable {
			return nil, "must not be null"
		}
		return nil, ""
	}
	if c.Type == steward.DataJSON {
		if msg := steward.CheckRawJSON(raw); msg != "" {
			return nil, msg
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err != nil {
			return nil, "must be JSON"
		}
		return buf.String(), ""
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, "must be JSON"
	}
	switch c.Type {
	case steward.DataInteger:
		n, ok := v.(json.Number)
		if !ok {
			return nil, "must be an integer"
		}
		i, err := strconv.ParseInt(n.String(), 10, 64)
		if err != nil {
			return nil, "must be an integer between -9223372036854775808 and 9223372036854775807"
		}
		return bindInt(dialect, c, i)
	case steward.DataReal:
		n, ok := v.(json.Number)
		if !ok {
			return nil, "must be a number"
		}
		f, err := strconv.ParseFloat(n.String(), 64)
		if err != nil || math.IsInf(f, 0) {
			return nil, "must be a finite number"
		}
		return f, ""
	case steward.DataBoolean:
		b, ok := v.(bool)
		if !ok {
			return nil, "must be true or false"
		}
		return bindBool(dialect, b), ""
	}
	s, ok := v.(string)
	if !ok {
		return nil, "must be a string"
	}
	return FromText(dialect, c, s)
}

// FromText converts the text form of a value (a filter's value, a part of
// a path key, a cursor's) to the value bound for column c.
func FromText(dialect string, c *steward.DataColumn, s string) (any, string) {
	switch c.Type {
	case steward.DataText:
		if msg := steward.CheckText(s, true); msg != "" {
			return nil, msg
		}
		if len(s) > maxTextBytes {
			return nil, fmt.Sprintf("must be at most %d bytes", maxTextBytes)
		}
		return s, ""
	case steward.DataInteger:
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, "must be an integer between -9223372036854775808 and 9223372036854775807"
		}
		return bindInt(dialect, c, i)
	case steward.DataReal:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, "must be a finite number"
		}
		return f, ""
	case steward.DataNumeric:
		if len(s) > 1000 || !numericRe.MatchString(s) {
			return nil, `must be a decimal number as a string of digits ("-12.50")`
		}
		return s, ""
	case steward.DataBoolean:
		switch s {
		case "true":
			return bindBool(dialect, true), ""
		case "false":
			return bindBool(dialect, false), ""
		}
		return nil, "must be true or false"
	case steward.DataTimestamp:
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, "must be an RFC 3339 time"
		}
		if msg := steward.CheckTime(t); msg != "" {
			return nil, msg
		}
		t = t.UTC().Truncate(time.Microsecond)
		if dialect == "sqlite" {
			return t.Format(sqliteTimeLayout), ""
		}
		return t, ""
	case steward.DataDate:
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return nil, "must be a date (2006-01-02)"
		}
		if msg := steward.CheckTime(t); msg != "" {
			return nil, msg
		}
		if dialect == "sqlite" {
			return t.Format(time.DateOnly), ""
		}
		return t, ""
	case steward.DataUUID:
		if !uuidRe.MatchString(s) {
			return nil, "must be a UUID"
		}
		return strings.ToLower(s), ""
	case steward.DataBlob:
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, "must be base64"
		}
		if len(b) > maxBlobBytes {
			return nil, fmt.Sprintf("must be at most %d bytes", maxBlobBytes)
		}
		return b, ""
	case steward.DataJSON:
		if msg := steward.CheckRawJSON([]byte(s)); msg != "" || s == "" {
			return nil, "must be JSON"
		}
		return s, ""
	}
	return nil, "cannot be written: the column's type is not supported"
}

// bindInt checks i against the column's own range where its type says one.
func bindInt(dialect string, c *steward.DataColumn, i int64) (any, string) {
	lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
	if dialect == "postgres" {
		switch strings.ToLower(c.DBType) {
		case "smallint", "int2", "smallserial":
			lo, hi = math.MinInt16, math.MaxInt16
		case "integer", "int", "int4", "serial":
			lo, hi = math.MinInt32, math.MaxInt32
		}
	}
	if i < lo || i > hi {
		return nil, fmt.Sprintf("must be an integer between %d and %d", lo, hi)
	}
	return i, ""
}

func bindBool(dialect string, b bool) any {
	if dialect == "sqlite" {
		if b {
			return int64(1)
		}
		return int64(0)
	}
	return b
}

// ToJSON converts a value a driver decoded for column c into its JSON
// form: numbers, strings, booleans, RFC 3339 times, base64 blobs, decoded
// JSON, numeric as a string of digits.
func ToJSON(c *steward.DataColumn, v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case int64:
		return intJSON(c, x)
	case int32:
		return intJSON(c, int64(x))
	case int16:
		return intJSON(c, int64(x))
	case int8:
		return intJSON(c, int64(x))
	case int:
		return intJSON(c, int64(x))
	case uint32:
		return intJSON(c, int64(x))
	case float64:
		return floatJSON(c, x)
	case float32:
		return floatJSON(c, float64(x))
	case bool:
		return x
	case string:
		return stringJSON(c, x)
	case []byte:
		switch c.Type {
		case steward.DataBlob:
			return base64.StdEncoding.EncodeToString(x)
		case steward.DataJSON:
			if json.Valid(x) {
				return json.RawMessage(bytes.Clone(x))
			}
		}
		if utf8.Valid(x) {
			return stringJSON(c, string(x))
		}
		return base64.StdEncoding.EncodeToString(x)
	case time.Time:
		if c.Type == steward.DataDate {
			return x.Format(time.DateOnly)
		}
		return x.UTC().Format(time.RFC3339Nano)
	case [16]byte:
		return uuidText(x)
	case pgtype.Numeric:
		return numericText(x)
	case pgtype.UUID:
		if !x.Valid {
			return nil
		}
		return uuidText(x.Bytes)
	case map[string]any, []any:
		return x
	case driver.Valuer:
		dv, err := x.Value()
		if err != nil {
			return fmt.Sprint(v)
		}
		if _, again := dv.(driver.Valuer); again {
			return fmt.Sprint(dv)
		}
		return ToJSON(c, dv)
	case fmt.Stringer:
		return x.String()
	}
	return fmt.Sprint(v)
}

func intJSON(c *steward.DataColumn, i int64) any {
	switch c.Type {
	case steward.DataBoolean:
		return i != 0
	case steward.DataNumeric: // always a string, as written
		return strconv.FormatInt(i, 10)
	}
	return i
}

func floatJSON(c *steward.DataColumn, f float64) any {
	if c.Type == steward.DataNumeric || math.IsNaN(f) || math.IsInf(f, 0) {
		return strconv.FormatFloat(f, 'g', -1, 64) // JSON has no NaN: say it in text
	}
	return f
}

func stringJSON(c *steward.DataColumn, s string) any {
	switch c.Type {
	case steward.DataJSON:
		if json.Valid([]byte(s)) {
			return json.RawMessage(s)
		}
	case steward.DataTimestamp:
		if t, ok := parseStoredTime(s); ok {
			return t.UTC().Format(time.RFC3339Nano)
		}
	case steward.DataBoolean:
		switch strings.ToLower(s) {
		case "1", "true", "t":
			return true
		case "0", "false", "f":
			return false
		}
	}
	return s
}

// storedTimeLayouts are the text forms SQLite tables commonly hold times
// in (SQLite's own CURRENT_TIMESTAMP among them).
var storedTimeLayouts = []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999 -0700 MST"}

func parseStoredTime(s string) (time.Time, bool) {
	for _, l := range storedTimeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func uuidText(b [16]byte) string {
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// numericText writes a PostgreSQL numeric as its exact decimal text.
func numericText(n pgtype.Numeric) any {
	if !n.Valid {
		return nil
	}
	if n.NaN {
		return "NaN"
	}
	if n.InfinityModifier != pgtype.Finite {
		if n.InfinityModifier == pgtype.Infinity {
			return "Infinity"
		}
		return "-Infinity"
	}
	i := n.Int
	if i == nil {
		i = big.NewInt(0)
	}
	digits := new(big.Int).Abs(i).String()
	neg := i.Sign() < 0
	exp := int(n.Exp)
	if exp >= 0 {
		digits += strings.Repeat("0", exp)
	} else {
		frac := -exp
		if len(digits) <= frac {
			digits = strings.Repeat("0", frac-len(digits)+1) + digits
		}
		digits = digits[:len(digits)-frac] + "." + digits[len(digits)-frac:]
	}
	if neg {
		digits = "-" + digits
	}
	return digits
}

// KeyText is the text form of a primary key part, as FromText reads it
// back: what a path key and a cursor carry.
func KeyText(c *steward.DataColumn, v any) string {
	switch x := ToJSON(c, v).(type) {
	case nil:
		return ""
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case json.RawMessage:
		return string(x)
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}
