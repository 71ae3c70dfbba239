package steward

import "time"

// AuditCheckpoint is a signed statement of the audit chain's head: "at Time,
// entry Seq existed and its hash was Hash". Signature is a compact JWS
// (EdDSA) by Steward's signing key KeyID over exactly these fields, so a
// checkpoint verifies with the public key in the JWKS or the key table, and
// a chain that ends before Seq, or holds another hash there, was cut or
// rewritten after the checkpoint was made.
type AuditCheckpoint struct {
	ID        string    `json:"id"`
	Seq       int64     `json:"seq"`
	Hash      string    `json:"hash"`
	Time      time.Time `json:"time"`
	KeyID     string    `json:"key_id"`
	Signature string    `json:"signature"`
}

// CheckpointPayload is what a checkpoint's JWS signs, as JSON. Type keeps a
// checkpoint from being read as any other signed object of Steward's (an
// access token has no such claim, and a checkpoint has no iss or exp, so
// neither passes for the other).
type CheckpointPayload struct {
	Type string `json:"type"` // CheckpointType
	ID   string `json:"id"`
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
	Time string `json:"time"` // AuditTimeFormat
}

// CheckpointType is the type a checkpoint's payload names.
const CheckpointType = "steward.audit.checkpoint.v1"
