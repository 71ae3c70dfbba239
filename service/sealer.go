package service

import (
	"context"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// The audit sequencer (docs/audit-log.md#sealing). A change appends its
// audit entry pending, in its own transaction and without any global lock
// (core.audit). Sealing assigns seq, prev_hash and hash later, in batches,
// under the sealer lock: one sealer at a time across replicas. A sealer
// that dies mid-pass rolls back, and the next pass, on any replica, seals
// the same entries.

const (
	// sealBatch bounds one pass: one transaction, one read, one update.
	sealBatch = 2000
	// SealInterval is how often RunSealer passes without a nudge, so that
	// entries other replicas wrote are sealed even if their sealer died.
	SealInterval = 200 * time.Millisecond
	// readSealWait bounds how long a read seals before it reads, so an
	// open transaction delays an operator's list by a bounded amount.
	readSealWait = 250 * time.Millisecond
	// AuditPendingWarnAfter is when `steward doctor` warns about a pending
	// entry: far past the lag a running sequencer keeps.
	AuditPendingWarnAfter = time.Minute
)

// sealIn seals, inside tx, everything sealable now, batch after batch;
// it returns how many entries it sealed. A checkpoint or a retention purge
// calls it to seal the entry it just wrote, which is sealable to its own
// transaction.
func (s *core) sealIn(ctx context.Context, tx store.Tx, maxBatches int) (int, error) {
	total := 0
	for range maxBatches {
		n, err := s.sealBatch(ctx, tx)
		total += n
		if err != nil || n < sealBatch {
			return total, err
		}
	}
	return total, nil
}

// sealBatch is one batch: the sealed head, then up to sealBatch sealable
// entries, chained in insertion order and written back in one statement,
// then the webhook events past the horizon (outbox.go). Events go second:
// their statement's snapshot is later, so every transaction whose entries
// were sealed has its events sealed too. It returns the larger of the two
// counts: a full batch of either means more wait.
func (s *core) sealBatch(ctx context.Context, tx store.Tx) (int, error) {
	seq, prev, err := tx.LockAuditHead(ctx)
	if err != nil {
		return 0, err
	}
	batch, err := tx.SealableAudit(ctx, sealBatch)
	if err != nil {
		return 0, err
	}
	for _, e := range batch {
		seq++
		e.Seq, e.PrevHash, e.Pending = seq, prev, false
		e.Hash = e.ComputeHash()
		prev = e.Hash
	}
	if s.sealHook != nil && len(batch) > 0 {
		s.sealHook(ctx, batch)
	}
	if err := tx.SealAudit(ctx, batch); err != nil {
		return 0, err
	}
	events, err := tx.SealWebhookEvents(ctx, sealBatch)
	if err != nil {
		return 0, err
	}
	return max(len(batch), events), nil
}

// sealPass is one pass in its own write transaction; it reports how many
// entries it sealed.
func (s *core) sealPass(ctx context.Context) (int, error) {
	var n int
	err := s.store.Update(ctx, func(tx store.Tx) error {
		var err error
		n, err = s.sealBatch(ctx, tx)
		return err
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// SealNow seals what is sealable now, as a read does before it reads: for
// `steward doctor`, tests, and anything that wants the chain caught up.
func (s *Audit) SealNow(ctx context.Context) { s.sealForRead(ctx) }

// sealForRead runs passes so an operator reading right after a change sees
// it sealed: until a pass finds nothing to seal and nothing pending is
// older than the read, for at most readSealWait. On PostgreSQL an entry
// waits for every transaction older than its writer's (sealer.go's doc):
// those are usually milliseconds from ending; one open for longer leaves
// the entry pending, and the read shows it as such. A failed pass does not
// fail the read.
func (s *core) sealForRead(ctx context.Context) {
	start, began := s.now(), time.Now() // entries carry s.now(); the budget is real time
	for {
		n, err := s.sealPass(ctx)
		if err != nil {
			if ctx.Err() == nil {
				s.log.WarnContext(ctx, "audit seal before a read", "err", err)
			}
			return
		}
		if n == sealBatch {
			continue
		}
		p, err := s.store.AuditPending(ctx)
		if err != nil || p.Oldest == nil || p.Oldest.After(start) || time.Since(began) > readSealWait {
			return
		}
	}
}

// nudgeSealer asks RunSealer for a pass after a commit; nudges while one is
// due coalesce, and the pass seals everything that arrived meanwhile.
func (s *core) nudgeSealer() {
	select {
	case s.sealNudge <- struct{}{}:
	default:
	}
}

// RunSealer seals audit entries until ctx ends: a pass after every nudge
// (a local commit), passes back to back while a backlog remains, and one
// every SealInterval regardless.
func (s *Audit) RunSealer(ctx context.Context) {
	t := time.NewTicker(SealInterval)
	defer t.Stop()
	for {
		n, err := s.sealPass(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.Error("audit sealing", "err", err)
		}
		if err == nil && n == sealBatch {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-s.sealNudge:
		case <-t.C:
		}
	}
}

// auditPending is AuditPending without the permission check.
func (s *core) auditPending(ctx context.Context) (*steward.AuditPending, error) {
	p, err := s.store.AuditPending(ctx)
	if err != nil {
		return nil, err
	}
	now := s.now()
	out := &steward.AuditPending{Count: p.Count}
	if p.Oldest != nil {
		age := max(now.Sub(*p.Oldest), 0).Seconds()
		out.OldestAgeSeconds = &age
	}
	if p.OldestTx != nil {
		age := max(now.Sub(*p.OldestTx), 0).Seconds()
		out.OldestTransactionAgeSeconds = &age
	}
	return out, nil
}

// AuditPending implements steward.AuditService: the sequencer's backlog,
// how many entries await sealing, the oldest one's age and, on PostgreSQL,
// the age of the oldest open transaction, which holds sealing back while
// it runs.
func (s *Audit) AuditPending(ctx context.Context) (*steward.AuditPending, error) {
	if _, err := authorize(ctx, steward.PermAuditRead); err != nil {
		return nil, err
	}
	return s.auditPending(ctx)
}
