package postgres

import "testing"

// TestQueueRefusesAnUnorderedKind: a kind of deferred write that flush would
// not send (missing from bulkOrder) panics when queued, instead of its rows
// vanishing at the commit.
func TestQueueRefusesAnUnorderedKind(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("queueing a kind missing from bulkOrder did not panic")
		}
	}()
	(&pipeTx{}).queue(&bulk{op: "stray", sql: "SELECT 1"}, "x")
}
