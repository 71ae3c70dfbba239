package service

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// ListAudit implements steward.AuditService.
func (s *Audit) ListAudit(ctx context.Context, f steward.AuditFilter, p steward.ListParams) (*steward.Page[*steward.AuditEntry], error) {
	if _, err := authorize(ctx, steward.PermAuditRead); err != nil {
		return nil, err
	}
	limit, err := limitOf(p)
	if err != nil {
		return nil, err
	}
	if f.BeforeSeq, err = decodeSeqCursor(p.Cursor); err != nil {
		return nil, err
	}
	if f.BeforeSeq == 0 {
		s.sealForRead(ctx)
	}
	f.Limit = limit + 1
	rows, err := s.store.ListAudit(ctx, f)
	if err != nil {
		return nil, err
	}
	pg := page(rows, limit, func(e *steward.AuditEntry) string {
		if e.Pending {
			// A first page of only pending entries continues with the
			// sealed ones from the head.
			return encodeCursor(strconv.FormatInt(math.MaxInt64, 10))
		}
		return encodeCursor(strconv.FormatInt(e.Seq, 10))
	})
	if p.IncludeTotal {
		n, err := s.store.CountAudit(ctx, f)
		if err != nil {
			return nil, err
		}
		pg.Total = &n
	}
	return pg, nil
}

// VerifyAudit implements steward.AuditService: it recomputes every hash and
// checks every link, reporting the first entry where either fails.
func (s *Audit) VerifyAudit(ctx context.Context) (*steward.AuditVerification, error) {
	if _, err := authorize(ctx, steward.PermAuditRead); err != nil {
		return nil, err
	}
	return s.VerifyChain(ctx)
}

// VerifyChain is VerifyAudit without the permission check, for `steward
// doctor`. Besides the hashes and links it checks every signed checkpoint:
// its signature, that the chain reaches its seq with the hash it signed,
// and that every audit.checkpoint entry's checkpoint still exists. The
// break reported is the one at the lowest seq.
func (s *Audit) VerifyChain(ctx context.Context) (*steward.AuditVerification, error) {
	return s.VerifyChainWith(ctx, nil)
}

// VerifyChainWith is VerifyChain with more checkpoints to hold the chain
// to: ones kept outside the database (from the log, see ParseCheckpoint),
// which deleting rows cannot remove.
func (s *Audit) VerifyChainWith(ctx context.Context, outside []*steward.AuditCheckpoint) (*steward.AuditVerification, error) {
	// What committed before the walk is sealed first, where no older
	// transaction holds it back; the rest is counted as pending.
	s.sealForRead(ctx)
	// Checkpoints first: the chain only grows, so every checkpoint read
	// here is covered by the scan that follows.
	table, err := s.allCheckpoints(ctx)
	if err != nil {
		return nil, err
	}
	cps := table
	if len(outside) > 0 {
		cps = append(slices.Clone(table), outside...)
		slices.SortFunc(cps, func(a, b *steward.AuditCheckpoint) int {
			return cmp.Or(cmp.Compare(a.Seq, b.Seq), cmp.Compare(a.ID, b.ID))
		})
	}
	pubs, err := s.publicKeys(ctx)
	if err != nil {
		return nil, err
	}
	res := &steward.AuditVerification{OK: true, Checkpoints: int64(len(cps))}
	var breaks []*steward.AuditBreak
	pending := make([]*steward.AuditCheckpoint, 0, len(cps)) // valid ones, seq ascending
	for _, c := range cps {
		if why := checkCheckpoint(c, pubs); why != "" {
			breaks = append(breaks, &steward.AuditBreak{Seq: c.Seq, CheckpointID: c.ID,
				Reason: fmt.Sprintf("checkpoint %s: %s", c.ID, why)})
			continue
		}
		pending = append(pending, c)
	}
	if len(pending) > 0 {
		res.LatestCheckpoint = pending[len(pending)-1]
	}
	// Once retention purged the oldest entries the chain starts after its
	// anchor (auditretention.go); checkpoints of purged entries are not
	// held against it.
	anchor, err := chainAnchor(ctx, s.store)
	if err != nil {
		return nil, err
	}
	pending, atAnchor := checkpointsFrom(pending, anchor)
	breaks = append(breaks, atAnchor...)
	claimed := map[string]*steward.AuditEntry{} // checkpoint id → its audit.checkpoint entry
	var chainBreak *steward.AuditBreak
	prev, prevSeq := "", int64(0)
	if anchor != nil {
		prev, prevSeq = anchor.Hash, anchor.Seq
	}
	link := func(e *steward.AuditEntry) string {
		switch {
		case e.PrevHash != prev:
			return "prev_hash does not match the previous entry's hash"
		case e.Seq != prevSeq+1 && prevSeq != 0:
			return "sequence gap: an entry before this one is missing"
		case e.ComputeHash() != e.Hash:
			return "hash does not match the entry's content"
		}
		return ""
	}
	err = s.store.ScanAudit(ctx, steward.AuditFilter{}, func(e *steward.AuditEntry) error {
		if anchor != nil && e.Seq <= anchor.Seq {
			return nil // purged since its page was read
		}
		res.Entries++
		why := link(e)
		if why != "" && chainBreak == nil {
			// A purge since the anchor was read may have deleted what the
			// scan had not reached, or what it read but has not walked yet:
			// the walk goes on from the new anchor.
			moved, err := chainAnchor(ctx, s.store)
			if err != nil {
				return err
			}
			if moved != nil && moved.Seq >= prevSeq && (anchor == nil || moved.Seq > anchor.Seq) &&
				(moved.Seq >= e.Seq || moved.Seq+1 == e.Seq && moved.Hash == e.PrevHash) {
				anchor, prev, prevSeq, res.Entries = moved, moved.Hash, moved.Seq, 0
				var more []*steward.AuditBreak
				pending, more = checkpointsFrom(pending, anchor)
				breaks = append(breaks, more...)
				if e.Seq <= anchor.Seq {
					return nil
				}
				res.Entries, why = 1, link(e)
			}
		}
		if why != "" && chainBreak == nil {
			chainBreak = &steward.AuditBreak{Seq: e.Seq, ID: e.ID, Reason: why}
		}
		for len(pending) > 0 && pending[0].Seq <= e.Seq {
			c := pending[0]
			pending = pending[1:]
			switch {
			case c.Seq < e.Seq:
				breaks = append(breaks, &steward.AuditBreak{Seq: c.Seq, CheckpointID: c.ID,
					Reason: fmt.Sprintf("checkpoint %s signed seq %d at %s, which is missing from the chain",
						c.ID, c.Seq, c.Time.Format(time.RFC3339))})
			case c.Hash != e.Hash:
				breaks = append(breaks, &steward.AuditBreak{Seq: e.Seq, ID: e.ID, CheckpointID: c.ID,
					Reason: fmt.Sprintf("checkpoint %s signed hash %s for seq %d at %s; the entry's hash is %s: it or an entry before it was rewritten",
						c.ID, c.Hash, c.Seq, c.Time.Format(time.RFC3339), e.Hash)})
			}
		}
		if e.Action == "audit.checkpoint" && e.TargetType == "audit_checkpoint" {
			claimed[e.TargetID] = e
		}
		prev, prevSeq = e.Hash, e.Seq
		return nil
	})
	if err != nil {
		return nil, err
	}
	if chainBreak != nil {
		breaks = append(breaks, chainBreak)
	}
	if len(pending) > 0 {
		// The chain ends before what was signed: its tail was deleted.
		// Name the latest checkpoint, the strongest evidence.
		c := pending[len(pending)-1]
		breaks = append(breaks, &steward.AuditBreak{Seq: prevSeq + 1, CheckpointID: c.ID,
			Reason: fmt.Sprintf("the chain ends at seq %d, but checkpoint %s signed seq %d (hash %s) at %s: entries after seq %d were deleted",
				prevSeq, c.ID, c.Seq, c.Hash, c.Time.Format(time.RFC3339), prevSeq)})
	}
	missing, err := s.missingCheckpoints(ctx, table, claimed)
	if err != nil {
		return nil, err
	}
	breaks = append(breaks, missing...)
	res.FromSeq, res.Anchor = 1, anchor
	if anchor != nil {
		res.FromSeq = anchor.Seq + 1
		b, err := s.anchorBreak(ctx, anchor)
		if err != nil {
			return nil, err
		}
		if b != nil {
			// Its audit.anchor entry may have been purged since, by a run
			// that moved the anchor on: hold that one to the same rule.
			now, err := chainAnchor(ctx, s.store)
			if err != nil {
				return nil, err
			}
			if now != nil && now.Seq > anchor.Seq {
				if b, err = s.anchorBreak(ctx, now); err != nil {
					return nil, err
				}
			}
		}
		if b != nil {
			breaks = append(breaks, b)
		}
	}
	if len(breaks) > 0 {
		res.OK = false
		res.FirstBreak = slices.MinFunc(breaks, func(a, b *steward.AuditBreak) int { return cmp.Compare(a.Seq, b.Seq) })
	}
	// Pending entries are not in the chain yet: counted, not a break.
	p, err := s.store.AuditPending(ctx)
	if err != nil {
		return nil, err
	}
	res.Pending = p.Count
	return res, nil
}

// missingCheckpoints reports audit.checkpoint entries whose checkpoint is
// not in the table: checkpoints deleted to hide a cut. An entry and its
// checkpoint commit together, so one made during the scan is only missing
// from the list read before it: read again before reporting.
func (s *Audit) missingCheckpoints(ctx context.Context, cps []*steward.AuditCheckpoint, claimed map[string]*steward.AuditEntry) ([]*steward.AuditBreak, error) {
	have := make(map[string]bool, len(cps))
	for _, c := range cps {
		have[c.ID] = true
	}
	reread := false
	var out []*steward.AuditBreak
	for cid, e := range claimed {
		if have[cid] {
			continue
		}
		if !reread {
			reread = true
			again, err := s.allCheckpoints(ctx)
			if err != nil {
				return nil, err
			}
			for _, c := range again {
				have[c.ID] = true
			}
			if have[cid] {
				continue
			}
		}
		out = append(out, &steward.AuditBreak{Seq: e.Seq, ID: e.ID, CheckpointID: cid,
			Reason: fmt.Sprintf("entry %d records checkpoint %s, which is missing from the checkpoint table: checkpoints were deleted", e.Seq, cid)})
	}
	return out, nil
}

// ExportAudit implements steward.AuditService. The export is a sensitive read,
// so it is itself recorded before the first row leaves.
func (s *Audit) ExportAudit(ctx context.Context, f steward.AuditFilter, format string, fn func(*steward.AuditEntry) error) error {
	if _, err := authorize(ctx, steward.PermAuditExport); err != nil {
		return err
	}
	if format != "ndjson" && format != "csv" {
		return steward.FieldError("format", "must be ndjson or csv")
	}
	err := s.update(ctx, func(tx store.Tx) error {
		return s.audit(ctx, tx, event{Action: "audit.export", TargetType: "audit_log",
			Metadata: map[string]any{"format": format, "filter": f}})
	})
	if err != nil {
		return err
	}
	s.sealForRead(ctx) // the export's own entry too, when nothing older is open
	return s.store.ScanAudit(ctx, f, fn)
}
