package datatables

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stewardhq/steward"
)

// ordersTable is a table as introspection fills it: every column type, a
// nullable sort column, a redacted one.
func ordersTable() *Table {
	return &Table{Schema: "shop", DataTable: steward.DataTable{
		Name: "orders", PrimaryKey: []string{"id"}, SearchFields: []string{"email", "note"},
		DefaultSort: "-created_at", Roles: steward.DefaultDataRoles,
		Columns: []steward.DataColumn{
			{Name: "id", Type: steward.DataInteger, DBType: "bigint", PrimaryKey: 1, Indexed: true},
			{Name: "email", Type: steward.DataText, DBType: "text"},
			{Name: "note", Type: steward.DataText, DBType: "text", Nullable: true},
			{Name: "total", Type: steward.DataNumeric, DBType: "numeric", Nullable: true},
			{Name: "ratio", Type: steward.DataReal, DBType: "double precision", Nullable: true},
			{Name: "paid", Type: steward.DataBoolean, DBType: "boolean"},
			{Name: "created_at", Type: steward.DataTimestamp, DBType: "timestamptz"},
			{Name: "ship_on", Type: steward.DataDate, DBType: "date", Nullable: true},
			{Name: "ref", Type: steward.DataUUID, DBType: "uuid", Nullable: true},
			{Name: "meta", Type: steward.DataJSON, DBType: "jsonb", Nullable: true},
			{Name: "doc", Type: steward.DataBlob, DBType: "bytea", Nullable: true},
			{Name: "small", Type: steward.DataInteger, DBType: "smallint", Nullable: true},
			{Name: "password_hash", Type: steward.DataText, DBType: "text", Redacted: true, Nullable: true},
		}}}
}

// lineItemsTable has a composite key of text and integer.
func lineItemsTable() *Table {
	return &Table{DataTable: steward.DataTable{
		Name: "line_items", PrimaryKey: []string{"order_ref", "line"},
		Columns: []steward.DataColumn{
			{Name: "order_ref", Type: steward.DataText, PrimaryKey: 1},
			{Name: "line", Type: steward.DataInteger, PrimaryKey: 2},
			{Name: "sku", Type: steward.DataText},
		}}}
}

func TestBuildListShape(t *testing.T) {
	tb := ordersTable()
	p, err := BuildList(tb, "postgres", ListRequest{
		Filters: []steward.DataFilter{{Field: "email", Op: "contains", Value: `50%_off\`}, {Field: "paid", Op: "eq", Value: "true"},
			{Field: "id", Op: "in", Value: "1,2,3"}, {Field: "note", Op: "is_null", Value: "false"}},
		Q: "Ann", Sort: "-created_at", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	want := `SELECT "id", "email", "note", "total", "ratio", "paid", "created_at", "ship_on", "ref", "meta", "doc", "small" ` +
		`FROM "shop"."orders" WHERE "email" ILIKE $1 ESCAPE '\' AND "paid" = $2 AND "id" IN ($3, $4, $5) AND "note" IS NOT NULL ` +
		`AND ("email" ILIKE $6 ESCAPE '\' OR "note" ILIKE $7 ESCAPE '\') ORDER BY "created_at" DESC, "id" DESC LIMIT 11`
	if p.SQL != want {
		t.Fatalf("sql\n got %s\nwant %s", p.SQL, want)
	}
	wantArgs := []any{`%50\%\_off\\%`, true, int64(1), int64(2), int64(3), "%Ann%", "%Ann%"}
	if !slices.Equal(p.Args, wantArgs) {
		t.Fatalf("args %#v, want %#v", p.Args, wantArgs)
	}
	// SQLite: ? placeholders, no schema, LIKE, booleans as 0/1.
	p, err = BuildList(tb, "sqlite", ListRequest{Filters: []steward.DataFilter{{Field: "paid", Op: "eq", Value: "false"}}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(p.SQL, `FROM "orders" WHERE "paid" = ? ORDER BY "created_at" DESC, "id" DESC LIMIT 51`) || p.Args[0] != int64(0) {
		t.Fatalf("sqlite: %s %v", p.SQL, p.Args)
	}
	if strings.Contains(p.SQL, "password_hash") {
		t.Fatal("a redacted column is selected")
	}
}

func TestKeysetCursor(t *testing.T) {
	tb := ordersTable()
	for _, tc := range []struct {
		sort, dialect string
		last          []any // note, id
		want          string
	}{
		{"note", "postgres", []any{"b", int64(7)}, `("note", "id") > ($1, $2) ORDER BY "note" ASC NULLS FIRST, "id" ASC`},
		{"note", "postgres", []any{nil, int64(7)}, `(("note" IS NULL AND ("id") > ($1)) OR "note" IS NOT NULL) ORDER BY "note" ASC NULLS FIRST`},
		{"-note", "postgres", []any{"b", int64(7)}, `(("note", "id") < ($1, $2) OR "note" IS NULL) ORDER BY "note" DESC NULLS LAST, "id" DESC`},
		{"-note", "sqlite", []any{nil, int64(7)}, `("note" IS NULL AND ("id") < (?)) ORDER BY "note" DESC, "id" DESC`},
		{"id", "sqlite", []any{int64(7)}, `("id") > (?) ORDER BY "id" ASC LIMIT`},
	} {
		p, err := BuildList(tb, tc.dialect, ListRequest{Sort: tc.sort})
		if err != nil {
			t.Fatal(err)
		}
		row := make([]any, len(p.Columns))
		row[0] = tc.last[len(tc.last)-1]
		if len(tc.last) == 2 {
			row[2] = tc.last[0]
		}
		p2, err := BuildList(tb, tc.dialect, ListRequest{Sort: tc.sort, Cursor: p.Cursor(row)})
		if err != nil {
			t.Fatalf("%s: %v", tc.sort, err)
		}
		if !strings.Contains(p2.SQL, tc.want) {
			t.Errorf("%s %s:\n got %s\nwant …%s…", tc.sort, tc.dialect, p2.SQL, tc.want)
		}
		// A cursor is bound to its sort.
		other := "-" + strings.TrimPrefix(tc.sort, "-")
		if other == tc.sort {
			other = "email"
		}
		if _, err := BuildList(tb, tc.dialect, ListRequest{Sort: other, Cursor: p.Cursor(row)}); steward.ErrorCode(err) != steward.CodeBadRequest {
			t.Errorf("cursor of %s used for %s: %v", tc.sort, other, err)
		}
	}
}

func TestBuildListErrors(t *testing.T) {
	tb := ordersTable()
	for _, tc := range []struct {
		req   ListRequest
		code  string
		field string
	}{
		{ListRequest{Filters: []steward.DataFilter{{Field: "paid", Op: "gt", Value: "true"}}}, steward.CodeUnsupportedFilterOp, ""},
		{ListRequest{Filters: []steward.DataFilter{{Field: "id", Op: "like", Value: "1"}}}, steward.CodeUnsupportedFilterOp, ""},
		{ListRequest{Filters: []steward.DataFilter{{Field: "meta", Op: "eq", Value: "{}"}}}, steward.CodeUnsupportedFilterOp, ""},
		{ListRequest{Filters: []steward.DataFilter{{Field: "password_hash", Op: "eq", Value: "x"}}}, steward.CodeFieldRedacted, "password_hash"},
		{ListRequest{Filters: []steward.DataFilter{{Field: "nope", Op: "eq", Value: "x"}}}, steward.CodeValidation, "filter[nope][eq]"},
		{ListRequest{Filters: []steward.DataFilter{{Field: "id", Op: "eq", Value: "x"}}}, steward.CodeValidation, "filter[id][eq]"},
		{ListRequest{Filters: []steward.DataFilter{{Field: "small", Op: "eq", Value: "40000"}}}, steward.CodeValidation, "filter[small][eq]"},
		{ListRequest{Filters: []steward.DataFilter{{Field: "created_at", Op: "lt", Value: "10000-01-01T00:00:00Z"}}}, steward.CodeValidation, "filter[created_at][lt]"},
		{ListRequest{Filters: []steward.DataFilter{{Field: "note", Op: "is_null", Value: "yes"}}}, steward.CodeValidation, "filter[note][is_null]"},
		{ListRequest{Filters: []steward.DataFilter{{Field: "ref", Op: "eq", Value: "not-a-uuid"}}}, steward.CodeValidation, "filter[ref][eq]"},
		{ListRequest{Filters: []steward.DataFilter{{Field: "email", Op: "eq", Value: "a\x00b"}}}, steward.CodeValidation, "filter[email][eq]"},
		{ListRequest{Filters: []steward.DataFilter{{Field: "id", Op: "in", Value: strings.Repeat("1,", 100) + "1"}}}, steward.CodeValidation, "filter[id][in]"},
		{ListRequest{Sort: "password_hash"}, steward.CodeFieldRedacted, "password_hash"},
		{ListRequest{Sort: "meta"}, steward.CodeValidation, "sort"},
		{ListRequest{Sort: "nope"}, steward.CodeValidation, "sort"},
		{ListRequest{Limit: 201}, steward.CodeValidation, "limit"},
		{ListRequest{Cursor: "!!"}, steward.CodeBadRequest, "cursor"},
		{ListRequest{Cursor: "eyJzIjoiLWNyZWF0ZWRfYXQiLCJ2IjpbIngiLCIxIl19"}, steward.CodeBadRequest, "cursor"}, // created_at "x"
	} {
		_, err := BuildList(tb, "postgres", tc.req)
		var e *steward.Error
		if !errorsAs(err, &e) || e.Code != tc.code {
			t.Errorf("%+v: %v, want %s", tc.req, err, tc.code)
			continue
		}
		if tc.field != "" {
			if f, _ := e.Details["fields"].(map[string]any); f[tc.field] == nil {
				t.Errorf("%+v: %v does not name %s", tc.req, e.Details, tc.field)
			}
		}
		if tc.code == steward.CodeUnsupportedFilterOp && e.Details["ops"] == nil {
			t.Errorf("%+v: no ops listed", tc.req)
		}
	}
}

func errorsAs(err error, e **steward.Error) bool {
	x, ok := err.(*steward.Error)
	*e = x
	return ok
}

func TestKeys(t *testing.T) {
	tb := lineItemsTable()
	row := []any{"a,b/c%d é", int64(42), "sku"}
	cols := tb.selected()
	key := FormatKey(tb, cols, row)
	if key != "a%2Cb%2Fc%25d%20%C3%A9,42" {
		t.Fatalf("key %q", key)
	}
	vals, err := ParseKey(tb, "sqlite", key)
	if err != nil || vals[0] != "a,b/c%d é" || vals[1] != int64(42) {
		t.Fatalf("%v %v", vals, err)
	}
	for _, bad := range []string{"", "a", "a,b", "a,1,2", ",1", "a,", "%zz,1", "a,1.5", "a%00,1"} {
		if _, err := ParseKey(tb, "sqlite", bad); steward.ErrorCode(err) != steward.CodeNotFound {
			t.Errorf("ParseKey(%q) = %v, want NOT_FOUND", bad, err)
		}
	}
	st, _ := BuildGet(tb, "postgres", vals, true)
	if st.SQL != `SELECT "order_ref", "line", "sku" FROM "line_items" WHERE "order_ref" = $1 AND "line" = $2 FOR UPDATE` {
		t.Fatal(st.SQL)
	}
}

func TestWrites(t *testing.T) {
	tb := ordersTable()
	set := []Assignment{{tb.Column("email"), "a@example.com"}, {tb.Column("paid"), true}}
	st, _ := BuildInsert(tb, "postgres", set)
	if !strings.HasPrefix(st.SQL, `INSERT INTO "shop"."orders" ("email", "paid") VALUES ($1, $2) RETURNING "id", "email"`) {
		t.Fatal(st.SQL)
	}
	st, _ = BuildUpdate(tb, "sqlite", []any{int64(3)}, set)
	if !strings.HasPrefix(st.SQL, `UPDATE "orders" SET "email" = ?, "paid" = ? WHERE "id" = ? RETURNING "id"`) || st.Args[2] != int64(3) {
		t.Fatal(st.SQL, st.Args)
	}
	st = BuildDelete(tb, "postgres", []any{int64(3)})
	if st.SQL != `DELETE FROM "shop"."orders" WHERE "id" = $1` {
		t.Fatal(st.SQL)
	}
	st, _ = BuildInsert(tb, "sqlite", nil)
	if !strings.HasPrefix(st.SQL, `INSERT INTO "orders" DEFAULT VALUES RETURNING`) {
		t.Fatal(st.SQL)
	}
}

func TestCodec(t *testing.T) {
	tb := ordersTable()
	for _, tc := range []struct {
		col, json string
		dialect   string
		want      any
		bad       bool
	}{
		{"id", `42`, "sqlite", int64(42), false},
		{"id", `4.2`, "sqlite", nil, true},
		{"id", `"42"`, "sqlite", nil, true},
		{"id", `9223372036854775808`, "sqlite", nil, true},
		{"small", `40000`, "postgres", nil, true},
		{"small", `40000`, "sqlite", int64(40000), false}, // SQLite has one integer type
		{"ratio", `1.5`, "sqlite", 1.5, false},
		{"ratio", `"1.5"`, "sqlite", nil, true},
		{"total", `"-12.50"`, "postgres", "-12.50", false},
		{"total", `12.5`, "postgres", nil, true},
		{"total", `"1e5"`, "postgres", nil, true},
		{"paid", `true`, "sqlite", int64(1), false},
		{"paid", `true`, "postgres", true, false},
		{"paid", `1`, "postgres", nil, true},
		{"paid", `null`, "postgres", nil, true}, // not nullable
		{"note", `null`, "postgres", nil, false},
		{"note", `"tab\tand\nnewline"`, "postgres", "tab\tand\nnewline", false},
		{"note", `"nul\u0000"`, "postgres", nil, true},
		{"note", `"bell\u0007"`, "postgres", nil, true},
		{"created_at", `"2026-03-01T12:00:00+02:00"`, "sqlite", "2026-03-01T10:00:00.000000Z", false},
		{"created_at", `"1969-12-31T23:59:59Z"`, "sqlite", nil, true},
		{"created_at", `"yesterday"`, "sqlite", nil, true},
		{"ship_on", `"2026-02-30"`, "sqlite", nil, true},
		{"ship_on", `"2026-02-28"`, "sqlite", "2026-02-28", false},
		{"ref", `"6F9619FF-8B86-D011-B42D-00C04FC964FF"`, "postgres", "6f9619ff-8b86-d011-b42d-00c04fc964ff", false},
		{"ref", `"6F9619FF"`, "postgres", nil, true},
		{"meta", `{"a": [1, 2]}`, "postgres", `{"a":[1,2]}`, false},
		{"meta", `{"a": "\u0000"}`, "postgres", nil, true},
		{"doc", `"aGVsbG8="`, "postgres", nil, false},
		{"doc", `"not base64!"`, "postgres", nil, true},
	} {
		v, msg := FromJSON(tc.dialect, tb.Column(tc.col), json.RawMessage(tc.json))
		if tc.bad != (msg != "") {
			t.Errorf("%s %s: %v %q", tc.col, tc.json, v, msg)
			continue
		}
		if !tc.bad && tc.want != nil && v != tc.want {
			t.Errorf("%s %s: %#v, want %#v", tc.col, tc.json, v, tc.want)
		}
	}
}

// allowedSQL is the shape every list statement has: SELECT of quoted
// schema names FROM the table, conditions on quoted names with
// placeholders only, an ORDER BY of quoted names and a numeric LIMIT.
var (
	quotedRe = regexp.MustCompile(`"(?:[^"]|"")*"`)
	shapeRe  = regexp.MustCompile(`^SELECT [^']* FROM I(?: WHERE .*)? ORDER BY I (?:ASC|DESC)(?: NULLS (?:FIRST|LAST))?(?:, I (?:ASC|DESC))* LIMIT [0-9]+$`)
	// Whatever is left of a WHERE once names and placeholders are taken
	// out: keywords, operators, parentheses and the one escape literal.
	tokenRe = regexp.MustCompile(`^(?:I|\?|\$[0-9]+|AND|OR|NOT|IS|NULL|IN|LIKE|ILIKE|ESCAPE|'\\'|=|<>|<|<=|>|>=|\(|\)|,)$`)
)

func checkShape(t *testing.T, tb *Table, p *ListPlan) {
	t.Helper()
	names := map[string]bool{}
	for _, c := range tb.Columns {
		names[quoteIdent(c.Name)] = true
	}
	names[quoteIdent(tb.Name)] = true
	names[quoteIdent(tb.Schema)] = true
	for _, q := range quotedRe.FindAllString(p.SQL, -1) {
		if !names[q] {
			t.Fatalf("identifier %s is not the schema's: %s", q, p.SQL)
		}
	}
	s := quotedRe.ReplaceAllString(p.SQL, "I")
	s = strings.ReplaceAll(s, "I.I", "I")
	if !shapeRe.MatchString(s) {
		t.Fatalf("statement outside the allowed shape: %s", p.SQL)
	}
	if i := strings.Index(s, " WHERE "); i >= 0 {
		where := s[i+7 : strings.Index(s, " ORDER BY ")]
		where = strings.NewReplacer("(", " ( ", ")", " ) ", ",", " , ").Replace(where)
		for _, tok := range strings.Fields(where) {
			if !tokenRe.MatchString(tok) {
				t.Fatalf("token %q in WHERE: %s", tok, p.SQL)
			}
		}
	}
}

func FuzzDataFilter(f *testing.F) {
	f.Add("email", "contains", "x%_'\"", "-created_at", "note", "")
	f.Add("id", "in", "1,2,3", "id", "", "")
	f.Add(`"; DROP TABLE orders; --`, "eq", "1", `note"--`, "x' OR 1=1", "eyJzIjoiaWQiLCJ2IjpbIjEiXX0")
	f.Add("created_at", "gte", "2026-01-01T00:00:00Z", "-note", "ann", "")
	f.Add("paid", "is_null", "true", "ship_on", "", "e30")
	f.Fuzz(func(t *testing.T, field, op, value, sort, q, cur string) {
		for _, dialect := range []string{"sqlite", "postgres"} {
			tb := ordersTable()
			p, err := BuildList(tb, dialect, ListRequest{Filters: []steward.DataFilter{{Field: field, Op: op, Value: value}},
				Sort: sort, Q: q, Cursor: cur})
			if err != nil {
				if _, ok := err.(*steward.Error); !ok {
					t.Fatalf("not a steward error: %v", err)
				}
				continue
			}
			checkShape(t, tb, p)
			n := strings.Count(p.SQL, "?")
			if dialect == "postgres" {
				n = len(regexp.MustCompile(`\$[0-9]+`).FindAllString(p.SQL, -1))
			}
			if n != len(p.Args) {
				t.Fatalf("%d placeholders, %d args: %s", n, len(p.Args), p.SQL)
			}
		}
	})
}

func FuzzDataKey(f *testing.F) {
	f.Add("a%2Cb,42")
	f.Add("a,b,c")
	f.Add("%")
	f.Add("x,-9223372036854775808")
	f.Fuzz(func(t *testing.T, key string) {
		tb := lineItemsTable()
		vals, err := ParseKey(tb, "postgres", key)
		if err != nil {
			if steward.ErrorCode(err) != steward.CodeNotFound {
				t.Fatalf("%q: %v", key, err)
			}
			return
		}
		// A key that decodes re-encodes to one that decodes the same.
		again := FormatKey(tb, tb.selected(), []any{vals[0], vals[1], nil})
		vals2, err := ParseKey(tb, "postgres", again)
		if err != nil || vals2[0] != vals[0] || vals2[1] != vals[1] {
			t.Fatalf("%q → %v → %q → %v %v", key, vals, again, vals2, err)
		}
		st, _ := BuildGet(tb, "postgres", vals, false)
		if st.SQL != `SELECT "order_ref", "line", "sku" FROM "line_items" WHERE "order_ref" = $1 AND "line" = $2` {
			t.Fatalf("statement %s", st.SQL)
		}
	})
}
