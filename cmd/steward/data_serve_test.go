package main

import (
	"database/sql"
	"encoding/json"
	"path/filepath"
	"testing"
)

// TestServeDataAdmin: serve with [data] in the configuration file opens
// the product's SQLite file, introspects its table and answers the data
// admin's schema and lists through the real binary's wiring, the
// heuristics applied (password_hash redacted).
func TestServeDataAdmin(t *testing.T) {
	dir := t.TempDir()
	app := filepath.Join(dir, "app.db")
	db, err := sql.Open("sqlite", app)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_email TEXT NOT NULL, status TEXT NOT NULL,
			total_cents INTEGER NOT NULL, password_hash TEXT, created_at TEXT NOT NULL)`,
		`INSERT INTO orders VALUES (1, 'ada@example.com', 'paid', 1200, 'x', '2026-01-01T00:00:00Z'),
			(2, 'bob@example.com', 'open', 300, 'y', '2026-01-02T00:00:00Z')`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	conf := writeFile(t, "steward.toml", `
[data.sources.app]
dsn = "sqlite:`+app+`"

[[data.tables]]
name = "orders"
source = "app"
search_fields = ["customer_email"]
`)
	env := map[string]string{"STEWARD_DB": "sqlite:" + filepath.Join(dir, "s.db"),
		"STEWARD_BOOTSTRAP_PASSWORD": "data-admin-test-password", "STEWARD_CONFIG": conf}
	url, _, stop := boot(t, env)
	defer stop()

	var schema struct {
		Tables []struct {
			Name   string `json:"name"`
			Source string `json:"source"`
			Fields []struct {
				Name     string `json:"name"`
				Redacted bool   `json:"redacted"`
			} `json:"fields"`
		} `json:"tables"`
	}
	raw := getSignedIn(t, url, "admin@localhost", env["STEWARD_BOOTSTRAP_PASSWORD"], "/api/v1/admin/data/schema")
	if err := json.Unmarshal(raw, &schema); err != nil || len(schema.Tables) != 1 || schema.Tables[0].Name != "orders" ||
		schema.Tables[0].Source != "app" {
		t.Fatalf("schema: %s %v", raw, err)
	}
	for _, f := range schema.Tables[0].Fields {
		if (f.Name == "password_hash") != f.Redacted {
			t.Errorf("field %s redacted %v", f.Name, f.Redacted)
		}
	}
	var page struct {
		Data []map[string]any `json:"data"`
	}
	raw = getSignedIn(t, url, "admin@localhost", env["STEWARD_BOOTSTRAP_PASSWORD"], "/api/v1/admin/data/orders?q=ADA")
	if err := json.Unmarshal(raw, &page); err != nil || len(page.Data) != 1 || page.Data[0]["customer_email"] != "ada@example.com" ||
		page.Data[0]["password_hash"] != nil {
		t.Fatalf("search: %s %v", raw, err)
	}
}
