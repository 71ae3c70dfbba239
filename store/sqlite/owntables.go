package sqlite

import (
	"io/fs"
	"regexp"
	"slices"
	"strings"

	"github.com/pressly/goose/v3"
)

// createTable finds the tables a migration's Up section creates.
var createTable = regexp.MustCompile(`(?i)\bcreate\s+(virtual\s+)?table\s+(?:if\s+not\s+exists\s+)?"?(\w+)"?`)

// OwnTables lists every table Steward's migrations create in its SQLite
// database, with the goose version table and the search index's shadow
// tables: the data admin (store/datatables) refuses to expose them, so that
// no request can bypass Steward's own rules.
func OwnTables() []string { return ownTables(migrations) }

func ownTables(fsys fs.FS) []string {
	names := []string{goose.DefaultTablename}
	files, _ := fs.Glob(fsys, "migrations/*.sql")
	for _, f := range files {
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			continue
		}
		up, _, _ := strings.Cut(string(b), "-- +goose Down")
		for _, m := range createTable.FindAllStringSubmatch(up, -1) {
			names = append(names, m[2])
			if m[1] != "" { // FTS5 keeps its index in shadow tables named after it
				for _, s := range []string{"_data", "_idx", "_content", "_docsize", "_config"} {
					names = append(names, m[2]+s)
				}
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}
