package datatables

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
	"github.com/stewardhq/steward/store/postgres"
	"github.com/stewardhq/steward/store/sqlite"
)

// errNotFound is an introspected table that does not exist.
var errNotFound = errors.New("table not found")

// Load opens every configured source, introspects every configured table
// and applies the configuration and the heuristics (docs/data-admin.md). An
// error names the table or source at fault and stops start-up (or leaves a
// reload without effect); the sources opened so far are closed again.
func Load(ctx context.Context, own store.Store, cfg Config) (_ *Catalog, err error) {
	cat := &Catalog{LoadedAt: time.Now().UTC()}
	sources := map[string]Source{"": Own(own)}
	defer func() {
		if err != nil {
			for name, src := range sources {
				if name != "" {
					src.Close()
				}
			}
		}
	}()
	names := make([]string, 0, len(cfg.Sources))
	for name := range cfg.Sources {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if name == "" {
			return nil, errors.New("data source: the name must not be empty")
		}
		// A source only some of whose tables are read-only is opened
		// writable; each table's own read_only still holds.
		readOnly := true
		for _, tc := range cfg.Tables {
			if tc.Source == name && !tc.ReadOnly {
				readOnly = false
			}
		}
		src, err := Open(ctx, name, cfg.Sources[name], readOnly)
		if err != nil {
			return nil, err
		}
		sources[name] = src
	}
	ownTables := ownTableNames(own.Dialect())
	seen := map[string]bool{}
	for _, tc := range cfg.Tables {
		if tc.Name == "" {
			return nil, errors.New("data table: name is required")
		}
		if seen[tc.Name] {
			return nil, fmt.Errorf("data table %q: configured twice", tc.Name)
		}
		seen[tc.Name] = true
		src, ok := sources[tc.Source]
		if !ok {
			return nil, fmt.Errorf("data table %q: unknown source %q (not in [data.sources])", tc.Name, tc.Source)
		}
		if src.Own() && ownTables[strings.ToLower(tc.Name)] {
			return nil, fmt.Errorf("data table %q: the table is Steward's own; it is managed through Steward's API, never the data admin", tc.Name)
		}
		schema := cfg.Sources[tc.Source].Schema
		var cols []steward.DataColumn
		err := src.Read(ctx, func(q store.RawQuerier) (err error) {
			cols, err = introspect(ctx, q, schema, tc.Name)
			return err
		})
		if errors.Is(err, errNotFound) {
			where := "Steward's database"
			if tc.Source != "" {
				where = "source " + fmt.Sprintf("%q", tc.Source)
			}
			if schema != "" {
				where += fmt.Sprintf(" (schema %q)", schema)
			}
			return nil, fmt.Errorf("data table %q: no such table in %s", tc.Name, where)
		}
		if err != nil {
			return nil, fmt.Errorf("data table %q: reading its columns: %w", tc.Name, err)
		}
		if !src.Own() && ownTables[strings.ToLower(tc.Name)] {
			// A source may be a Steward database too (this one by another
			// path, or another instance's): its tables are as much
			// Steward's.
			var steward bool
			if err := src.Read(ctx, func(q store.RawQuerier) (err error) {
				steward, err = besideStewardTables(ctx, q, schema, tc.Name)
				return err
			}); err != nil {
				return nil, fmt.Errorf("data table %q: %w", tc.Name, err)
			}
			if steward {
				return nil, fmt.Errorf("data table %q: source %q is a Steward database and the table is Steward's own; it is managed through Steward's API, never the data admin", tc.Name, tc.Source)
			}
		}
		dt, err := apply(tc, cols, isReadOnly(src))
		if err != nil {
			return nil, fmt.Errorf("data table %q: %w", tc.Name, err)
		}
		cat.Tables = append(cat.Tables, &Table{DataTable: dt, Src: src, Schema: schema})
	}
	cat.sources = sources
	return cat, nil
}

// Close closes the catalog's external sources (Steward's own database is
// not the catalog's to close).
func (c *Catalog) Close() error {
	var errs []error
	for name, src := range c.sources {
		if name != "" {
			errs = append(errs, src.Close())
		}
	}
	c.sources = nil
	return errors.Join(errs...)
}

func isReadOnly(src Source) bool {
	ro, ok := src.(readOnlySource)
	return ok && ro.readOnly()
}

// ownTableNames are the tables of Steward's own database the data admin
// refuses, lower-cased (both databases fold unquoted names).
func ownTableNames(dialect string) map[string]bool {
	names := sqlite.OwnTables()
	if dialect == "postgres" {
		names = postgres.OwnTables()
	}
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[strings.ToLower(n)] = true
	}
	return m
}

// stewardMarker is a table only Steward's migrations create: a table of
// Steward's name beside it is Steward's.
const stewardMarker = "audit_anchor"

// besideStewardTables reports whether the table's schema (its database, on
// SQLite) holds Steward's tables.
func besideStewardTables(ctx context.Context, q store.RawQuerier, schema, table string) (bool, error) {
	var rows [][]any
	var err error
	if q.Dialect() == "postgres" {
		_, rows, err = q.QueryRaw(ctx, `SELECT 1 FROM pg_class m WHERE m.relname = $1
AND m.relnamespace = (SELECT c.relnamespace FROM pg_class c WHERE c.oid = to_regclass($2))`, stewardMarker, qualified(schema, table))
	} else {
		_, rows, err = q.QueryRaw(ctx, "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?", stewardMarker)
	}
	return len(rows) > 0, err
}

// qualified is a table's name as PostgreSQL's regclass reads it.
func qualified(schema, table string) string {
	if schema == "" {
		return quoteIdent(table)
	}
	return quoteIdent(schema) + "." + quoteIdent(table)
}

// introspect reads a table's columns, primary key and indexes.
func introspect(ctx context.Context, q store.RawQuerier, schema, table string) ([]steward.DataColumn, error) {
	if q.Dialect() == "postgres" {
		return introspectPostgres(ctx, q, schema, table)
	}
	return introspectSQLite(ctx, q, table)
}

func introspectSQLite(ctx context.Context, q store.RawQuerier, table string) ([]steward.DataColumn, error) {
	_, rows, err := q.QueryRaw(ctx,
		"SELECT name FROM sqlite_schema WHERE type IN ('table', 'view') AND name = ? AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'", table)
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, errNotFound
	}
	// hidden: 2 and 3 are generated columns (virtual, stored).
	_, rows, err = q.QueryRaw(ctx,
		`SELECT name, type, "notnull", dflt_value, pk, hidden FROM pragma_table_xinfo(?) ORDER BY cid`, table)
	if err != nil {
		return nil, err
	}
	var cols []steward.DataColumn
	for _, r := range rows {
		hidden := asInt(r[5])
		if hidden == 1 { // a virtual table's hidden column: not data
			continue
		}
		c := steward.DataColumn{
			Name:       asString(r[0]),
			DBType:     asString(r[1]),
			Nullable:   asInt(r[2]) == 0,
			PrimaryKey: int(asInt(r[4])),
			ReadOnly:   hidden == 2 || hidden == 3,
		}
		c.Type = sqliteType(c.DBType)
		if r[3] != nil {
			d := asString(r[3])
			c.Default = &d
		}
		cols = append(cols, c)
	}
	if pk := pkColumns(cols); len(pk) == 1 {
		c := &cols[pk[0]]
		// An INTEGER PRIMARY KEY is the rowid: never NULL, and SQLite
		// assigns the next one when an insert leaves it out, as a
		// PostgreSQL serial's default does.
		if strings.EqualFold(c.DBType, "INTEGER") {
			c.Nullable = false
			if c.Default == nil {
				d := "rowid"
				c.Default = &d
			}
		}
	}
	for _, i := range pkColumns(cols) {
		// SQLite allows NULL in a non-integer primary key of a rowid
		// table, but a key that may be NULL names no row.
		cols[i].Nullable = false
	}
	_, idx, err := q.QueryRaw(ctx, `SELECT name, "unique", partial FROM pragma_index_list(?)`, table)
	if err != nil {
		return nil, err
	}
	for _, ix := range idx {
		_, keys, err := q.QueryRaw(ctx, `SELECT name FROM pragma_index_info(?) ORDER BY seqno`, asString(ix[0]))
		if err != nil {
			return nil, err
		}
		markIndex(cols, keyNames(keys), asInt(ix[1]) == 1 && asInt(ix[2]) == 0)
	}
	markPrimaryKey(cols)
	return cols, nil
}

func introspectPostgres(ctx context.Context, q store.RawQuerier, schema, table string) ([]steward.DataColumn, error) {
	name := qualified(schema, table)
	// to_regclass is NULL for a missing table (and for a missing schema)
	// instead of an error.
	_, rows, err := q.QueryRaw(ctx,
		"SELECT c.relkind::text FROM pg_class c WHERE c.oid = to_regclass($1) AND c.relkind IN ('r', 'p', 'v', 'm', 'f')", name)
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, errNotFound
	}
	_, rows, err = q.QueryRaw(ctx, `
SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), coalesce(bt.typname, t.typname)::text,
       coalesce(bt.typtype, t.typtype)::text,
       a.attnotnull, pg_get_expr(d.adbin, d.adrelid), a.attidentity::text, a.attgenerated::text
FROM pg_attribute a
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum`, name)
	if err != nil {
		return nil, err
	}
	var cols []steward.DataColumn
	for _, r := range rows {
		identity, generated := asString(r[6]), asString(r[7])
		c := steward.DataColumn{
			Name:     asString(r[0]),
			DBType:   asString(r[1]),
			Type:     postgresType(asString(r[2]), asString(r[3])),
			Nullable: !asBool(r[4]),
			// Identity and generated columns take their values from the
			// database.
			ReadOnly: identity != "" || generated != "",
		}
		if r[5] != nil && generated == "" {
			d := asString(r[5])
			c.Default = &d
		}
		cols = append(cols, c)
	}
	_, idx, err := q.QueryRaw(ctx, `
SELECT i.indisprimary, i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL,
       array_to_string(ARRAY(
           SELECT coalesce(a.attname::text, '')
           FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, pos)
           LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
           WHERE k.pos <= i.indnkeyatts
           ORDER BY k.pos), ',')
FROM pg_index i
WHERE i.indrelid = $1::regclass`, name)
	if err != nil {
		return nil, err
	}
	for _, ix := range idx {
		// Names are joined with commas; a column named with a comma is
		// not matched, which only loses an index hint.
		keys := strings.Split(asString(ix[2]), ",")
		if asBool(ix[0]) {
			for pos, k := range keys {
				if c := columnIndex(cols, k); c >= 0 {
					cols[c].PrimaryKey = pos + 1
					cols[c].Nullable = false
				}
			}
		}
		markIndex(cols, keys, asBool(ix[1]))
	}
	markPrimaryKey(cols)
	return cols, nil
}

// markIndex records an index on keys (its key columns in order; "" for an
// expression): its first column is indexed, and unique when the index is
// unique on that column alone.
func markIndex(cols []steward.DataColumn, keys []string, unique bool) {
	if len(keys) == 0 {
		return
	}
	c := columnIndex(cols, keys[0])
	if c < 0 {
		return
	}
	cols[c].Indexed = true
	if unique && len(keys) == 1 {
		cols[c].Unique = true
	}
}

// markPrimaryKey marks the primary key's first column indexed (SQLite's
// rowid has no index of its own), and a single-column key unique.
func markPrimaryKey(cols []steward.DataColumn) {
	pk := pkColumns(cols)
	for _, i := range pk {
		if cols[i].PrimaryKey == 1 {
			cols[i].Indexed = true
			if len(pk) == 1 {
				cols[i].Unique = true
			}
		}
	}
}

// pkColumns returns the indexes in cols of the primary key's columns, in
// key order.
func pkColumns(cols []steward.DataColumn) []int {
	var pk []int
	for i, c := range cols {
		if c.PrimaryKey > 0 {
			pk = append(pk, i)
		}
	}
	slices.SortFunc(pk, func(a, b int) int { return cols[a].PrimaryKey - cols[b].PrimaryKey })
	return pk
}

func columnIndex(cols []steward.DataColumn, name string) int {
	if name == "" {
		return -1
	}
	return slices.IndexFunc(cols, func(c steward.DataColumn) bool { return c.Name == name })
}

func keyNames(rows [][]any) []string {
	keys := make([]string, len(rows))
	for i, r := range rows {
		keys[i] = asString(r[0]) // NULL (an expression) is ""
	}
	return keys
}

// sqliteType maps a declared SQLite type to a DataType, by the affinity
// rules of https://sqlite.org/datatype3.html#determination_of_column_affinity
// refined by the names products use for the types SQLite has no class for.
func sqliteType(decl string) steward.DataType {
	t := strings.ToUpper(decl)
	switch {
	case t == "":
		return steward.DataUnknown // no affinity: any value at all
	case strings.Contains(t, "BOOL"):
		return steward.DataBoolean
	case strings.Contains(t, "UUID"):
		return steward.DataUUID
	case strings.Contains(t, "JSON"):
		return steward.DataJSON
	case strings.Contains(t, "TIMESTAMP"), strings.Contains(t, "DATETIME"):
		return steward.DataTimestamp
	case strings.Contains(t, "DATE"):
		return steward.DataDate
	case strings.Contains(t, "INT"):
		return steward.DataInteger
	case strings.Contains(t, "CHAR"), strings.Contains(t, "CLOB"), strings.Contains(t, "TEXT"):
		return steward.DataText
	case strings.Contains(t, "BLOB"):
		return steward.DataBlob
	case strings.Contains(t, "REAL"), strings.Contains(t, "FLOA"), strings.Contains(t, "DOUB"):
		return steward.DataReal
	case strings.Contains(t, "NUMERIC"), strings.Contains(t, "DECIMAL"):
		return steward.DataNumeric
	}
	return steward.DataUnknown
}

// postgresType maps a PostgreSQL type (a domain's base type) to a
// DataType: typname and typtype of pg_type.
func postgresType(name, typtype string) steward.DataType {
	switch name {
	case "int2", "int4", "int8":
		return steward.DataInteger
	case "float4", "float8":
		return steward.DataReal
	case "numeric":
		return steward.DataNumeric
	case "bool":
		return steward.DataBoolean
	case "text", "varchar", "bpchar", "citext", "name":
		return steward.DataText
	case "timestamp", "timestamptz":
		return steward.DataTimestamp
	case "date":
		return steward.DataDate
	case "json", "jsonb":
		return steward.DataJSON
	case "bytea":
		return steward.DataBlob
	case "uuid":
		return steward.DataUUID
	}
	if typtype == "e" { // an enum: its labels are text
		return steward.DataText
	}
	return steward.DataUnknown
}

func asString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []byte:
		return string(v)
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

func asInt(v any) int64 {
	switch v := v.(type) {
	case int64:
		return v
	case int32:
		return int64(v)
	case int16:
		return int64(v)
	case int:
		return int64(v)
	case bool:
		if v {
			return 1
		}
	}
	return 0
}

func asBool(v any) bool {
	switch v := v.(type) {
	case bool:
		return v
	case nil:
		return false
	}
	return asInt(v) != 0
}
