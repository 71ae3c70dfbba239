package steward

import (
	"context"
	"encoding/json"
)

// The data admin (docs/data-admin.md): tables of the product's own, named
// in the configuration file, read and fixed through a role-gated, audited
// admin. Identifiers come only from the introspected schema; values are
// always bound parameters.

// Data admin error codes.
const (
	CodeModelNotFound       = "MODEL_NOT_FOUND"       // 404 no table of that name is exposed
	CodeUnsupportedFilterOp = "UNSUPPORTED_FILTER_OP" // 400 details.field, details.op, details.ops
	CodeFieldRedacted       = "FIELD_REDACTED"        // 422 details.field: a redacted field was named
	CodeFieldReadOnly       = "FIELD_READ_ONLY"       // 422 details.field: a field that may not be written
	CodeDeleteDenied        = "DELETE_DENIED"         // 403 the table denies deletes
	CodePreconditionFailed  = "PRECONDITION_FAILED"   // 412 If-Match names another version of the row
	CodeActionNotFound      = "ACTION_NOT_FOUND"      // 404 no custom admin action of that name
	CodeActionFailed        = "ACTION_FAILED"         // 502 the product's action endpoint failed; details say how
)

// DataType is a column's type as the data admin sees it, the same on both
// dialects; DataColumn.DBType keeps the database's own name.
type DataType string

// Data types. A column of a type the data admin cannot map is "unknown":
// shown as text, never written.
const (
	DataText      DataType = "text"
	DataInteger   DataType = "integer"
	DataReal      DataType = "real"
	DataNumeric   DataType = "numeric" // exact decimal: carried as a JSON string
	DataBoolean   DataType = "boolean"
	DataTimestamp DataType = "timestamp"
	DataDate      DataType = "date"
	DataJSON      DataType = "json"
	DataBlob      DataType = "blob" // base64 in JSON
	DataUUID      DataType = "uuid"
	DataUnknown   DataType = "unknown"
)

// Filter operators, in the order the schema lists them.
const (
	FilterEq       = "eq"
	FilterNe       = "ne"
	FilterLt       = "lt"
	FilterLte      = "lte"
	FilterGt       = "gt"
	FilterGte      = "gte"
	FilterContains = "contains"
	FilterIn       = "in"
	FilterIsNull   = "is_null"
)

// DataColumn is one introspected column, with what the configuration and
// the heuristics made of it.
type DataColumn struct {
	Name     string   `json:"name"`
	Type     DataType `json:"type"`
	DBType   string   `json:"db_type"`
	Nullable bool     `json:"nullable"`
	// Default is the column's default expression as the database reports
	// it; nil when there is none.
	Default *string `json:"default"`
	// PrimaryKey is the column's 1-based position in the primary key; 0
	// when it is not part of it.
	PrimaryKey int  `json:"primary_key"`
	Unique     bool `json:"unique"`
	// Indexed is true when an index (or the primary key) starts with the
	// column: a filter or sort on it is served by the index.
	Indexed bool `json:"indexed"`
	// Redacted columns never appear in an answer, export or audit entry,
	// and naming one in a write is FIELD_REDACTED.
	Redacted bool `json:"redacted"`
	// ReadOnly columns are shown but never written (FIELD_READ_ONLY):
	// deny_edit_fields, generated columns, the primary key on update.
	ReadOnly bool `json:"read_only"`
	// FilterOps are the filter operators this column accepts.
	FilterOps []string `json:"filter_ops"`
}

// DataRoles are the least roles that may read, insert, update and delete
// rows of a table.
type DataRoles struct {
	Read   Role `json:"read"`
	Insert Role `json:"insert"`
	Update Role `json:"update"`
	Delete Role `json:"delete"`
}

// DefaultDataRoles: support reads, admin inserts and updates, owner deletes.
var DefaultDataRoles = DataRoles{Read: RoleSupport, Insert: RoleAdmin, Update: RoleAdmin, Delete: RoleOwner}

// DataTable is one exposed table: its introspected columns and the rules
// the configuration (or the heuristics) set.
type DataTable struct {
	// Name is the table's name and its path segment.
	Name  string `json:"name"`
	Label string `json:"label"`
	// Source is the data source's name; "" is Steward's own database.
	Source  string       `json:"source"`
	Columns []DataColumn `json:"fields"`
	// PrimaryKey lists the key's columns in key order; empty when the
	// table has none (it is then read-only).
	PrimaryKey   []string `json:"primary_key"`
	ListFields   []string `json:"list_fields"`
	SearchFields []string `json:"search_fields"`
	// DefaultSort is "field" or "-field" (descending).
	DefaultSort string `json:"default_sort"`
	// ReadOnly tables take no writes; ReadOnlyReason says why (no primary
	// key, a read-only source).
	ReadOnly       bool      `json:"read_only"`
	ReadOnlyReason string    `json:"read_only_reason,omitempty"`
	DenyDelete     bool      `json:"deny_delete"`
	Roles          DataRoles `json:"roles"`
}

// Column returns the named column, or nil.
func (t *DataTable) Column(name string) *DataColumn {
	for i := range t.Columns {
		if t.Columns[i].Name == name {
			return &t.Columns[i]
		}
	}
	return nil
}

// DataFilter is one filter of a list: filter[field][op]=value. Value is
// the raw query text; for "in" a comma-separated list, for "is_null"
// "true" or "false".
type DataFilter struct {
	Field string
	Op    string
	Value string
}

// DataListQuery is a list request on one table.
type DataListQuery struct {
	Filters []DataFilter
	// Q searches the table's search fields (substring, case-insensitive).
	Q string
	// Sort is "field" or "-field"; "" is the table's default sort.
	Sort string
	ListParams
}

// DataRow is one row as the API shows it: column name to JSON value,
// redacted columns left out.
type DataRow map[string]any

// DataRecord is one row with its version: ETag is a hash of the row's
// visible values, for If-Match.
type DataRecord struct {
	Row  DataRow `json:"row"`
	ETag string  `json:"etag"`
}

// DataSchemaTable is a table as the schema document shows it to one
// caller: the table, the actions the caller's role allows on it, and the
// custom admin actions that target it.
type DataSchemaTable struct {
	DataTable
	Allowed DataAllowed   `json:"allowed"`
	Actions []AdminAction `json:"actions"`
}

// DataAllowed says which of a table's operations the caller may use.
type DataAllowed struct {
	Read   bool `json:"read"`
	Insert bool `json:"insert"`
	Update bool `json:"update"`
	Delete bool `json:"delete"`
}

// DataSchema is what a console renders the data admin from.
type DataSchema struct {
	Tables []DataSchemaTable `json:"tables"`
	// Actions are the custom admin actions on users and tenants (those on
	// a table are listed with it), the caller may run.
	Actions  []AdminAction `json:"actions"`
	LoadedAt string        `json:"loaded_at"`
}

// AdminAction is a custom admin command the product offers
// ([[actions]] in the configuration file).
type AdminAction struct {
	Name  string `json:"name"`
	Label string `json:"label"`
	// Target is a data table's name, "user" or "tenant".
	Target   string `json:"target"`
	MinRole  Role   `json:"min_role"`
	ReadOnly bool   `json:"read_only"`
	// URL, Timeout and Secret are not shown to callers.
	URL     string `json:"-"`
	Timeout int64  `json:"-"` // milliseconds
	// Secret signs the calls ("whsec_…", the webhook scheme).
	Secret string `json:"-"`
}

// AdminActionCall is a request to run a custom admin action.
type AdminActionCall struct {
	TargetID string          `json:"target_id"`
	Payload  json.RawMessage `json:"payload"`
}

// DataAdminService is the data admin. Every method authorizes the caller
// against the table's roles (INSUFFICIENT_ROLE) and answers
// MODEL_NOT_FOUND for a table that is not exposed.
type DataAdminService interface {
	// DataSchema lists the exposed tables as the caller may use them.
	DataSchema(ctx context.Context) (*DataSchema, error)
	// ReloadData introspects every source again (owner and up); audited
	// data.reload.
	ReloadData(ctx context.Context) (*DataSchema, error)
	// ListRows lists a table's rows: UNSUPPORTED_FILTER_OP, VALIDATION_FAILED
	// naming the filter or sort, FIELD_REDACTED for a filter on a redacted
	// field.
	ListRows(ctx context.Context, table string, q DataListQuery) (*Page[DataRow], error)
	// GetRow reads one row by its path key (docs/data-admin.md: composite
	// keys).
	GetRow(ctx context.Context, table, key string) (*DataRecord, error)
	// InsertRow inserts a row; audited data.insert.
	InsertRow(ctx context.Context, table string, values map[string]json.RawMessage) (*DataRecord, error)
	// UpdateRow changes the named fields of one row; ifMatch "" skips the
	// version check, another ETag is PRECONDITION_FAILED. Audited
	// data.update with the before and after of changed visible fields.
	UpdateRow(ctx context.Context, table, key, ifMatch string, values map[string]json.RawMessage) (*DataRecord, error)
	// DeleteRow deletes one row (DELETE_DENIED when the table denies it);
	// audited data.delete.
	DeleteRow(ctx context.Context, table, key, ifMatch string) error
}

// AdminActionService runs custom admin actions.
type AdminActionService interface {
	// RunAction checks the caller's role (INSUFFICIENT_ROLE) and, for an
	// action that writes, that the caller is not under a read-only
	// impersonation; audits the call with its payload; calls the product
	// and returns its JSON answer (ACTION_FAILED when it fails).
	RunAction(ctx context.Context, name string, call AdminActionCall) (json.RawMessage, error)
	// ListActions lists the actions the caller's role may run, by target.
	ListActions(ctx context.Context) (map[string][]AdminAction, error)
}
