package sqlite

// Exported for the tests of package sqlite_test.
var (
	CompositeFields  = compositeFields
	ConstraintColumn = constraintColumn
	Migrations       = migrations
)
