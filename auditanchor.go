package steward

import "time"

// AuditAnchor is where the audit chain starts once retention purged its
// oldest entries: Seq and Hash are the last purged entry's, so the oldest
// kept entry is Seq+1 and its prev_hash is Hash. At is when the anchor was
// set. Every move of the anchor is recorded by an audit.anchor entry in the
// same transaction as the delete (docs/audit-log.md#retention).
type AuditAnchor struct {
	Seq  int64     `json:"seq"`
	Hash string    `json:"hash"`
	At   time.Time `json:"at"`
}
