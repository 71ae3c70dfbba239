package datatables

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/stewardhq/steward"
)

// Statements are built here from a Table alone: every identifier is one of
// its introspected names, double-quoted (a quote inside doubled), and every
// value a bound parameter (? on SQLite, $n on PostgreSQL). Nothing a
// request sends becomes SQL text except by choosing among those names.

// Stmt is one statement and its arguments.
type Stmt struct {
	SQL  string
	Args []any
}

// Paging bounds, as everywhere in Steward (SPEC §3).
const (
	defaultLimit = steward.DefaultLimit
	maxLimit     = steward.MaxLimit
	// maxInValues bounds an "in" filter's list.
	maxInValues = 100
	// maxQ bounds a search's text.
	maxQ = 200
)

// ListRequest is a list as the service passes it on.
type ListRequest struct {
	Filters []steward.DataFilter
	Q       string
	// Sort is "field" or "-field"; "" is the table's DefaultSort.
	Sort   string
	Limit  int
	Cursor string
}

// ListPlan is a built list statement and what reading its rows needs.
type ListPlan struct {
	Stmt
	// Columns are the selected columns in order: every column that is not
	// redacted, plus the primary key's, which cursors and path keys need.
	Columns []*steward.DataColumn
	// Limit is the page size; the statement asks for Limit+1 rows so that
	// a row more says there is another page.
	Limit int
	sort  string // canonical "field" or "-field"
	order []int  // positions in Columns of the sort column then the key's other columns
}

type builder struct {
	dialect string
	args    []any
}

func (b *builder) arg(v any) string {
	b.args = append(b.args, v)
	if b.dialect == "postgres" {
		return "$" + strconv.Itoa(len(b.args))
	}
	return "?"
}

// quoteIdent quotes a name from the schema.
func quoteIdent(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

// from is the table's quoted, on PostgreSQL schema-qualified, name.
func (t *Table) from(dialect string) string {
	if t.Schema != "" && dialect == "postgres" {
		return quoteIdent(t.Schema) + "." + quoteIdent(t.Name)
	}
	return quoteIdent(t.Name)
}

// selected are the columns a statement returns: all but the redacted,
// plus the primary key's.
func (t *Table) selected() []*steward.DataColumn {
	var out []*steward.DataColumn
	for i := range t.Columns {
		c := &t.Columns[i]
		if !c.Redacted || c.PrimaryKey > 0 {
			out = append(out, c)
		}
	}
	return out
}

func selectList(cols []*steward.DataColumn) string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = quoteIdent(c.Name)
	}
	return strings.Join(names, ", ")
}

// OpsFor is the filter operators a column accepts: its FilterOps when
// introspection set them, else those its type supports.
func OpsFor(c *steward.DataColumn) []string {
	if len(c.FilterOps) > 0 {
		return c.FilterOps
	}
	return opsForType(c.Type)
}

func opsForType(t steward.DataType) []string {
	switch t {
	case steward.DataText:
		return []string{steward.FilterEq, steward.FilterNe, steward.FilterLt, steward.FilterLte, steward.FilterGt,
			steward.FilterGte, steward.FilterContains, steward.FilterIn, steward.FilterIsNull}
	case steward.DataInteger, steward.DataReal, steward.DataNumeric, steward.DataTimestamp, steward.DataDate:
		return []string{steward.FilterEq, steward.FilterNe, steward.FilterLt, steward.FilterLte, steward.FilterGt,
			steward.FilterGte, steward.FilterIn, steward.FilterIsNull}
	case steward.DataBoolean:
		return []string{steward.FilterEq, steward.FilterNe, steward.FilterIsNull}
	case steward.DataUUID:
		return []string{steward.FilterEq, steward.FilterNe, steward.FilterIn, steward.FilterIsNull}
	}
	return []string{steward.FilterIsNull}
}

// sortable reports whether a column can order a list.
func sortable(c *steward.DataColumn) bool {
	switch c.Type {
	case steward.DataJSON, steward.DataBlob, steward.DataUnknown:
		return false
	}
	return true
}

func filterField(f steward.DataFilter) string { return "filter[" + f.Field + "][" + f.Op + "]" }

// fieldNamed finds a column a request names, refusing a redacted one.
func (t *Table) fieldNamed(name, param string) (*steward.DataColumn, error) {
	c := t.Column(name)
	if c == nil {
		return nil, steward.FieldError(param, fmt.Sprintf("%s has no field %q", t.Name, name))
	}
	if c.Redacted {
		return nil, RedactedError(name)
	}
	return c, nil
}

// RedactedError is FIELD_REDACTED naming field.
func RedactedError(field string) error {
	return &steward.Error{Code: steward.CodeFieldRedacted, Message: field + " is redacted: it cannot be read, filtered on or written",
		Details: map[string]any{"field": field, "fields": map[string]any{field: "is redacted"}}}
}

// ReadOnlyError is FIELD_READ_ONLY naming field.
func ReadOnlyError(field, why string) error {
	return &steward.Error{Code: steward.CodeFieldReadOnly, Message: field + " is read-only: " + why,
		Details: map[string]any{"field": field, "fields": map[string]any{field: "is read-only: " + why}}}
}

// BuildList builds a list: filters, search, sort with the primary key as
// tiebreaker, and keyset paging after the cursor. Its errors are
// UNSUPPORTED_FILTER_OP, FIELD_REDACTED and VALIDATION_FAILED naming the
// parameter.
func BuildList(t *Table, dialect string, req ListRequest) (*ListPlan, error) {
	if len(t.PrimaryKey) == 0 {
		return buildListNoKey(t, dialect, req)
	}
	p := &ListPlan{Columns: t.selected(), Limit: req.Limit}
	if p.Limit == 0 {
		p.Limit = defaultLimit
	}
	if p.Limit < 0 || p.Limit > maxLimit {
		return nil, steward.FieldError("limit", "must be between 1 and 200")
	}
	b := &builder{dialect: dialect}
	where, err := t.whereOf(b, req)
	if err != nil {
		return nil, err
	}
	sortCol, desc, err := t.sortOf(req.Sort)
	if err != nil {
		return nil, err
	}
	p.sort = sortCol.Name
	if desc {
		p.sort = "-" + sortCol.Name
	}
	// The order: the sort column, then the key's columns not already it.
	orderCols := []*steward.DataColumn{sortCol}
	for _, k := range t.PrimaryKey {
		if k != sortCol.Name {
			orderCols = append(orderCols, t.Column(k))
		}
	}
	for _, c := range orderCols {
		p.order = append(p.order, slices.Index(p.Columns, c))
	}
	nullable := sortCol.Nullable && sortCol.PrimaryKey == 0
	if req.Cursor != "" {
		vals, err := p.decodeCursor(dialect, req.Cursor)
		if err != nil {
			return nil, err
		}
		where = append(where, keysetCond(b, orderCols, vals, desc, nullable))
	}
	var sb strings.Builder
	sb.WriteString("SELECT " + selectList(p.Columns) + " FROM " + t.from(dialect))
	if len(where) > 0 {
		sb.WriteString(" WHERE " + strings.Join(where, " AND "))
	}
	dir := " ASC"
	if desc {
		dir = " DESC"
	}
	parts := make([]string, len(orderCols))
	for i, c := range orderCols {
		parts[i] = quoteIdent(c.Name) + dir
		// NULLs sort first ascending and last descending on both
		// dialects (SQLite's own order), so a cursor means the same on
		// either.
		if i == 0 && nullable && dialect == "postgres" {
			if desc {
				parts[i] += " NULLS LAST"
			} else {
				parts[i] += " NULLS FIRST"
			}
		}
	}
	sb.WriteString(" ORDER BY " + strings.Join(parts, ", "))
	sb.WriteString(" LIMIT " + strconv.Itoa(p.Limit+1))
	p.SQL, p.Args = sb.String(), b.args
	return p, nil
}

// buildListNoKey lists a table without a primary key (read-only): sorted
// by the requested column only, and one page, since there is no key to
// continue after.
func buildListNoKey(t *Table, dialect string, req ListRequest) (*ListPlan, error) {
	if req.Cursor != "" {
		return nil, steward.FieldError("cursor", "this table has no primary key: it has one page only")
	}
	p := &ListPlan{Columns: t.selected(), Limit: req.Limit}
	if p.Limit == 0 {
		p.Limit = defaultLimit
	}
	if p.Limit < 0 || p.Limit > maxLimit {
		return nil, steward.FieldError("limit", "must be between 1 and 200")
	}
	b := &builder{dialect: dialect}
	where, err := t.whereOf(b, req)
	if err != nil {
		return nil, err
	}
	var sb strings.Builder
	sb.WriteString("SELECT " + selectList(p.Columns) + " FROM " + t.from(dialect))
	if len(where) > 0 {
		sb.WriteString(" WHERE " + strings.Join(where, " AND "))
	}
	if req.Sort != "" || t.DefaultSort != "" {
		sortCol, desc, err := t.sortOf(req.Sort)
		if err != nil {
			return nil, err
		}
		dir := " ASC"
		if desc {
			dir = " DESC"
		}
		sb.WriteString(" ORDER BY " + quoteIdent(sortCol.Name) + dir)
	}
	sb.WriteString(" LIMIT " + strconv.Itoa(p.Limit+1))
	p.SQL, p.Args = sb.String(), b.args
	return p, nil
}

// sortOf reads "field" or "-field" ("" is the table's default sort, else
// the primary key descending).
func (t *Table) sortOf(s string) (*steward.DataColumn, bool, error) {
	param := "sort"
	if s == "" {
		s = t.DefaultSort
		param = "default_sort"
	}
	if s == "" && len(t.PrimaryKey) > 0 {
		s = "-" + t.PrimaryKey[0]
	}
	desc := strings.HasPrefix(s, "-")
	name := strings.TrimPrefix(s, "-")
	c, err := t.fieldNamed(name, param)
	if err != nil {
		return nil, false, err
	}
	if !sortable(c) {
		return nil, false, steward.FieldError(param, fmt.Sprintf("%s cannot be sorted on (a %s field)", name, c.Type))
	}
	return c, desc, nil
}

// whereOf builds the filters and the search.
func (t *Table) whereOf(b *builder, req ListRequest) ([]string, error) {
	var where []string
	for _, f := range req.Filters {
		cond, err := t.filterCond(b, f)
		if err != nil {
			return nil, err
		}
		where = append(where, cond)
	}
	if req.Q != "" {
		if len(req.Q) > maxQ {
			return nil, steward.FieldError("q", fmt.Sprintf("must be at most %d bytes", maxQ))
		}
		if msg := steward.CheckText(req.Q, false); msg != "" {
			return nil, steward.FieldError("q", msg)
		}
		var ors []string
		for _, name := range t.SearchFields {
			c := t.Column(name)
			if c == nil || c.Redacted || c.Type != steward.DataText {
				continue
			}
			ors = append(ors, likeCond(b, c, req.Q))
		}
		if len(ors) == 0 {
			return nil, steward.FieldError("q", t.Name+" has no search fields")
		}
		where = append(where, "("+strings.Join(ors, " OR ")+")")
	}
	return where, nil
}

// likeCond is a case-insensitive substring match with the pattern's own
// wildcards escaped.
func likeCond(b *builder, c *steward.DataColumn, s string) string {
	pat := "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s) + "%"
	op := " LIKE " // ASCII case-insensitive on SQLite
	if b.dialect == "postgres" {
		op = " ILIKE "
	}
	return quoteIdent(c.Name) + op + b.arg(pat) + ` ESCAPE '\'`
}

var compareOps = map[string]string{
	steward.FilterEq: "=", steward.FilterNe: "<>", steward.FilterLt: "<", steward.FilterLte: "<=",
	steward.FilterGt: ">", steward.FilterGte: ">=",
}

// allFilterOps lists every operator, for UNSUPPORTED_FILTER_OP on a name
// that is none of them.
var allFilterOps = []string{steward.FilterEq, steward.FilterNe, steward.FilterLt, steward.FilterLte, steward.FilterGt,
	steward.FilterGte, steward.FilterContains, steward.FilterIn, steward.FilterIsNull}

func (t *Table) filterCond(b *builder, f steward.DataFilter) (string, error) {
	param := filterField(f)
	c, err := t.fieldNamed(f.Field, param)
	if err != nil {
		return "", err
	}
	ops := OpsFor(c)
	if !slices.Contains(ops, f.Op) || !slices.Contains(allFilterOps, f.Op) {
		return "", &steward.Error{Code: steward.CodeUnsupportedFilterOp,
			Message: fmt.Sprintf("%s does not take the filter %q: it takes %s", f.Field, f.Op, strings.Join(ops, ", ")),
			Details: map[string]any{"field": f.Field, "op": f.Op, "ops": slices.Clone(ops)}}
	}
	col := quoteIdent(c.Name)
	switch f.Op {
	case steward.FilterIsNull:
		switch f.Value {
		case "true":
			return col + " IS NULL", nil
		case "false":
			return col + " IS NOT NULL", nil
		}
		return "", steward.FieldError(param, "must be true or false")
	case steward.FilterContains:
		if msg := steward.CheckText(f.Value, false); msg != "" {
			return "", steward.FieldError(param, msg)
		}
		if f.Value == "" || len(f.Value) > maxQ {
			return "", steward.FieldError(param, fmt.Sprintf("must be 1 to %d bytes", maxQ))
		}
		return likeCond(b, c, f.Value), nil
	case steward.FilterIn:
		parts := strings.Split(f.Value, ",")
		if len(parts) > maxInValues {
			return "", steward.FieldError(param, fmt.Sprintf("must list at most %d values", maxInValues))
		}
		phs := make([]string, len(parts))
		for i, s := range parts {
			v, msg := FromText(b.dialect, c, s)
			if msg != "" {
				return "", steward.FieldError(param, msg)
			}
			phs[i] = b.arg(v)
		}
		return col + " IN (" + strings.Join(phs, ", ") + ")", nil
	}
	v, msg := FromText(b.dialect, c, f.Value)
	if msg != "" {
		return "", steward.FieldError(param, msg)
	}
	return col + " " + compareOps[f.Op] + " " + b.arg(v), nil
}

// keysetCond continues after vals (the last row's order columns). The
// first order column may be NULL when nullable; NULL is the smallest value.
func keysetCond(b *builder, cols []*steward.DataColumn, vals []any, desc, nullable bool) string {
	cmp := ">"
	if desc {
		cmp = "<"
	}
	tuple := func(cs []*steward.DataColumn, vs []any) string {
		names := make([]string, len(cs))
		phs := make([]string, len(vs))
		for i := range cs {
			names[i] = quoteIdent(cs[i].Name)
			phs[i] = b.arg(vs[i])
		}
		return "(" + strings.Join(names, ", ") + ") " + cmp + " (" + strings.Join(phs, ", ") + ")"
	}
	if !nullable {
		return tuple(cols, vals)
	}
	first := quoteIdent(cols[0].Name)
	if vals[0] == nil {
		// Among the NULLs, after the key; ascending, every value follows.
		cond := "(" + first + " IS NULL AND " + tuple(cols[1:], vals[1:]) + ")"
		if !desc {
			cond = "(" + cond + " OR " + first + " IS NOT NULL)"
		}
		return cond
	}
	cond := tuple(cols, vals)
	if desc {
		cond = "(" + cond + " OR " + first + " IS NULL)"
	}
	return cond
}

// cursor is what a list cursor carries: the sort it was made for, then
// the last row's order values as text (nil for NULL).
type cursor struct {
	Sort string    `json:"s"`
	Vals []*string `json:"v"`
}

// Cursor is the opaque cursor continuing after row (the plan's Columns).
func (p *ListPlan) Cursor(row []any) string {
	c := cursor{Sort: p.sort}
	for _, i := range p.order {
		if row[i] == nil {
			c.Vals = append(c.Vals, nil)
			continue
		}
		s := KeyText(p.Columns[i], row[i])
		c.Vals = append(c.Vals, &s)
	}
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func badCursor() error {
	return &steward.Error{Code: steward.CodeBadRequest, Message: "cursor is malformed or was made for another sort",
		Details: map[string]any{"fields": map[string]any{"cursor": "is malformed"}}}
}

func (p *ListPlan) decodeCursor(dialect, s string) ([]any, error) {
	if len(s) > 4096 {
		return nil, badCursor()
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, badCursor()
	}
	var c cursor
	if err := json.Unmarshal(raw, &c); err != nil || c.Sort != p.sort || len(c.Vals) != len(p.order) {
		return nil, badCursor()
	}
	vals := make([]any, len(c.Vals))
	for i, v := range c.Vals {
		col := p.Columns[p.order[i]]
		if v == nil {
			if i > 0 || !col.Nullable {
				return nil, badCursor()
			}
			continue
		}
		bv, msg := FromText(dialect, col, *v)
		if msg != "" {
			return nil, badCursor()
		}
		vals[i] = bv
	}
	return vals, nil
}

// Key encoding in a path (docs/data-admin.md#reading-and-writing-rows): each
// part of the primary key, in key order, as its text (integers in decimal,
// times in RFC 3339, UUIDs lower-case), percent-escaped as a path segment
// (url.PathEscape, which escapes ',' and '/') and joined with ','. A ','
// in the segment as sent therefore always separates parts.

// FormatKey is the canonical path key of a row (the plan's Columns).
func FormatKey(t *Table, cols []*steward.DataColumn, row []any) string {
	parts := make([]string, len(t.PrimaryKey))
	for i, k := range t.PrimaryKey {
		for j, c := range cols {
			if c.Name == k {
				parts[i] = url.PathEscape(KeyText(c, row[j]))
			}
		}
	}
	return strings.Join(parts, ",")
}

// ParseKey decodes a path key (as escaped in the URL) into the key's bound
// values. Anything that is not a key of the table is NOT_FOUND: no row has
// it.
func ParseKey(t *Table, dialect, key string) ([]any, error) {
	notFound := steward.Errorf(steward.CodeNotFound, "%s has no row %q", t.Name, key)
	if len(t.PrimaryKey) == 0 || key == "" || len(key) > 4096 {
		return nil, notFound
	}
	parts := strings.Split(key, ",")
	if len(parts) != len(t.PrimaryKey) {
		return nil, notFound
	}
	vals := make([]any, len(parts))
	for i, p := range parts {
		s, err := url.PathUnescape(p)
		if err != nil || s == "" {
			return nil, notFound
		}
		v, msg := FromText(dialect, t.Column(t.PrimaryKey[i]), s)
		if msg != "" {
			return nil, notFound
		}
		vals[i] = v
	}
	return vals, nil
}

func (t *Table) keyWhere(b *builder, key []any) string {
	conds := make([]string, len(t.PrimaryKey))
	for i, k := range t.PrimaryKey {
		conds[i] = quoteIdent(k) + " = " + b.arg(key[i])
	}
	return strings.Join(conds, " AND ")
}

// BuildGet reads one row by its key; lock adds FOR UPDATE on PostgreSQL,
// for a read inside a writing transaction (SQLite's one writer holds the
// database already).
func BuildGet(t *Table, dialect string, key []any, lock bool) (Stmt, []*steward.DataColumn) {
	cols := t.selected()
	b := &builder{dialect: dialect}
	q := "SELECT " + selectList(cols) + " FROM " + t.from(dialect) + " WHERE " + t.keyWhere(b, key)
	if lock && dialect == "postgres" {
		q += " FOR UPDATE"
	}
	return Stmt{q, b.args}, cols
}

// Assignment is one column and the value bound to it.
type Assignment struct {
	Column *steward.DataColumn
	Value  any
}

// BuildInsert inserts one row and returns it.
func BuildInsert(t *Table, dialect string, set []Assignment) (Stmt, []*steward.DataColumn) {
	cols := t.selected()
	b := &builder{dialect: dialect}
	q := "INSERT INTO " + t.from(dialect)
	if len(set) == 0 {
		q += " DEFAULT VALUES"
	} else {
		names := make([]string, len(set))
		phs := make([]string, len(set))
		for i, a := range set {
			names[i] = quoteIdent(a.Column.Name)
			phs[i] = b.arg(a.Value)
		}
		q += " (" + strings.Join(names, ", ") + ") VALUES (" + strings.Join(phs, ", ") + ")"
	}
	q += " RETURNING " + selectList(cols)
	return Stmt{q, b.args}, cols
}

// BuildUpdate sets columns of one row and returns it.
func BuildUpdate(t *Table, dialect string, key []any, set []Assignment) (Stmt, []*steward.DataColumn) {
	cols := t.selected()
	b := &builder{dialect: dialect}
	sets := make([]string, len(set))
	for i, a := range set {
		sets[i] = quoteIdent(a.Column.Name) + " = " + b.arg(a.Value)
	}
	q := "UPDATE " + t.from(dialect) + " SET " + strings.Join(sets, ", ") + " WHERE " + t.keyWhere(b, key) +
		" RETURNING " + selectList(cols)
	return Stmt{q, b.args}, cols
}

// BuildDelete deletes one row.
func BuildDelete(t *Table, dialect string, key []any) Stmt {
	b := &builder{dialect: dialect}
	return Stmt{"DELETE FROM " + t.from(dialect) + " WHERE " + t.keyWhere(b, key), b.args}
}
