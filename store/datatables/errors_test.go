package datatables

import (
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stewardhq/steward"
)

func TestClassifyPostgres(t *testing.T) {
	tb := ordersTable()
	for _, tc := range []struct {
		err   *pgconn.PgError
		code  string
		field string
	}{
		{&pgconn.PgError{Code: "23505", Detail: `Key (email)=(a@example.com) already exists.`}, steward.CodeAlreadyExists, "email"},
		{&pgconn.PgError{Code: "23502", ColumnName: "created_at"}, steward.CodeValidation, "created_at"},
		{&pgconn.PgError{Code: "23514", ConstraintName: "orders_small_check"}, steward.CodeValidation, "small"},
		{&pgconn.PgError{Code: "23503", Detail: `Key (ref)=(x) is not present in table "refs".`}, steward.CodeValidation, "ref"},
		{&pgconn.PgError{Code: "22003", Message: "numeric field overflow"}, steward.CodeValidation, "row"},
		// A redacted column is not named, even by the database.
		{&pgconn.PgError{Code: "23505", Detail: `Key (password_hash)=(secret) already exists.`}, steward.CodeAlreadyExists, ""},
	} {
		err := Classify(tb, tc.err)
		var e *steward.Error
		if !errors.As(err, &e) || e.Code != tc.code {
			t.Errorf("%s: %v, want %s", tc.err.Code, err, tc.code)
			continue
		}
		fields, _ := e.Details["fields"].(map[string]any)
		if tc.field != "" && fields[tc.field] == nil {
			t.Errorf("%s: %v does not name %s", tc.err.Code, e.Details, tc.field)
		}
		if tc.field == "" && (len(fields) != 0 || containsSecret(e)) {
			t.Errorf("%s: names a redacted field: %v", tc.err.Code, e)
		}
	}
	// Anything else is not the client's: it stays as it is (a 500).
	other := &pgconn.PgError{Code: "42P01"}
	if err := Classify(tb, other); err != error(other) {
		t.Errorf("42P01: %v", err)
	}
}

func containsSecret(e *steward.Error) bool {
	return strings.Contains(e.Message, "password_hash") || strings.Contains(e.Message, "secret")
}
