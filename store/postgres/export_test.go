package postgres

// Exported for the tests of package postgres_test.
var (
	ConstraintFields = constraintFields
	Migrations       = migrations
	MapErr           = mapErr
)
