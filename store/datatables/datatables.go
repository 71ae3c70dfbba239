// Package datatables is the data admin's storage side (docs/data-admin.md):
// it opens the configured data sources, introspects the exposed tables,
// builds statements from that schema alone (identifiers quoted from the
// introspected names, every value a bound parameter) and converts values
// between JSON and the column types. The rules (roles, redaction, audit)
// live in service/dataadmin*.go.
package datatables

import (
	"context"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// Config is the data admin's part of the configuration file: [data.sources.*]
// and [[data.tables]].
type Config struct {
	Sources map[string]SourceConfig
	Tables  []TableConfig
}

// SourceConfig is one [data.sources.<name>].
type SourceConfig struct {
	// DSN is "sqlite:<path>" or "postgres://…".
	DSN string
	// Schema is the PostgreSQL schema the source's tables live in; ""
	// is the connection's search_path.
	Schema string
}

// TableConfig is one [[data.tables]]: the table's name and the overrides
// of what the heuristics would choose.
type TableConfig struct {
	Name string
	// Source names a [data.sources] entry; "" is Steward's own database.
	Source         string
	Label          string
	ListFields     []string
	SearchFields   []string
	DefaultSort    string // "created_at desc", "name", "-name"
	RedactFields   []string
	DenyEditFields []string
	DenyDelete     bool
	// ReadOnly refuses every write to the table whatever the roles.
	ReadOnly bool
	// Roles overrides DefaultDataRoles per operation: keys read, insert,
	// update, delete.
	Roles map[string]steward.Role
}

// Source is one opened data source.
type Source interface {
	// Name is the source's configured name; "" for Steward's own database.
	Name() string
	// Dialect is "sqlite" or "postgres".
	Dialect() string
	// Read runs fn on the source outside any transaction.
	Read(ctx context.Context, fn func(store.RawQuerier) error) error
	// Write runs fn in one transaction of the source, committed when fn
	// returns nil. Steward's own database is written through store.Update
	// and tx.Raw() instead, so the change and its audit entry commit
	// together.
	Write(ctx context.Context, fn func(store.RawQuerier) error) error
	// Own is true for Steward's own database.
	Own() bool
	Close() error
}

// Table is an exposed table: what the schema document shows, and where
// it lives.
type Table struct {
	steward.DataTable
	Src Source
	// Schema qualifies the table's name on PostgreSQL; "" when unqualified.
	Schema string
}

// Catalog is the loaded set of exposed tables, in configuration order.
type Catalog struct {
	Tables   []*Table
	LoadedAt time.Time
	// sources are the sources Load opened, by name, for Close.
	sources map[string]Source
}

// Table returns the exposed table of that name.
func (c *Catalog) Table(name string) (*Table, bool) {
	for _, t := range c.Tables {
		if t.Name == name {
			return t, true
		}
	}
	return nil, false
}

// Own returns Steward's own database as a Source.
func Own(s store.Store) Source { return ownSource{s} }

type ownSource struct{ s store.Store }

func (o ownSource) Name() string    { return "" }
func (o ownSource) Dialect() string { return o.s.Dialect() }
func (o ownSource) Own() bool       { return true }
func (o ownSource) Close() error    { return nil }

func (o ownSource) Read(ctx context.Context, fn func(store.RawQuerier) error) error {
	return fn(o.s.Raw())
}

func (o ownSource) Write(ctx context.Context, fn func(store.RawQuerier) error) error {
	return o.s.Update(ctx, func(tx store.Tx) error { return fn(tx.Raw()) })
}
