package postgres_test

import (
	"errors"
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stewardhq/steward/store"
	"github.com/stewardhq/steward/store/postgres"
)

var (
	sqlComment   = regexp.MustCompile(`--[^\n]*`)
	namedUnique  = regexp.MustCompile(`CONSTRAINT (\w+) (?:PRIMARY KEY|UNIQUE) \(([^)]*)\)`)
	uniqueIndex  = regexp.MustCompile(`CREATE UNIQUE INDEX (?:IF NOT EXISTS )?(\w+) ON \w+ \(([^)]*)\)`)
	uniqueTokens = regexp.MustCompile(`\bUNIQUE\b|\bPRIMARY KEY\b`)
	dropped      = regexp.MustCompile(`DROP CONSTRAINT (\w+)`)
)

// uniqueConstraints parses the embedded migrations: every unique constraint
// and unique index by name, with its columns. It fails on a UNIQUE or
// PRIMARY KEY it cannot name, so an unnamed one cannot slip past the map.
func uniqueConstraints(t *testing.T) map[string][]string {
	t.Helper()
	files, err := fs.Glob(postgres.Migrations, "migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations: %v", err)
	}
	out := map[string][]string{}
	for _, f := range files {
		b, err := fs.ReadFile(postgres.Migrations, f)
		if err != nil {
			t.Fatal(err)
		}
		// Only what the Up section leaves: a later migration may drop a
		// constraint (00022 moved audit_log's key), and Down sections
		// restore what their Up replaced.
		up, _, _ := strings.Cut(string(b), "-- +goose Down")
		src := sqlComment.ReplaceAllString(up, "")
		for _, m := range dropped.FindAllStringSubmatch(src, -1) {
			delete(out, m[1])
		}
		found := 0
		for _, re := range []*regexp.Regexp{namedUnique, uniqueIndex} {
			for _, m := range re.FindAllStringSubmatch(src, -1) {
				var cols []string
				for _, c := range strings.Split(m[2], ",") {
					cols = append(cols, strings.Fields(c)[0])
				}
				out[m[1]] = cols
				found++
			}
		}
		if n := len(uniqueTokens.FindAllString(src, -1)); n != found {
			t.Errorf("%s: %d UNIQUE/PRIMARY KEY clauses but %d named ones: name every constraint (CONSTRAINT x_key UNIQUE (…))", f, n, found)
		}
	}
	return out
}

// TestEveryUniqueConstraintIsMapped: a duplicate on any unique constraint of
// the migrations becomes a DuplicateError naming one of its columns, never a
// guess from the constraint's name.
func TestEveryUniqueConstraintIsMapped(t *testing.T) {
	constraints := uniqueConstraints(t)
	if len(constraints) < 20 {
		t.Fatalf("parsed only %d constraints: the parser is broken", len(constraints))
	}
	for name, cols := range constraints {
		field, ok := postgres.ConstraintFields[name]
		if !ok {
			t.Errorf("unique constraint %s (%v) is not in constraintFields", name, cols)
			continue
		}
		if !slices.Contains(cols, field) {
			t.Errorf("constraint %s maps to %q, not one of its columns %v", name, field, cols)
		}
		var dup *store.DuplicateError
		err := postgres.MapErr(&pgconn.PgError{Code: "23505", ConstraintName: name})
		if !errors.As(err, &dup) || dup.Field != field {
			t.Errorf("mapErr on %s = %v, want a duplicate %s", name, err, field)
		}
	}
	for name := range postgres.ConstraintFields {
		if _, ok := constraints[name]; !ok {
			t.Errorf("constraintFields names %s, which no migration creates", name)
		}
	}
}

// TestParsedConstraintsMatchTheDatabase: the parser sees every unique index
// PostgreSQL built from the migrations.
func TestParsedConstraintsMatchTheDatabase(t *testing.T) {
	s := open(t)
	rows, err := s.Pool().Query(t.Context(), `SELECT c.relname FROM pg_index i
		JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE i.indisunique AND n.nspname = current_schema() AND c.relname NOT LIKE 'goose%'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	parsed := uniqueConstraints(t)
	n := 0
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		n++
		if _, ok := parsed[name]; !ok {
			t.Errorf("the database has unique index %s that the migration parser missed", name)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n != len(parsed) {
		t.Errorf("database has %d unique indexes, parsed %d", n, len(parsed))
	}
}
