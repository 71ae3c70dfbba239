package datatables

import (
	"errors"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// Classify turns a driver's error from a data admin statement into what a
// client can act on: a unique violation is 409 ALREADY_EXISTS, a not-null,
// check or foreign key violation (or a value the column refuses) is 422
// VALIDATION_FAILED, each naming the field where the database says which.
// Anything else (the database out of reach, a bug) is returned as it is.
func Classify(t *Table, err error) error {
	if err == nil {
		return nil
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		msg := se.Error()
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return duplicate(t, sqliteColumns(t, msg))
		case sqlite3.SQLITE_CONSTRAINT_NOTNULL:
			return invalid(t, sqliteColumns(t, msg), "must not be null")
		case sqlite3.SQLITE_CONSTRAINT_CHECK:
			return invalid(t, checkColumns(t, msg), "breaks a check constraint of the table")
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY, sqlite3.SQLITE_CONSTRAINT_TRIGGER:
			return invalid(t, nil, "breaks a foreign key of the table")
		case sqlite3.SQLITE_MISMATCH, sqlite3.SQLITE_CONSTRAINT_DATATYPE:
			return invalid(t, nil, "has a value of the wrong type for its column")
		}
		return err
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		cols := pgColumns(t, pe)
		switch pe.Code {
		case "23505":
			return duplicate(t, cols)
		case "23502":
			return invalid(t, cols, "must not be null")
		case "23514":
			return invalid(t, cols, "breaks a check constraint of the table")
		case "23503":
			return invalid(t, cols, "names a row that does not exist (foreign key)")
		case "23P01":
			return duplicate(t, cols)
		}
		// Class 22: data exceptions (a value out of the column's range or
		// length, bad text for its type): the client's value, not a fault.
		if strings.HasPrefix(pe.Code, "22") {
			return invalid(t, cols, "is not a valid value for its column: "+pe.Message)
		}
		return err
	}
	var d *store.DuplicateError
	if errors.As(err, &d) {
		return duplicate(t, nil)
	}
	return err
}

// sqliteColumns reads "… constraint failed: orders.email, orders.x" into
// the table's column names.
func sqliteColumns(t *Table, msg string) []string {
	const marker = "constraint failed: "
	i := strings.LastIndex(msg, marker)
	if i < 0 {
		return nil
	}
	rest := msg[i+len(marker):]
	if j := strings.Index(rest, " ("); j >= 0 {
		rest = rest[:j]
	}
	var out []string
	for _, part := range strings.Split(rest, ",") {
		part = strings.TrimSpace(part)
		if k := strings.LastIndex(part, "."); k >= 0 {
			part = part[k+1:]
		}
		if c := t.Column(part); c != nil {
			out = append(out, c.Name)
		}
	}
	return out
}

// checkColumns finds the column a CHECK constraint names, when its name
// ("orders_qty_check", PostgreSQL's default) or expression ("qty >= 0",
// SQLite's message) mentions exactly one of the table's columns, '_'
// counting as a separator.
func checkColumns(t *Table, msg string) []string {
	var out []string
	for _, c := range t.Columns {
		if regexp.MustCompile(`(^|[^A-Za-z0-9])` + regexp.QuoteMeta(c.Name) + `([^A-Za-z0-9]|$)`).MatchString(msg) {
			out = append(out, c.Name)
		}
	}
	if len(out) != 1 {
		return nil
	}
	return out
}

var pgKeyRe = regexp.MustCompile(`^Key \(([^)]*)\)`)

func pgColumns(t *Table, pe *pgconn.PgError) []string {
	if pe.ColumnName != "" && t.Column(pe.ColumnName) != nil {
		return []string{pe.ColumnName}
	}
	if m := pgKeyRe.FindStringSubmatch(pe.Detail); m != nil {
		var out []string
		for _, part := range strings.Split(m[1], ",") {
			if c := t.Column(strings.Trim(strings.TrimSpace(part), `"`)); c != nil {
				out = append(out, c.Name)
			}
		}
		return out
	}
	if pe.ConstraintName != "" {
		return checkColumns(t, pe.ConstraintName)
	}
	return nil
}

// visible drops redacted columns: a refusal must not name a value of one,
// but may say which field it was about only when that field is shown.
func visible(t *Table, cols []string) []string {
	var out []string
	for _, name := range cols {
		if c := t.Column(name); c != nil && !c.Redacted {
			out = append(out, name)
		}
	}
	return out
}

func duplicate(t *Table, cols []string) error {
	cols = visible(t, cols)
	fields := map[string]any{}
	for _, c := range cols {
		fields[c] = "is already taken"
	}
	msg := "a row with that value already exists"
	if len(cols) > 0 {
		msg = strings.Join(cols, ", ") + " is already taken"
	}
	e := &steward.Error{Code: steward.CodeAlreadyExists, Message: msg, Details: map[string]any{}}
	if len(fields) > 0 {
		e.Details["fields"] = fields
	}
	return e
}

func invalid(t *Table, cols []string, why string) error {
	cols = visible(t, cols)
	fields := steward.FieldErrors{}
	for _, c := range cols {
		fields.Add(c, why)
	}
	if len(fields) == 0 {
		fields.Add("row", why)
	}
	return fields.Err()
}
