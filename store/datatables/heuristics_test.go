package datatables

import (
	"slices"
	"testing"

	"github.com/stewardhq/steward"
)

// c makes a column: type, then flags "pk1", "pk2", "idx", "uniq", "null".
func c(name string, typ steward.DataType, flags ...string) steward.DataColumn {
	col := steward.DataColumn{Name: name, Type: typ}
	for _, f := range flags {
		switch f {
		case "pk1":
			col.PrimaryKey = 1
		case "pk2":
			col.PrimaryKey = 2
		case "idx":
			col.Indexed = true
		case "uniq":
			col.Unique, col.Indexed = true, true
		case "null":
			col.Nullable = true
		}
	}
	return col
}

const (
	text = steward.DataText
	num  = steward.DataInteger
)

func TestHeuristics(t *testing.T) {
	cases := []struct {
		name                 string
		cols                 []steward.DataColumn
		list, search         []string
		sort                 string
		redacted             []string
		readOnly             bool
		readOnlyReasonSource bool
	}{
		{
			name: "pk, then the named columns in their order, then non-text up to six",
			cols: []steward.DataColumn{
				c("created_at", steward.DataTimestamp), c("status", text), c("id", num, "pk1"), c("bio", text),
				c("email", text, "uniq"), c("age", num), c("score", steward.DataReal), c("extra", num),
			},
			list:   []string{"id", "email", "status", "created_at", "age", "score"},
			search: []string{"email"},
			sort:   "-created_at",
		},
		{
			name: "every named column present: no room left for others",
			cols: []steward.DataColumn{
				c("id", num, "pk1"), c("slug", text, "uniq"), c("title", text, "idx"), c("name", text), c("email", text),
				c("status", text), c("created_at", steward.DataTimestamp), c("qty", num),
			},
			list:   []string{"id", "name", "email", "title", "slug", "status", "created_at"},
			search: []string{"slug", "title"},
			sort:   "-created_at",
		},
		{
			name: "no created_at: the primary key descending; unknown and text columns not filled in",
			cols: []steward.DataColumn{
				c("code", text, "pk1", "uniq"), c("note", text), c("raw", steward.DataUnknown), c("flag", steward.DataBoolean),
				c("doc", steward.DataJSON), c("img", steward.DataBlob),
			},
			list:   []string{"code", "flag", "doc", "img"},
			search: []string{"code"},
			sort:   "-code",
		},
		{
			name: "composite key: both columns lead the list, the first sorts",
			cols: []steward.DataColumn{
				c("line", num, "pk2"), c("order_id", num, "pk1"), c("sku", text, "idx"),
			},
			list:   []string{"order_id", "line"},
			search: []string{"sku"},
			sort:   "-order_id",
		},
		{
			name: "secret-looking columns are redacted and left out of list, search and sort",
			cols: []steward.DataColumn{
				c("id", num, "pk1"), c("Password", text, "idx"), c("secret_answer", text), c("api_key_id", num),
				c("token", text, "uniq"), c("_internal", num), c("pin_hash", text), c("body_digest", text),
				c("tokenizer", text), c("hash", text, "idx"), c("digest_at", num),
			},
			list:     []string{"id", "digest_at"},
			search:   []string{"hash"},
			sort:     "-id",
			redacted: []string{"Password", "secret_answer", "api_key_id", "token", "_internal", "pin_hash", "body_digest", "tokenizer"},
		},
		{
			name:     "no primary key and no created_at: read-only, no default sort",
			cols:     []steward.DataColumn{c("at", steward.DataTimestamp), c("msg", text)},
			list:     []string{"at"},
			search:   []string{},
			sort:     "",
			readOnly: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dt, err := apply(TableConfig{Name: "things"}, slices.Clone(tc.cols), false)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(dt.ListFields, tc.list) {
				t.Errorf("list = %v, want %v", dt.ListFields, tc.list)
			}
			if !slices.Equal(dt.SearchFields, tc.search) {
				t.Errorf("search = %v, want %v", dt.SearchFields, tc.search)
			}
			if dt.DefaultSort != tc.sort {
				t.Errorf("sort = %q, want %q", dt.DefaultSort, tc.sort)
			}
			var redacted []string
			for _, col := range dt.Columns {
				if col.Redacted {
					redacted = append(redacted, col.Name)
				}
			}
			if !slices.Equal(redacted, tc.redacted) {
				t.Errorf("redacted = %v, want %v", redacted, tc.redacted)
			}
			if dt.ReadOnly != tc.readOnly || (tc.readOnly && dt.ReadOnlyReason != ReasonNoPrimaryKey) {
				t.Errorf("read-only %v %q", dt.ReadOnly, dt.ReadOnlyReason)
			}
			if dt.Label != "Things" || dt.Roles != steward.DefaultDataRoles || dt.DenyDelete {
				t.Errorf("label %q roles %+v deny delete %v", dt.Label, dt.Roles, dt.DenyDelete)
			}
		})
	}
}

// TestOverrides: what the configuration sets replaces the heuristics.
func TestOverrides(t *testing.T) {
	cols := []steward.DataColumn{
		c("id", num, "pk1"), c("customer_email", text, "uniq"), c("status", text, "idx"), c("internal_note", text, "null"),
		c("total_cents", num), c("created_at", steward.DataTimestamp),
	}
	dt, err := apply(TableConfig{
		Name: "order_items", Label: "Order lines",
		ListFields:     []string{"customer_email", "total_cents"},
		SearchFields:   []string{"internal_note"},
		DefaultSort:    "total_cents ASC",
		RedactFields:   []string{"status"},
		DenyEditFields: []string{"customer_email"},
		DenyDelete:     true,
		Roles:          map[string]steward.Role{"read": steward.RoleAdmin, "delete": steward.RoleSuperAdmin},
	}, cols, false)
	if err != nil {
		t.Fatal(err)
	}
	if dt.Label != "Order lines" || !dt.DenyDelete || dt.ReadOnly {
		t.Errorf("label %q deny delete %v read-only %v", dt.Label, dt.DenyDelete, dt.ReadOnly)
	}
	if !slices.Equal(dt.ListFields, []string{"customer_email", "total_cents"}) ||
		!slices.Equal(dt.SearchFields, []string{"internal_note"}) || dt.DefaultSort != "total_cents" {
		t.Errorf("list %v search %v sort %q", dt.ListFields, dt.SearchFields, dt.DefaultSort)
	}
	if s := dt.Column("status"); !s.Redacted || len(s.FilterOps) != 0 {
		t.Errorf("status: redacted %v ops %v", s.Redacted, s.FilterOps)
	}
	if e := dt.Column("customer_email"); !e.ReadOnly || e.Redacted {
		t.Errorf("customer_email: read-only %v redacted %v", e.ReadOnly, e.Redacted)
	}
	want := steward.DataRoles{Read: steward.RoleAdmin, Insert: steward.RoleAdmin, Update: steward.RoleAdmin, Delete: steward.RoleSuperAdmin}
	if dt.Roles != want {
		t.Errorf("roles %+v, want %+v", dt.Roles, want)
	}
	// An empty list configured is an empty list, not the heuristics'.
	dt, err = apply(TableConfig{Name: "x", SearchFields: []string{}}, slices.Clone(cols), false)
	if err != nil || len(dt.SearchFields) != 0 || dt.SearchFields == nil {
		t.Errorf("search_fields = [] gave %#v, %v", dt.SearchFields, err)
	}
	if dt.Label != "X" {
		t.Errorf("label %q", dt.Label)
	}
}

// TestReadOnlyReasons: the configuration's read_only is named first, then a
// read-only source, then a missing primary key.
func TestReadOnlyReasons(t *testing.T) {
	keyed := []steward.DataColumn{c("id", num, "pk1")}
	keyless := []steward.DataColumn{c("id", num)}
	cases := []struct {
		cols       []steward.DataColumn
		cfgRO, src bool
		want       string
	}{
		{keyed, false, false, ""},
		{keyed, true, false, ReasonConfigured},
		{keyless, true, true, ReasonConfigured},
		{keyed, false, true, ReasonSourceRO},
		{keyless, false, true, ReasonSourceRO},
		{keyless, false, false, ReasonNoPrimaryKey},
	}
	for _, tc := range cases {
		dt, err := apply(TableConfig{Name: "t", ReadOnly: tc.cfgRO}, slices.Clone(tc.cols), tc.src)
		if err != nil {
			t.Fatal(err)
		}
		if dt.ReadOnly != (tc.want != "") || dt.ReadOnlyReason != tc.want {
			t.Errorf("pk %v read_only %v source read-only %v: %v %q, want %q",
				tc.cols[0].PrimaryKey, tc.cfgRO, tc.src, dt.ReadOnly, dt.ReadOnlyReason, tc.want)
		}
	}
}

func TestRedactedName(t *testing.T) {
	for name, want := range map[string]bool{
		"password": true, "password_reset_at": true, "PasswordHash": true, "secret": true, "secrets": true,
		"api_key": true, "api_keys_count": true, "token": true, "tokens": true, "_private": true,
		"pin_hash": true, "BODY_DIGEST": true, "email": false, "hash": false, "digest": false,
		"my_password": false, "apikey": false, "user_token": false, "hash_algo": false, "name_": false,
	} {
		if got := RedactedName(name); got != want {
			t.Errorf("RedactedName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestFilterOps(t *testing.T) {
	all := []string{"eq", "ne", "lt", "lte", "gt", "gte", "in"}
	for _, tc := range []struct {
		col  steward.DataColumn
		want []string
	}{
		{c("a", text), []string{"eq", "ne", "lt", "lte", "gt", "gte", "contains", "in"}},
		{c("a", text, "null"), []string{"eq", "ne", "lt", "lte", "gt", "gte", "contains", "in", "is_null"}},
		{c("a", steward.DataInteger), all},
		{c("a", steward.DataReal), all},
		{c("a", steward.DataNumeric), all},
		{c("a", steward.DataTimestamp), all},
		{c("a", steward.DataDate), all},
		{c("a", steward.DataUUID, "null"), append(slices.Clone(all), "is_null")},
		{c("a", steward.DataBoolean), []string{"eq", "ne", "in"}},
		{c("a", steward.DataJSON), []string{"eq", "ne", "in"}},
		{c("a", steward.DataBlob, "null"), []string{"eq", "ne", "in", "is_null"}},
		{c("a", steward.DataUnknown), []string{}},
		{c("a", steward.DataUnknown, "null"), []string{"is_null"}},
		{steward.DataColumn{Name: "a", Type: text, Nullable: true, Redacted: true}, []string{}},
	} {
		got := FilterOps(tc.col)
		if !slices.Equal(got, tc.want) || got == nil {
			t.Errorf("%s nullable %v redacted %v: %#v, want %v", tc.col.Type, tc.col.Nullable, tc.col.Redacted, got, tc.want)
		}
	}
}

func TestParseSort(t *testing.T) {
	for in, want := range map[string]string{
		"created_at desc": "-created_at", "name asc": "name", "name": "name", "-name": "-name",
		"  name   DESC ": "-name", "Name Asc": "Name",
	} {
		if got, err := ParseSort(in); err != nil || got != want {
			t.Errorf("ParseSort(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-", "name up", "-name desc", "a b c", "--"} {
		if got, err := ParseSort(in); err == nil {
			t.Errorf("ParseSort(%q) = %q, want an error", in, got)
		}
	}
}
