// Package datatest gives data admin tests product tables of every shape,
// created in a store and described as introspection would describe them,
// on SQLite and PostgreSQL alike.
package datatest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
	"github.com/stewardhq/steward/store/datatables"
)

// The tables: orders (every column type, an integer key, a unique email,
// a redacted password_hash and internal_note, a read-only customer),
// line_items (a composite key of text and integer; deletes denied) and
// events (no primary key: read-only).
const (
	Orders    = "orders"
	LineItems = "line_items"
	Events    = "events"
)

var ddl = map[string][]string{
	"sqlite": {
		`CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, note TEXT,
			total NUMERIC, ratio REAL, paid BOOLEAN NOT NULL DEFAULT 0, created_at TIMESTAMP NOT NULL,
			ship_on DATE, ref TEXT, meta TEXT, doc BLOB, small INTEGER, password_hash TEXT, internal_note TEXT,
			customer TEXT, qty INTEGER CHECK (qty >= 0))`,
		`CREATE INDEX IF NOT EXISTS orders_created ON orders (created_at)`,
		`CREATE TABLE IF NOT EXISTS line_items (order_ref TEXT NOT NULL, line INTEGER NOT NULL, sku TEXT NOT NULL,
			PRIMARY KEY (order_ref, line))`,
		`CREATE TABLE IF NOT EXISTS events (at TIMESTAMP NOT NULL, kind TEXT NOT NULL)`,
	},
	"postgres": {
		`CREATE TABLE IF NOT EXISTS orders (id bigserial PRIMARY KEY, email text NOT NULL UNIQUE, note text,
			total numeric(14,2), ratio double precision, paid boolean NOT NULL DEFAULT false,
			created_at timestamptz NOT NULL, ship_on date, ref uuid, meta jsonb, doc bytea, small smallint,
			password_hash text, internal_note text, customer text, qty integer CHECK (qty >= 0))`,
		`CREATE INDEX IF NOT EXISTS orders_created ON orders (created_at)`,
		`CREATE TABLE IF NOT EXISTS line_items (order_ref text NOT NULL, line integer NOT NULL, sku text NOT NULL,
			PRIMARY KEY (order_ref, line))`,
		`CREATE TABLE IF NOT EXISTS events (at timestamptz NOT NULL, kind text NOT NULL)`,
	},
}

// Create makes the tables in st (if they do not exist).
func Create(ctx context.Context, st store.Store) error {
	return st.Update(ctx, func(tx store.Tx) error {
		for _, q := range ddl[st.Dialect()] {
			if _, err := tx.Raw().ExecRaw(ctx, q); err != nil {
				return fmt.Errorf("datatest: %s: %w", strings.Fields(q)[5], err)
			}
		}
		return nil
	})
}

func col(name string, typ steward.DataType, sqliteType, pgType string, nullable bool) func(dialect string) steward.DataColumn {
	return func(dialect string) steward.DataColumn {
		db := sqliteType
		if dialect == "postgres" {
			db = pgType
		}
		return steward.DataColumn{Name: name, Type: typ, DBType: db, Nullable: nullable}
	}
}

// Tables describes the tables of dialect as introspection would, in a
// source src; schema qualifies them on PostgreSQL ("" unqualified).
func Tables(dialect string, src datatables.Source, schema string) []*datatables.Table {
	cols := func(defs ...func(string) steward.DataColumn) []steward.DataColumn {
		out := make([]steward.DataColumn, len(defs))
		for i, d := range defs {
			out[i] = d(dialect)
		}
		return out
	}
	orders := cols(
		col("id", steward.DataInteger, "INTEGER", "bigint", false),
		col("email", steward.DataText, "TEXT", "text", false),
		col("note", steward.DataText, "TEXT", "text", true),
		col("total", steward.DataNumeric, "NUMERIC", "numeric", true),
		col("ratio", steward.DataReal, "REAL", "double precision", true),
		col("paid", steward.DataBoolean, "BOOLEAN", "boolean", false),
		col("created_at", steward.DataTimestamp, "TIMESTAMP", "timestamp with time zone", false),
		col("ship_on", steward.DataDate, "DATE", "date", true),
		col("ref", steward.DataUUID, "TEXT", "uuid", true),
		col("meta", steward.DataJSON, "TEXT", "jsonb", true),
		col("doc", steward.DataBlob, "BLOB", "bytea", true),
		col("small", steward.DataInteger, "INTEGER", "smallint", true),
		col("password_hash", steward.DataText, "TEXT", "text", true),
		col("internal_note", steward.DataText, "TEXT", "text", true),
		col("customer", steward.DataText, "TEXT", "text", true),
		col("qty", steward.DataInteger, "INTEGER", "integer", true),
	)
	orders[0].PrimaryKey, orders[0].Indexed, orders[0].Unique = 1, true, true
	orders[1].Unique, orders[1].Indexed = true, true
	orders[6].Indexed = true
	orders[12].Redacted, orders[13].Redacted = true, true
	orders[14].ReadOnly = true
	if dialect == "sqlite" {
		// SQLite's ref and meta are TEXT; the configuration says what they hold.
		orders[8].DBType, orders[9].DBType = "TEXT", "TEXT"
	}
	items := cols(
		col("order_ref", steward.DataText, "TEXT", "text", false),
		col("line", steward.DataInteger, "INTEGER", "integer", false),
		col("sku", steward.DataText, "TEXT", "text", false),
	)
	items[0].PrimaryKey, items[1].PrimaryKey = 1, 2
	events := cols(
		col("at", steward.DataTimestamp, "TIMESTAMP", "timestamp with time zone", false),
		col("kind", steward.DataText, "TEXT", "text", false),
	)
	name := src.Name()
	return []*datatables.Table{
		{Src: src, Schema: schema, DataTable: steward.DataTable{Name: Orders, Label: "Orders", Source: name, Columns: orders,
			PrimaryKey: []string{"id"}, ListFields: []string{"id", "email", "paid", "created_at"},
			SearchFields: []string{"email", "note"}, DefaultSort: "-created_at", Roles: steward.DefaultDataRoles}},
		{Src: src, Schema: schema, DataTable: steward.DataTable{Name: LineItems, Label: "Line items", Source: name, Columns: items,
			PrimaryKey: []string{"order_ref", "line"}, ListFields: []string{"order_ref", "line", "sku"},
			SearchFields: []string{"sku"}, DefaultSort: "order_ref", DenyDelete: true, Roles: steward.DefaultDataRoles}},
		{Src: src, Schema: schema, DataTable: steward.DataTable{Name: Events, Label: "Events", Source: name, Columns: events,
			PrimaryKey: []string{}, ListFields: []string{"at", "kind"}, DefaultSort: "-at", ReadOnly: true,
			ReadOnlyReason: "the table has no primary key", Roles: steward.DefaultDataRoles}},
	}
}

// Loader is a data loader (service.Config.DataLoader) that creates the
// tables in Steward's own database and exposes them; mod may change them
// (roles, flags) before they are returned.
func Loader(mod func([]*datatables.Table)) func(ctx context.Context, own store.Store, cfg datatables.Config) (*datatables.Catalog, error) {
	return func(ctx context.Context, own store.Store, _ datatables.Config) (*datatables.Catalog, error) {
		if err := Create(ctx, own); err != nil {
			return nil, err
		}
		tables := Tables(own.Dialect(), datatables.Own(own), "")
		if mod != nil {
			mod(tables)
		}
		return &datatables.Catalog{Tables: tables}, nil
	}
}

// External is a data source on another database than Steward's own: a
// store of its own (a SQLite file, a PostgreSQL schema), written in its own
// transactions.
type External struct {
	St   store.Store
	name string
}

// NewExternal wraps st as the source called name.
func NewExternal(st store.Store, name string) *External { return &External{St: st, name: name} }

func (e *External) Name() string    { return e.name }
func (e *External) Dialect() string { return e.St.Dialect() }
func (e *External) Own() bool       { return false }
func (e *External) Close() error    { return nil }

func (e *External) Read(ctx context.Context, fn func(store.RawQuerier) error) error {
	return fn(e.St.Raw())
}

func (e *External) Write(ctx context.Context, fn func(store.RawQuerier) error) error {
	return e.St.Update(ctx, func(tx store.Tx) error { return fn(tx.Raw()) })
}

// Schema is the current schema of a PostgreSQL store ("" on SQLite), to
// qualify its tables' names.
func Schema(t testing.TB, st store.Store) string {
	t.Helper()
	if st.Dialect() != "postgres" {
		return ""
	}
	_, rows, err := st.Raw().QueryRaw(context.Background(), "SELECT current_schema()")
	if err != nil {
		t.Fatal(err)
	}
	return rows[0][0].(string)
}
