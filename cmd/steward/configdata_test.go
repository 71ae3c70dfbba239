package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store/datatables"
)

const dataFile = `
[data.sources.app]
dsn = "sqlite:/var/lib/app/app.db"

[data.sources.billing]
dsn = "postgres://steward:hunter2@db.internal:5432/billing"
schema = "public"

[[data.tables]]
name = "orders"
source = "app"
label = "Orders"
list_fields = ["id", "customer_email", "status", "total_cents"]
search_fields = ["customer_email"]
default_sort = "created_at desc"
redact_fields = ["internal_note"]
deny_edit_fields = ["customer_email"]
deny_delete = true
roles = { read = "support", insert = "admin", update = "admin", delete = "owner" }

[[data.tables]]
name = "invoices"
source = "billing"
default_sort = "-issued_at"
read_only = true

[[data.tables]]
name = "notes"
roles = { delete = "super_admin" }
`

// TestConfigFileData: [data.sources.*] and [[data.tables]] become the
// service's datatables.Config.
func TestConfigFileData(t *testing.T) {
	path := writeFile(t, "steward.toml", dataFile)
	cf, err := readConfigFile(path, newFileSchema(pflag.NewFlagSet("x", pflag.ContinueOnError)))
	if err != nil {
		t.Fatal(err)
	}
	want := datatables.Config{
		Sources: map[string]datatables.SourceConfig{
			"app":     {DSN: "sqlite:/var/lib/app/app.db"},
			"billing": {DSN: "postgres://steward:hunter2@db.internal:5432/billing", Schema: "public"},
		},
		Tables: []datatables.TableConfig{
			{Name: "orders", Source: "app", Label: "Orders",
				ListFields: []string{"id", "customer_email", "status", "total_cents"}, SearchFields: []string{"customer_email"},
				DefaultSort: "-created_at", RedactFields: []string{"internal_note"}, DenyEditFields: []string{"customer_email"},
				DenyDelete: true,
				Roles: map[string]steward.Role{"read": steward.RoleSupport, "insert": steward.RoleAdmin,
					"update": steward.RoleAdmin, "delete": steward.RoleOwner}},
			{Name: "invoices", Source: "billing", DefaultSort: "-issued_at", ReadOnly: true},
			{Name: "notes", Roles: map[string]steward.Role{"delete": steward.RoleSuperAdmin}},
		},
	}
	if !reflect.DeepEqual(cf.data, want) {
		t.Errorf("data =\n%+v\nwant\n%+v", cf.data, want)
	}
	empty, err := readConfigFile(writeFile(t, "e.toml", "# nothing\n"), newFileSchema(pflag.NewFlagSet("x", pflag.ContinueOnError)))
	if err != nil {
		t.Fatal(err)
	}
	if empty.data.Sources != nil || empty.data.Tables != nil {
		t.Errorf("no [data]: %+v, %v", empty.data, err)
	}
}

// TestConfigCheckAndShowData: check passes a good [data] section; show
// lists the sources, DSN passwords masked, and the tables.
func TestConfigCheckAndShowData(t *testing.T) {
	path := writeFile(t, "steward.toml", dataFile)
	if out, err := runConfig(t, nil, "config", "check", path); err != nil || !strings.Contains(out, "configuration ok") {
		t.Fatalf("check: %q, %v", out, err)
	}
	out, err := runConfig(t, map[string]string{"STEWARD_CONFIG": path}, "config", "show")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "hunter2") {
		t.Errorf("show prints a DSN's password:\n%s", out)
	}
	m := shown(t, map[string]string{"STEWARD_CONFIG": path})
	wantSources := "app=sqlite:/var/lib/app/app.db,billing=postgres://steward:xxxxx@db.internal:5432/billing(schema=public)"
	if got := m["[data.sources]"]; got != [2]string{wantSources, sourceFile} {
		t.Errorf("[data.sources] row = %q, want %q", got, wantSources)
	}
	if got := m["[[data.tables]]"]; got != [2]string{"orders,invoices,notes", sourceFile} {
		t.Errorf("[[data.tables]] row = %q", got)
	}
	if m := shown(t, nil); m["[[data.tables]]"] != [2]string{} {
		t.Errorf("a row for [data] without one: %q", m["[[data.tables]]"])
	}
}

// TestConfigFileDataErrors: a bad [data] section stops start-up and fails
// check, naming the file, line, column and key.
func TestConfigFileDataErrors(t *testing.T) {
	src := "[data.sources.app]\ndsn = \"sqlite:/x.db\"\n"
	// Inside an inline table the decoder names the key without the
	// table's own (data.tables.purge for roles.purge); the position is
	// exact.
	cases := []struct{ name, body, want string }{
		{"unknown source key", "[data.sources.app]\ndsn = \"sqlite:/x.db\"\nuser = \"x\"\n", ":3:1: key data.sources.app.user: unknown key"},
		{"unknown table key", src + "[[data.tables]]\nname = \"t\"\nhidden = true\n", ":5:1: key data.tables.hidden: unknown key"},
		{"bad dsn", "[data.sources.app]\ndsn = \"mysql://x\"\n", `:2:7: key data.sources.app.dsn: want "sqlite:<path>" or "postgres://…"`},
		{"empty sqlite path", "[data.sources.app]\ndsn = \"sqlite:\"\n", `:2:7: key data.sources.app.dsn: want "sqlite:<path>"`},
		{"empty source name", "[data.sources.\"\"]\ndsn = \"sqlite:/x.db\"\n", "key data.sources.: a source needs a name"},
		{"no dsn", "[data.sources.app]\nschema = \"s\"\n", ":1:2: key data.sources.app: dsn is required"},
		{"schema on sqlite", "[data.sources.app]\ndsn = \"sqlite:/x.db\"\nschema = \"s\"\n", ":3:1: key data.sources.app.schema: schema applies to PostgreSQL sources only"},
		{"no name", src + "[[data.tables]]\nlabel = \"T\"\n", ":3:3: key data.tables: name is required"},
		{"bad name", src + "[[data.tables]]\nname = \"a/b\"\n", `:4:1: key data.tables.name: "a/b": want a table name`},
		{"duplicate", src + "[[data.tables]]\nname = \"t\"\n\n[[data.tables]]\nname = \"t\"\n", `:7:1: key data.tables.name: table "t" is configured twice`},
		{"unknown source", src + "[[data.tables]]\nname = \"t\"\nsource = \"nope\"\n", `:5:1: key data.tables.source: table "t": unknown source "nope" (not in [data.sources])`},
		{"bad sort", src + "[[data.tables]]\nname = \"t\"\ndefault_sort = \"name sideways\"\n", `:5:16: key data.tables.default_sort: want "field", "-field", "field asc" or "field desc"`},
		{"unknown role", src + "[[data.tables]]\nname = \"t\"\nroles = { read = \"boss\" }\n", `:5:18: key data.tables.roles: want a role: support, admin, owner, super_admin`},
		{"user role", src + "[[data.tables]]\nname = \"t\"\nroles = { read = \"user\" }\n", `:5:18: key data.tables.roles: want a role`},
		{"unknown role key", src + "[[data.tables]]\nname = \"t\"\nroles = { purge = \"owner\" }\n", `:5:11: key data.tables.purge: unknown key`},
		{"list type", src + "[[data.tables]]\nname = \"t\"\nlist_fields = \"id\"\n", `:5:15: key data.tables.list_fields:`},
		{"read_only type", src + "[[data.tables]]\nname = \"t\"\nread_only = \"yes\"\n", `:5:13: key data.tables.read_only:`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := writeFile(t, "bad.toml", c.body)
			want := c.want
			if strings.HasPrefix(want, ":") {
				want = path + want
			}
			db := filepath.Join(t.TempDir(), "s.db")
			env := map[string]string{"STEWARD_DB": "sqlite:" + db, "STEWARD_CONFIG": path}
			if _, err := runConfig(t, env, "serve", "--addr", "127.0.0.1:0"); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("serve with %q: err = %v, want %q", c.body, err, want)
			}
			if _, err := runConfig(t, nil, "config", "check", path); err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("config check %q: err = %v, want %q", c.body, err, want)
			}
			if _, err := os.Stat(db); err == nil {
				t.Fatal("serve opened the database before refusing the file")
			}
		})
	}
}

// TestDocumentedDataConfigExample: the example of docs/data-admin.md's
// Configuration section passes `config check`.
func TestDocumentedDataConfigExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/data-admin.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(doc), "\n## Configuration\n")
	_, example, ok := strings.Cut(section, "```toml\n")
	example, _, _ = strings.Cut(example, "```")
	if !ok || !strings.Contains(example, "[[data.tables]]") {
		t.Fatal("no toml example in docs/data-admin.md#configuration")
	}
	path := writeFile(t, "doc.toml", example)
	if out, err := runConfig(t, nil, "config", "check", path); err != nil {
		t.Fatalf("the documented example does not pass: %v %s\n%s", err, out, example)
	}
	m := shown(t, map[string]string{"STEWARD_CONFIG": path})
	if got := m["[[data.tables]]"][0]; got != "orders,invoices" {
		t.Errorf("tables shown %q", got)
	}
}
