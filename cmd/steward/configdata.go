package main

import (
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store/datatables"
)

// The data admin's part of the configuration file (docs/data-admin.md):
// [data.sources.<name>] and [[data.tables]]. Types and value shapes are the
// decoder's to check, with their positions; what needs the whole section
// (a table's source, a name used twice) is checked here, positioned from
// the file's syntax. What needs the database (a table or column that does
// not exist) is checked when the server starts and on reload.

// fileData is [data].
type fileData struct {
	Sources map[string]fileDataSource `toml:"sources"`
	Tables  []fileDataTable           `toml:"tables"`
}

// fileDataSource is one [data.sources.<name>].
type fileDataSource struct {
	DSN    *fileDSN `toml:"dsn"`
	Schema string   `toml:"schema"`
}

// fileDataTable is one [[data.tables]].
type fileDataTable struct {
	Name           string         `toml:"name"`
	Source         string         `toml:"source"`
	Label          string         `toml:"label"`
	ListFields     []string       `toml:"list_fields"`
	SearchFields   []string       `toml:"search_fields"`
	DefaultSort    fileSort       `toml:"default_sort"`
	RedactFields   []string       `toml:"redact_fields"`
	DenyEditFields []string       `toml:"deny_edit_fields"`
	DenyDelete     bool           `toml:"deny_delete"`
	ReadOnly       bool           `toml:"read_only"`
	Roles          *fileDataRoles `toml:"roles"`
}

// fileDataRoles is a table's roles = { read, insert, update, delete }.
type fileDataRoles struct {
	Read   fileRole `toml:"read"`
	Insert fileRole `toml:"insert"`
	Update fileRole `toml:"update"`
	Delete fileRole `toml:"delete"`
}

// fileDSN is a data source's dsn: "sqlite:<path>" or "postgres://…". It
// and the other value types are structs because the decoder sets a string
// kind directly, without calling UnmarshalText.
type fileDSN struct{ s string }

func (d *fileDSN) UnmarshalText(b []byte) error {
	s := string(b)
	switch {
	case strings.HasPrefix(s, "sqlite:") && strings.TrimPrefix(strings.TrimPrefix(s, "sqlite:"), "//") != "":
	case strings.HasPrefix(s, "postgres://"), strings.HasPrefix(s, "postgresql://"):
	default:
		return fmt.Errorf(`want "sqlite:<path>" or "postgres://…"`)
	}
	d.s = s
	return nil
}

// fileSort is a default_sort: "field", "-field", "field asc", "field desc".
type fileSort struct{ s string }

func (f *fileSort) UnmarshalText(b []byte) error {
	s, err := datatables.ParseSort(string(b))
	if err != nil {
		return fmt.Errorf(`want "field", "-field", "field asc" or "field desc"`)
	}
	f.s = s
	return nil
}

// fileRole is an operator role's name.
type fileRole struct{ r steward.Role }

func (r *fileRole) UnmarshalText(b []byte) error {
	role := steward.Role(b)
	if !role.IsOperator() {
		var names []string
		for _, r := range steward.Roles {
			if r.IsOperator() {
				names = append(names, string(r))
			}
		}
		return fmt.Errorf("want a role: %s", strings.Join(names, ", "))
	}
	r.r = role
	return nil
}

// arrayIndex is the index in a key of dataPositions.
var arrayIndex = regexp.MustCompile(`\[\d+\]`)

// dataTableName is what a table's name may be: it is a path segment too.
var dataTableName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// parseFileData checks the decoded [data] (v is its fileData) against
// itself and returns it as the service takes it. data is the file's text,
// for positions.
func parseFileData(path string, data []byte, v any) (datatables.Config, error) {
	fd := v.(fileData)
	pos := dataPositions(data)
	at := func(key string, format string, args ...any) error {
		p, ok := pos[key]
		// The decoder's keys have no index: data.tables.source.
		generic := arrayIndex.ReplaceAllString(key, "")
		if !ok {
			return fmt.Errorf("%s: key %s: %s", path, generic, fmt.Sprintf(format, args...))
		}
		return fmt.Errorf("%s:%d:%d: key %s: %s", path, p[0], p[1], generic, fmt.Sprintf(format, args...))
	}
	cfg := datatables.Config{}
	for _, name := range slices.Sorted(maps.Keys(fd.Sources)) {
		s := fd.Sources[name]
		key := "data.sources." + name
		if name == "" {
			return cfg, at(key, "a source needs a name")
		}
		if s.DSN == nil {
			return cfg, at(key, "dsn is required")
		}
		if s.Schema != "" && strings.HasPrefix(s.DSN.s, "sqlite:") {
			return cfg, at(key+".schema", "schema applies to PostgreSQL sources only")
		}
		if cfg.Sources == nil {
			cfg.Sources = map[string]datatables.SourceConfig{}
		}
		cfg.Sources[name] = datatables.SourceConfig{DSN: s.DSN.s, Schema: s.Schema}
	}
	seen := map[string]bool{}
	for i, t := range fd.Tables {
		key := "data.tables[" + strconv.Itoa(i) + "]"
		switch {
		case t.Name == "":
			return cfg, at(key, "name is required")
		case !dataTableName.MatchString(t.Name):
			return cfg, at(key+".name", "%q: want a table name of letters, digits and '_' (at most 63)", t.Name)
		case seen[t.Name]:
			return cfg, at(key+".name", "table %q is configured twice", t.Name)
		}
		seen[t.Name] = true
		if _, ok := fd.Sources[t.Source]; t.Source != "" && !ok {
			return cfg, at(key+".source", "table %q: unknown source %q (not in [data.sources])", t.Name, t.Source)
		}
		tc := datatables.TableConfig{
			Name: t.Name, Source: t.Source, Label: t.Label,
			ListFields: t.ListFields, SearchFields: t.SearchFields, DefaultSort: t.DefaultSort.s,
			RedactFields: t.RedactFields, DenyEditFields: t.DenyEditFields,
			DenyDelete: t.DenyDelete, ReadOnly: t.ReadOnly,
		}
		if t.Roles != nil {
			tc.Roles = map[string]steward.Role{}
			for k, r := range map[string]fileRole{"read": t.Roles.Read, "insert": t.Roles.Insert,
				"update": t.Roles.Update, "delete": t.Roles.Delete} {
				if r.r != "" {
					tc.Roles[k] = r.r
				}
			}
		}
		cfg.Tables = append(cfg.Tables, tc)
	}
	return cfg, nil
}

// dataPositions maps the keys of [data] to their line and column:
// "data.sources.app", "data.sources.app.dsn", "data.tables[0]",
// "data.tables[0].source". Tables written inline have no entries; their
// errors name the key without a position.
func dataPositions(data []byte) map[string][2]int {
	pos := map[string][2]int{}
	var p unstable.Parser
	p.Reset(data)
	var current string
	arrays := map[string]int{}
	keyOf := func(n *unstable.Node) (string, *unstable.Node) {
		var parts []string
		var first *unstable.Node
		for it := n.Key(); it.Next(); {
			k := it.Node()
			if first == nil {
				first = k
			}
			parts = append(parts, string(k.Data))
		}
		return strings.Join(parts, "."), first
	}
	record := func(key string, n *unstable.Node) {
		if n == nil || !strings.HasPrefix(key, "data") {
			return
		}
		s := p.Shape(n.Raw)
		pos[key] = [2]int{s.Start.Line, s.Start.Column}
	}
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table:
			k, first := keyOf(e)
			current = k
			record(current, first)
		case unstable.ArrayTable:
			k, first := keyOf(e)
			current = k + "[" + strconv.Itoa(arrays[k]) + "]"
			arrays[k]++
			record(current, first)
		case unstable.KeyValue:
			k, first := keyOf(e)
			if current != "" {
				k = current + "." + k
			}
			record(k, first)
		}
	}
	return pos
}

// dataType is fileData's type, for the file schema.
var dataType = reflect.TypeFor[*fileData]()

// dataSummary is `config show`'s rows for [data]: the sources with their
// DSNs' passwords masked, and the tables.
func dataSummary(cfg datatables.Config) (sources, tables string) {
	var s []string
	for _, name := range slices.Sorted(maps.Keys(cfg.Sources)) {
		src := cfg.Sources[name]
		v := name + "=" + maskDSN(src.DSN)
		if src.Schema != "" {
			v += "(schema=" + src.Schema + ")"
		}
		s = append(s, v)
	}
	var t []string
	for _, tc := range cfg.Tables {
		t = append(t, tc.Name)
	}
	return strings.Join(s, ","), strings.Join(t, ",")
}
