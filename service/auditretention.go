package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// The audit log as a retention data set (docs/audit-log.md#retention).
// Purging removes a prefix of the chain, oldest first, and moves the
// anchor, the last purged entry's seq and hash, in the same transaction,
// with an audit.anchor entry recording it: at every commit the oldest kept
// entry links to the anchor, and the anchor is vouched for by the chain.

// purgeAudit deletes, under the sealer lock, the longest run of at most
// limit oldest sealed entries that are all past their age and not the
// sealed head, and anchors the chain at the last of them. Pending entries
// are never purged: they are not in the chain yet.
func (s *Retention) purgeAudit(ctx context.Context, tx store.Tx, before time.Time, limit int, out *steward.RetentionTableRun) (int64, error) {
	// What is sealable is sealed first, so that old entries that were
	// still pending are purged with the rest.
	if _, err := s.sealIn(ctx, tx, math.MaxInt); err != nil {
		return 0, err
	}
	head, _, err := tx.LockAuditHead(ctx)
	if err != nil {
		return 0, err
	}
	seq, hash, err := tx.AuditPurgeBound(ctx, before, head, limit)
	if err != nil || seq == 0 {
		return 0, err
	}
	n, err := tx.DeleteAuditThrough(ctx, seq)
	if err != nil {
		return 0, err
	}
	a := &steward.AuditAnchor{Seq: seq, Hash: hash, At: s.now()}
	if err := tx.SetAuditAnchor(ctx, a); err != nil {
		return 0, err
	}
	err = s.audit(ctx, tx, event{Action: "audit.anchor", TargetType: "audit_log",
		Metadata: anchorClaim{Seq: seq, Hash: hash, Purged: n, Before: before.UTC()}})
	if err != nil {
		return 0, err
	}
	// Seal the claim in this transaction (it holds the sealer lock), so
	// that at every commit the sealed chain vouches for the anchor.
	if _, err := s.sealIn(ctx, tx, math.MaxInt); err != nil {
		return 0, err
	}
	out.Anchor = a
	return n, nil
}

// anchorClaim is an audit.anchor entry's metadata.
type anchorClaim struct {
	Seq    int64     `json:"seq"`
	Hash   string    `json:"hash"`
	Purged int64     `json:"purged"`
	Before time.Time `json:"before"`
}

// chainAnchor is where the chain starts: nil while nothing was purged.
func chainAnchor(ctx context.Context, q store.Queries) (*steward.AuditAnchor, error) {
	a, err := q.AuditAnchor(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return a, err
}

// anchorBreak says what is wrong with anchor a, or nil: an audit.anchor
// entry must record it. An anchor row nobody recorded is entries deleted
// outside a retention run, with the anchor set to hide it. Every claim is
// newer than the entries it anchors, so the newest few are read.
func (s *Audit) anchorBreak(ctx context.Context, a *steward.AuditAnchor) (*steward.AuditBreak, error) {
	f := steward.AuditFilter{Action: "audit.anchor", TargetType: "audit_log", Limit: 100, SealedOnly: true}
	for {
		list, err := s.store.ListAudit(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, e := range list {
			var c anchorClaim
			if json.Unmarshal(e.Metadata, &c) != nil {
				continue
			}
			if c.Seq == a.Seq && c.Hash == a.Hash {
				return nil, nil
			}
			if c.Seq < a.Seq {
				// Claims only move forward: older ones cannot name a.
				return unclaimed(a), nil
			}
		}
		if len(list) < f.Limit {
			return unclaimed(a), nil
		}
		f.BeforeSeq = list[len(list)-1].Seq
	}
}

func unclaimed(a *steward.AuditAnchor) *steward.AuditBreak {
	return &steward.AuditBreak{Seq: a.Seq + 1,
		Reason: fmt.Sprintf("the chain is anchored at seq %d (hash %s, %s), but no audit.anchor entry records that anchor: entries before seq %d were deleted outside a retention run",
			a.Seq, a.Hash, a.At.Format(time.RFC3339), a.Seq+1)}
}

// checkpointsFrom splits checkpoints (seq ascending) at anchor a: those
// below it signed purged entries and are not held against the chain; one
// at a's seq must have signed a's hash. It returns those above a, and the
// break of one at a that disagrees.
func checkpointsFrom(cps []*steward.AuditCheckpoint, a *steward.AuditAnchor) ([]*steward.AuditCheckpoint, []*steward.AuditBreak) {
	if a == nil {
		return cps, nil
	}
	var breaks []*steward.AuditBreak
	i := 0
	for ; i < len(cps) && cps[i].Seq <= a.Seq; i++ {
		if c := cps[i]; c.Seq == a.Seq && c.Hash != a.Hash {
			breaks = append(breaks, &steward.AuditBreak{Seq: c.Seq, CheckpointID: c.ID,
				Reason: fmt.Sprintf("checkpoint %s signed hash %s for seq %d at %s; the chain's anchor there has hash %s: it or an entry before it was rewritten before the purge",
					c.ID, c.Hash, c.Seq, c.Time.Format(time.RFC3339), a.Hash)})
		}
	}
	return cps[i:], breaks
}
