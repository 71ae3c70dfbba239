package service

import (
	"context"
	"strconv"

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
	f.Limit = limit + 1
	rows, err := s.store.ListAudit(ctx, f)
	if err != nil {
		return nil, err
	}
	pg := page(rows, limit, func(e *steward.AuditEntry) string {
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

// VerifyChain is VerifyAudit without the permission check, for `steward doctor`.
func (s *Audit) VerifyChain(ctx context.Context) (*steward.AuditVerification, error) {
	res := &steward.AuditVerification{OK: true}
	prev, prevSeq := "", int64(0)
	err := s.store.ScanAudit(ctx, steward.AuditFilter{}, func(e *steward.AuditEntry) error {
		res.Entries++
		var why string
		switch {
		case e.PrevHash != prev:
			why = "prev_hash does not match the previous entry's hash"
		case e.Seq != prevSeq+1 && prevSeq != 0:
			why = "sequence gap: an entry before this one is missing"
		case e.ComputeHash() != e.Hash:
			why = "hash does not match the entry's content"
		}
		if why != "" && res.OK {
			res.OK = false
			res.FirstBreak = &steward.AuditBreak{Seq: e.Seq, ID: e.ID, Reason: why}
		}
		prev, prevSeq = e.Hash, e.Seq
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
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
	return s.store.ScanAudit(ctx, f, fn)
}
