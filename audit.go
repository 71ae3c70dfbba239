package steward

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"
)

// Actor types recorded in the audit log.
const (
	ActorOperator = "operator"
	ActorUser     = "user"
	ActorSystem   = "system"
	// ActorAnonymous is an unauthenticated caller, such as a failed login.
	ActorAnonymous = "anonymous"
)

// AuditEntry is one link of the hash-chained audit log. Changes and Metadata
// are kept as the exact JSON bytes that were hashed, so a round trip through
// any database cannot change what the hash covers.
type AuditEntry struct {
	ID             string          `json:"id"`
	Seq            int64           `json:"seq"`
	Time           time.Time       `json:"time"`
	ActorType      string          `json:"actor_type"`
	ActorID        string          `json:"actor_id"`
	ActorRole      string          `json:"actor_role"`
	ImpersonatorID string          `json:"impersonator_id"`
	CredentialID   string          `json:"credential_id"`
	Action         string          `json:"action"`
	TargetType     string          `json:"target_type"`
	TargetID       string          `json:"target_id"`
	TenantID       string          `json:"tenant_id"`
	Reason         string          `json:"reason"`
	Changes        json.RawMessage `json:"changes"`  // {"field": {"before": x, "after": y}}
	Metadata       json.RawMessage `json:"metadata"` // counts and other context
	IP             string          `json:"ip"`
	UserAgent      string          `json:"user_agent"`
	RequestID      string          `json:"request_id"`
	PrevHash       string          `json:"prev_hash"`
	Hash           string          `json:"hash"`
	// Pending is an entry whose change committed but that the sequencer
	// has not sealed yet: Seq is 0 and PrevHash and Hash empty, shown as
	// null (MarshalJSON).
	Pending bool `json:"pending,omitempty"`
}

// MarshalJSON shows a pending entry's seq, prev_hash and hash as null: it
// has none yet, and 0 or "" would read as values.
// A value receiver, so entries held by value marshal the same way.
func (e AuditEntry) MarshalJSON() ([]byte, error) {
	type plain AuditEntry
	if !e.Pending {
		return json.Marshal(plain(e))
	}
	return json.Marshal(struct {
		plain
		Seq      *int64  `json:"seq"`
		PrevHash *string `json:"prev_hash"`
		Hash     *string `json:"hash"`
	}{plain: plain(e)})
}

// AuditTimeFormat is how times enter the canonical form: UTC, microseconds,
// the precision both stores keep.
const AuditTimeFormat = "2006-01-02T15:04:05.000000Z"

// Canonical is the byte form the hash covers: every field but Hash, in a
// fixed order.
func (e *AuditEntry) Canonical() []byte {
	raw := func(m json.RawMessage) json.RawMessage {
		if len(m) == 0 {
			return json.RawMessage("null")
		}
		return m
	}
	b, _ := json.Marshal([]any{
		e.ID, e.Seq, e.Time.UTC().Format(AuditTimeFormat), e.ActorType, e.ActorID, e.ActorRole,
		e.ImpersonatorID, e.CredentialID, e.Action, e.TargetType, e.TargetID, e.TenantID,
		e.Reason, raw(e.Changes), raw(e.Metadata), e.IP, e.UserAgent, e.RequestID,
	})
	return b
}

// ComputeHash returns hex(SHA-256(prev_hash || canonical entry)).
func (e *AuditEntry) ComputeHash() string {
	h := sha256.New()
	h.Write([]byte(e.PrevHash))
	h.Write(e.Canonical())
	return hex.EncodeToString(h.Sum(nil))
}

// AuditFilter selects audit entries. Lists come newest first; BeforeSeq is the
// exclusive sequence number to continue after. Scans run oldest first.
type AuditFilter struct {
	ActorID    string
	Action     string
	TargetType string
	TargetID   string
	TenantID   string
	Since      *time.Time // inclusive
	Until      *time.Time // exclusive
	BeforeSeq  int64
	Limit      int
	// SealedOnly leaves out pending entries, which lists otherwise show
	// first on the first page (no BeforeSeq): for readers of the chain
	// itself. Not part of a request's filter.
	SealedOnly bool `json:"-"`
}

// AuditVerification is the result of walking the chain.
type AuditVerification struct {
	OK      bool  `json:"ok"`
	Entries int64 `json:"entries"`
	// Checkpoints is how many signed checkpoints were checked against the
	// chain; LatestCheckpoint the one with the highest seq, if any.
	Checkpoints      int64            `json:"checkpoints"`
	LatestCheckpoint *AuditCheckpoint `json:"latest_checkpoint,omitempty"`
	FirstBreak       *AuditBreak      `json:"first_break,omitempty"`
	// FromSeq is the seq the walk started from: 1, or the one after the
	// anchor once retention purged the oldest entries (Anchor, else nil).
	FromSeq int64        `json:"from_seq"`
	Anchor  *AuditAnchor `json:"anchor"`
	// Pending is how many entries await sealing after the walk: committed
	// changes the chain does not cover yet (not a break).
	Pending int64 `json:"pending"`
}

// AuditBreak names the first entry whose hash or link does not match, or the
// checkpoint that the chain contradicts (then ID is the entry at Seq, "" when
// that entry is gone).
type AuditBreak struct {
	Seq          int64  `json:"seq"`
	ID           string `json:"id"`
	CheckpointID string `json:"checkpoint_id,omitempty"`
	Reason       string `json:"reason"`
}

// AuditPending is the audit sequencer's backlog (docs/audit-log.md#sealing):
// Count entries whose change committed but that are not sealed yet, the
// oldest one's age, and on PostgreSQL the age of the oldest transaction
// open in the database cluster, which holds sealing back while it runs.
type AuditPending struct {
	Count                       int64    `json:"count"`
	OldestAgeSeconds            *float64 `json:"oldest_age_seconds"`
	OldestTransactionAgeSeconds *float64 `json:"oldest_transaction_age_seconds"`
}
