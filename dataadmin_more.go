package steward

import "context"

// Data admin permissions: the baseline a credential needs before a
// table's own roles (DataRoles) decide. data:read (support and up) reads
// the schema, rows and exports; data:write (admin and up) inserts, updates
// and deletes where the table's roles allow the caller's role.
const (
	PermDataRead  Permission = "data:read"
	PermDataWrite Permission = "data:write"
)

// DataExporter streams a table's rows: the same filters and sort as a
// list, every page, redacted fields left out. The export is a sensitive
// read, audited data.export before the first row leaves.
type DataExporter interface {
	// ExportRows calls head once with the exported fields in order, then
	// row for each row. format is "ndjson" or "csv" (recorded in the audit
	// entry); the caller writes the bytes.
	ExportRows(ctx context.Context, table string, q DataListQuery, format string,
		head func(fields []string) error, row func(DataRow) error) error
}
