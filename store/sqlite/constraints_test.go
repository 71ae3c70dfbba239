package sqlite_test

import (
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stewardhq/steward/store/sqlite"
)

var (
	sqlComment  = regexp.MustCompile(`--[^\n]*`)
	createTable = regexp.MustCompile(`CREATE TABLE (?:IF NOT EXISTS )?(\w+) \(`)
	uniqueIndex = regexp.MustCompile(`CREATE UNIQUE INDEX (?:IF NOT EXISTS )?\w+ ON (\w+) \(([^)]*)\)`)
	tableKey    = regexp.MustCompile(`^(?:PRIMARY KEY|UNIQUE) \(([^)]*)\)`)
	columnKey   = regexp.MustCompile(`\bUNIQUE\b|\bPRIMARY KEY\b`)
)

// uniqueKeys parses the embedded migrations into every unique key, as the
// column list SQLite reports on a violation ("t.a, t.b").
func uniqueKeys(t *testing.T) map[string][]string {
	t.Helper()
	files, err := fs.Glob(sqlite.Migrations, "migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations: %v", err)
	}
	out := map[string][]string{}
	add := func(table, cols string) {
		var names, qualified []string
		for _, c := range strings.Split(cols, ",") {
			c = strings.Fields(c)[0]
			names = append(names, c)
			qualified = append(qualified, table+"."+c)
		}
		out[strings.Join(qualified, ", ")] = names
	}
	for _, f := range files {
		b, err := fs.ReadFile(sqlite.Migrations, f)
		if err != nil {
			t.Fatal(err)
		}
		src := sqlComment.ReplaceAllString(string(b), "")
		for _, m := range uniqueIndex.FindAllStringSubmatch(src, -1) {
			add(m[1], m[2])
		}
		for _, loc := range createTable.FindAllStringSubmatchIndex(src, -1) {
			table := src[loc[2]:loc[3]]
			for _, item := range topLevelItems(src[loc[1]:]) {
				if m := tableKey.FindStringSubmatch(item); m != nil {
					add(table, m[1])
				} else if columnKey.MatchString(item) {
					add(table, strings.Fields(item)[0])
				}
			}
		}
	}
	return out
}

// topLevelItems splits a CREATE TABLE body (after its opening parenthesis)
// at the commas outside parentheses, up to the closing one.
func topLevelItems(body string) []string {
	var items []string
	depth, start := 0, 0
	for i, r := range body {
		switch r {
		case '(':
			depth++
		case ')':
			if depth == 0 {
				return append(items, strings.TrimSpace(body[start:i]))
			}
			depth--
		case ',':
			if depth == 0 {
				items = append(items, strings.TrimSpace(body[start:i]))
				start = i + 1
			}
		}
	}
	return items
}

// TestEveryUniqueConstraintIsMapped: a duplicate on any unique key of the
// migrations becomes a DuplicateError naming one of its columns; a key on
// several columns needs its entry in compositeFields, or the first column
// (usually tenant_id) would be named.
func TestEveryUniqueConstraintIsMapped(t *testing.T) {
	keys := uniqueKeys(t)
	if len(keys) < 20 {
		t.Fatalf("parsed only %d unique keys: the parser is broken", len(keys))
	}
	for key, cols := range keys {
		if len(cols) > 1 {
			if _, ok := sqlite.CompositeFields[key]; !ok {
				t.Errorf("unique key (%s) on several columns is not in compositeFields", key)
			}
		}
		field := sqlite.ConstraintColumn("constraint failed: UNIQUE constraint failed: " + key + " (2067)")
		if !slices.Contains(cols, field) {
			t.Errorf("(%s) maps to %q, not one of its columns %v", key, field, cols)
		}
	}
	for key := range sqlite.CompositeFields {
		if _, ok := keys[key]; !ok {
			t.Errorf("compositeFields names (%s), which no migration creates", key)
		}
	}
}

// TestParsedKeysMatchTheDatabase: the parser sees every unique index SQLite
// built for the migrations' tables (an INTEGER PRIMARY KEY is the rowid and
// has no index; the parser lists it, as a one-column key it needs no entry).
func TestParsedKeysMatchTheDatabase(t *testing.T) {
	s := openStore(t)
	db := s.WriterDB()
	parsed := uniqueKeys(t)
	tables := map[string]bool{}
	for key := range parsed {
		tables[strings.SplitN(key, ".", 2)[0]] = true
	}
	checked := 0
	for table := range tables {
		rows, err := db.Query(`SELECT il.name FROM pragma_index_list(?) il WHERE il."unique" = 1`, table)
		if err != nil {
			t.Fatal(err)
		}
		var indexes []string
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				t.Fatal(err)
			}
			indexes = append(indexes, name)
		}
		rows.Close()
		for _, idx := range indexes {
			var cols []string
			crows, err := db.Query(`SELECT name FROM pragma_index_info(?) ORDER BY seqno`, idx)
			if err != nil {
				t.Fatal(err)
			}
			for crows.Next() {
				var c string
				if err := crows.Scan(&c); err != nil {
					t.Fatal(err)
				}
				cols = append(cols, table+"."+c)
			}
			crows.Close()
			checked++
			if key := strings.Join(cols, ", "); parsed[key] == nil {
				t.Errorf("the database has unique index %s (%s) that the migration parser missed", idx, key)
			}
		}
	}
	if checked < 15 {
		t.Fatalf("checked only %d unique indexes", checked)
	}
}
