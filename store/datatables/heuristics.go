package datatables

import (
	"fmt"
	"slices"
	"strings"

	"github.com/stewardhq/steward"
)

// Why a table takes no writes (DataTable.ReadOnlyReason).
const (
	ReasonConfigured   = "read_only is set in the configuration"
	ReasonSourceRO     = "the data source is read-only"
	ReasonNoPrimaryKey = "the table has no primary key"
)

// listNames are the columns the list shows after the primary key, in this
// order, where the table has them.
var listNames = []string{"name", "email", "title", "slug", "status", "created_at"}

// listWidth is how many fields the heuristic list fills up to with
// non-text columns.
const listWidth = 6

// redactedPrefixes and redactedSuffixes name the columns redacted whatever
// the configuration says (compared lower-cased).
var (
	redactedPrefixes = []string{"password", "secret", "api_key", "token", "_"}
	redactedSuffixes = []string{"_hash", "_digest"}
)

// RedactedName reports whether a column of that name is redacted by the
// heuristics: password*, secret*, api_key*, token*, _*, *_hash, *_digest.
func RedactedName(name string) bool {
	n := strings.ToLower(name)
	for _, p := range redactedPrefixes {
		if strings.HasPrefix(n, p) {
			return true
		}
	}
	for _, s := range redactedSuffixes {
		if strings.HasSuffix(n, s) {
			return true
		}
	}
	return false
}

// FilterOps returns the filter operators a column accepts: eq, ne and in
// for every type the data admin can convert, the ordering operators except
// on json, blob and boolean, contains on text only, is_null on nullable
// columns only. A column of an unknown type can only be tested for NULL;
// a redacted column accepts none.
func FilterOps(c steward.DataColumn) []string {
	if c.Redacted {
		return []string{}
	}
	var ops []string
	if c.Type != steward.DataUnknown {
		ops = append(ops, steward.FilterEq, steward.FilterNe)
		switch c.Type {
		case steward.DataJSON, steward.DataBlob, steward.DataBoolean:
		default:
			ops = append(ops, steward.FilterLt, steward.FilterLte, steward.FilterGt, steward.FilterGte)
		}
		if c.Type == steward.DataText {
			ops = append(ops, steward.FilterContains)
		}
		ops = append(ops, steward.FilterIn)
	}
	if c.Nullable {
		ops = append(ops, steward.FilterIsNull)
	}
	if ops == nil {
		ops = []string{}
	}
	return ops
}

// ParseSort reads a configured default_sort: "field", "-field", "field asc"
// or "field desc" (any case), as "field" or "-field".
func ParseSort(s string) (string, error) {
	f := strings.Fields(s)
	switch {
	case len(f) == 1 && f[0] != "-" && !strings.HasPrefix(f[0], "--"):
		return f[0], nil
	case len(f) == 2 && !strings.HasPrefix(f[0], "-") && strings.EqualFold(f[1], "asc"):
		return f[0], nil
	case len(f) == 2 && !strings.HasPrefix(f[0], "-") && strings.EqualFold(f[1], "desc"):
		return "-" + f[0], nil
	}
	return "", fmt.Errorf("default_sort %q: want \"field\", \"-field\", \"field asc\" or \"field desc\"", s)
}

// dataRoleKeys are the keys of a table's roles override.
var dataRoleKeys = []string{"read", "insert", "update", "delete"}

// apply makes a DataTable of a table's introspected columns and its
// configuration: overrides where configured, the heuristics elsewhere.
func apply(tc TableConfig, cols []steward.DataColumn, sourceReadOnly bool) (steward.DataTable, error) {
	t := steward.DataTable{
		Name:       tc.Name,
		Label:      tc.Label,
		Source:     tc.Source,
		Columns:    cols,
		DenyDelete: tc.DenyDelete,
		Roles:      steward.DefaultDataRoles,
	}
	if t.Label == "" {
		t.Label = defaultLabel(tc.Name)
	}
	column := func(key, name string) (*steward.DataColumn, error) {
		if c := t.Column(name); c != nil {
			return c, nil
		}
		return nil, fmt.Errorf("%s: %q is not a column of the table", key, name)
	}

	for i := range t.Columns {
		t.Columns[i].Redacted = RedactedName(t.Columns[i].Name)
	}
	for _, name := range tc.RedactFields {
		c, err := column("redact_fields", name)
		if err != nil {
			return t, err
		}
		c.Redacted = true
	}
	for _, name := range tc.DenyEditFields {
		c, err := column("deny_edit_fields", name)
		if err != nil {
			return t, err
		}
		c.ReadOnly = true
	}
	for i := range t.Columns {
		t.Columns[i].FilterOps = FilterOps(t.Columns[i])
	}
	for _, i := range pkColumns(t.Columns) {
		t.PrimaryKey = append(t.PrimaryKey, t.Columns[i].Name)
	}

	// Lists and sorts never show a redacted column.
	if tc.ListFields != nil {
		for _, name := range tc.ListFields {
			c, err := column("list_fields", name)
			if err != nil {
				return t, err
			}
			if c.Redacted {
				return t, fmt.Errorf("list_fields: %q is redacted", name)
			}
		}
		t.ListFields = slices.Clone(tc.ListFields)
	} else {
		t.ListFields = heuristicList(t)
	}
	if tc.SearchFields != nil {
		for _, name := range tc.SearchFields {
			c, err := column("search_fields", name)
			if err != nil {
				return t, err
			}
			if c.Redacted {
				return t, fmt.Errorf("search_fields: %q is redacted", name)
			}
			if c.Type != steward.DataText {
				return t, fmt.Errorf("search_fields: %q is not a text column (it is %s)", name, c.DBType)
			}
		}
		t.SearchFields = slices.Clone(tc.SearchFields)
	} else {
		t.SearchFields = heuristicSearch(t)
	}
	if tc.DefaultSort != "" {
		s, err := ParseSort(tc.DefaultSort)
		if err != nil {
			return t, err
		}
		c, err := column("default_sort", strings.TrimPrefix(s, "-"))
		if err != nil {
			return t, err
		}
		if c.Redacted {
			return t, fmt.Errorf("default_sort: %q is redacted", c.Name)
		}
		t.DefaultSort = s
	} else {
		t.DefaultSort = heuristicSort(t)
	}

	for key, role := range tc.Roles {
		if !role.Valid() {
			return t, fmt.Errorf("roles.%s: unknown role %q", key, role)
		}
		switch key {
		case "read":
			t.Roles.Read = role
		case "insert":
			t.Roles.Insert = role
		case "update":
			t.Roles.Update = role
		case "delete":
			t.Roles.Delete = role
		default:
			return t, fmt.Errorf("roles: unknown key %q (want %s)", key, strings.Join(dataRoleKeys, ", "))
		}
	}

	switch {
	case tc.ReadOnly:
		t.ReadOnly, t.ReadOnlyReason = true, ReasonConfigured
	case sourceReadOnly:
		t.ReadOnly, t.ReadOnlyReason = true, ReasonSourceRO
	case len(t.PrimaryKey) == 0:
		t.ReadOnly, t.ReadOnlyReason = true, ReasonNoPrimaryKey
	}
	if t.ListFields == nil {
		t.ListFields = []string{}
	}
	if t.SearchFields == nil {
		t.SearchFields = []string{}
	}
	if t.PrimaryKey == nil {
		t.PrimaryKey = []string{}
	}
	return t, nil
}

// heuristicList is the primary key, then name, email, title, slug, status
// and created_at where the table has them, then the other columns that are
// not text (nor of an unknown type, shown as text) until there are six
// fields. Redacted columns are never listed.
func heuristicList(t steward.DataTable) []string {
	var out []string
	add := func(c *steward.DataColumn) {
		if c != nil && !c.Redacted && !slices.Contains(out, c.Name) {
			out = append(out, c.Name)
		}
	}
	for _, name := range t.PrimaryKey {
		add(t.Column(name))
	}
	for _, name := range listNames {
		add(t.Column(name))
	}
	for i := range t.Columns {
		if len(out) >= listWidth {
			break
		}
		c := &t.Columns[i]
		if c.Type != steward.DataText && c.Type != steward.DataUnknown {
			add(c)
		}
	}
	return out
}

// heuristicSearch is every text column that is indexed or unique and not
// redacted.
func heuristicSearch(t steward.DataTable) []string {
	var out []string
	for _, c := range t.Columns {
		if c.Type == steward.DataText && (c.Indexed || c.Unique) && !c.Redacted {
			out = append(out, c.Name)
		}
	}
	return out
}

// heuristicSort is created_at descending, else the primary key's first
// column descending, else "" (the database's order) for a table with
// neither.
func heuristicSort(t steward.DataTable) string {
	if c := t.Column("created_at"); c != nil && !c.Redacted {
		return "-created_at"
	}
	if len(t.PrimaryKey) > 0 {
		return "-" + t.PrimaryKey[0]
	}
	return ""
}

// defaultLabel makes "order_items" "Order items".
func defaultLabel(name string) string {
	s := strings.ReplaceAll(name, "_", " ")
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
