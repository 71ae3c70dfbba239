package postgres

import (
	"io/fs"
	"regexp"
	"slices"
	"strings"

	"github.com/pressly/goose/v3"
)

// createTable finds the tables a migration's Up section creates.
var createTable = regexp.MustCompile(`(?i)\bcreate\s+(?:unlogged\s+)?table\s+(?:if\s+not\s+exists\s+)?"?(\w+)"?`)

// OwnTables lists every table Steward's migrations create in its
// PostgreSQL schema, with the goose version table: the data admin
// (store/datatables) refuses to expose them, so that no request can bypass
// Steward's own rules.
func OwnTables() []string {
	names := []string{goose.DefaultTablename}
	files, _ := fs.Glob(migrations, "migrations/*.sql")
	for _, f := range files {
		b, err := fs.ReadFile(migrations, f)
		if err != nil {
			continue
		}
		up, _, _ := strings.Cut(string(b), "-- +goose Down")
		for _, m := range createTable.FindAllStringSubmatch(up, -1) {
			names = append(names, m[1])
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}
