package postgres

// Exported for the tests of package postgres_test.
var (
	ConstraintFields = constraintFields
	Migrations       = migrations
	MapErr           = mapErr
)

// The sealer's scans of the pending rows, for TestSealerScansPendingInOrder.
const (
	SealableAuditSQL     = sealableAuditSQL
	SealWebhookEventsSQL = sealWebhookEventsSQL
)
