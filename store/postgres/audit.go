package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

const auditCols = `seq, id, time, actor_type, actor_id, actor_role, impersonator_id, credential_id,
	action, target_type, target_id, tenant_id, reason, changes, metadata, ip, user_agent,
	request_id, prev_hash, hash`

// bulkPendingAudit inserts pending entries (no seq, prev_hash or hash) in
// the order queued: unnest returns its rows in array order, so pos follows it.
var bulkPendingAudit = &bulk{op: "insert audit", sql: `INSERT INTO audit_log (id, time, actor_type, actor_id,
	actor_role, impersonator_id, credential_id, action, target_type, target_id, tenant_id, reason, changes, metadata,
	ip, user_agent, request_id)
	SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
		$8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[],
		$16::text[], $17::text[])`}

// scanBatch is how many entries ScanAudit reads in one query: see ScanAudit.
const scanBatch = 500

func scanAudit(row pgx.Row) (*steward.AuditEntry, error) {
	var e steward.AuditEntry
	var changes, meta, prev, hash *string
	var seq *int64
	err := row.Scan(&seq, &e.ID, &e.Time, &e.ActorType, &e.ActorID, &e.ActorRole,
		&e.ImpersonatorID, &e.CredentialID, &e.Action, &e.TargetType, &e.TargetID, &e.TenantID,
		&e.Reason, &changes, &meta, &e.IP, &e.UserAgent, &e.RequestID, &prev, &hash)
	if err != nil {
		return nil, mapErr(err)
	}
	if seq == nil {
		e.Pending = true
	} else {
		e.Seq, e.PrevHash, e.Hash = *seq, *prev, *hash
	}
	e.Time = e.Time.UTC()
	e.Changes = rawOrNil(changes)
	e.Metadata = rawOrNil(meta)
	return &e, nil
}

func rawOrNil(s *string) json.RawMessage {
	if s == nil {
		return nil
	}
	return json.RawMessage(*s)
}

// textOrNull stores raw JSON as text, byte for byte; empty is NULL.
func textOrNull(m json.RawMessage) *string {
	if len(m) == 0 {
		return nil
	}
	s := string(m)
	return &s
}

// auditWhere holds the conditions of f, BeforeSeq and Limit aside: a list
// adds its keyset condition, scans and counts do not.
func auditWhere(f steward.AuditFilter) *where {
	w := &where{}
	if f.ActorID != "" {
		w.add("actor_id = " + w.arg(f.ActorID))
	}
	if f.Action != "" {
		w.add("action = " + w.arg(f.Action))
	}
	if f.TargetType != "" {
		w.add("target_type = " + w.arg(f.TargetType))
	}
	if f.TargetID != "" {
		w.add("target_id = " + w.arg(f.TargetID))
	}
	if f.TenantID != "" {
		w.add("tenant_id = " + w.arg(f.TenantID))
	}
	if f.Since != nil {
		w.add("time >= " + w.arg(*f.Since))
	}
	if f.Until != nil {
		w.add("time < " + w.arg(*f.Until))
	}
	return w
}

func (q *queries) CountAudit(ctx context.Context, f steward.AuditFilter) (_ int64, err error) {
	defer wrapErr(&err, "count audit")
	// Sealed and pending apart: the filters' indexes hold sealed entries
	// only (00024), the pending ones are few and in audit_log_pending.
	sealed, pending := auditWhere(f), auditWhere(f)
	sealed.add("seq IS NOT NULL")
	pending.add("seq IS NULL")
	var n int64
	err = q.q.QueryRow(ctx, "SELECT (SELECT count(*) FROM audit_log"+sealed.String()+") + (SELECT count(*) FROM audit_log"+
		pending.String()+")", sealed.args...).Scan(&n)
	return n, mapErr(err)
}

func (q *queries) ListAudit(ctx context.Context, f steward.AuditFilter) (_ []*steward.AuditEntry, err error) {
	defer wrapErr(&err, "list audit")
	w := auditWhere(f)
	if f.BeforeSeq > 0 {
		w.add("seq < " + w.arg(f.BeforeSeq))
	} else {
		w.add("seq IS NOT NULL")
	}
	limit := w.arg(pageLimit(f.Limit))
	sql := "SELECT " + auditCols + " FROM audit_log" + w.String() + " ORDER BY seq DESC LIMIT " + limit
	if !f.SealedOnly && f.BeforeSeq == 0 {
		// One statement, one snapshot: an entry sealed between two reads
		// would be in neither. The pending part reads audit_log_pending.
		p := auditWhere(f) // the same conditions and placeholders as w's first
		p.add("seq IS NULL")
		sql = "SELECT " + auditCols + " FROM ((SELECT pos, " + auditCols + " FROM audit_log" + p.String() +
			" ORDER BY pos DESC LIMIT " + limit + ") UNION ALL (SELECT pos, " + auditCols + " FROM audit_log" +
			w.String() + " ORDER BY seq DESC LIMIT " + limit + ")) u ORDER BY seq DESC NULLS FIRST, pos DESC LIMIT " + limit
	}
	rows, err := q.q.Query(ctx, sql, w.args...)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	out := []*steward.AuditEntry{}
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, mapErr(rows.Err())
}

// ScanAudit reads keyset batches of scanBatch, each its own short query, and
// calls fn between them, so however slowly fn consumes entries (an export
// written to a client that stopped reading) no query, snapshot or pooled
// connection is held meanwhile, and inside a transaction fn may use the
// same connection. The scan ends at the head of the chain as it was when
// the scan began: entries appended meanwhile are left for the next one.
func (q *queries) ScanAudit(ctx context.Context, f steward.AuditFilter, fn func(*steward.AuditEntry) error) error {
	var head int64
	if err := q.q.QueryRow(ctx, "SELECT coalesce(max(seq), 0) FROM audit_log").Scan(&head); err != nil {
		return opErr("scan audit", err)
	}
	var after int64
	for after < head {
		w := auditWhere(f)
		w.add("seq > " + w.arg(after))
		w.add("seq <= " + w.arg(head))
		rows, err := q.q.Query(ctx, "SELECT "+auditCols+" FROM audit_log"+w.String()+
			" ORDER BY seq LIMIT "+w.arg(scanBatch), w.args...)
		if err != nil {
			return opErr("scan audit", err)
		}
		batch, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*steward.AuditEntry, error) {
			return scanAudit(r)
		})
		if err != nil {
			return opErr("scan audit", err)
		}
		for _, e := range batch {
			if err := fn(e); err != nil {
				return err
			}
		}
		if len(batch) < scanBatch {
			return nil
		}
		after = batch[len(batch)-1].Seq
	}
	return nil
}

// InsertAudit appends e. A pending row gets its pos from the identity and
// its writer's xid from the column default; no lock is taken.
// InsertAudit of a pending entry (the writers' case) is deferred
// (pipeline.go): nothing in the writing transaction reads it back, so a
// ledger batch's entries travel with its other writes in one round trip.
func (t *tx) InsertAudit(ctx context.Context, e *steward.AuditEntry) (err error) {
	const insert = `INSERT INTO audit_log (` + auditCols + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)`
	if e.Seq == 0 {
		t.pipe.queue(bulkPendingAudit, e.ID, e.Time, e.ActorType, e.ActorID, e.ActorRole, e.ImpersonatorID,
			e.CredentialID, e.Action, e.TargetType, e.TargetID, e.TenantID, e.Reason, textOrNull(e.Changes),
			textOrNull(e.Metadata), e.IP, e.UserAgent, e.RequestID)
		return nil
	}
	defer wrapErr(&err, "insert audit")
	seq, prev, hash := &e.Seq, &e.PrevHash, &e.Hash
	_, err = t.q.Exec(ctx, insert,
		seq, e.ID, e.Time, e.ActorType, e.ActorID, e.ActorRole, e.ImpersonatorID, e.CredentialID,
		e.Action, e.TargetType, e.TargetID, e.TenantID, e.Reason, textOrNull(e.Changes),
		textOrNull(e.Metadata), e.IP, e.UserAgent, e.RequestID, prev, hash)
	if err != nil {
		return mapErr(err)
	}
	t.auditHead = &auditHead{seq: e.Seq, hash: e.Hash}
	return nil
}

// SealableAudit reads pending rows whose writer's xid is below the xmin of
// this statement's own snapshot (pg_current_snapshot is the statement's
// snapshot): every transaction with a smaller xid has ended, and those
// that committed are visible here, so a row not returned now belongs to a
// transaction still running, or one that started later, and is sealed by
// a later pass after everything returned now (docs/audit-log.md#sealing).
// This transaction's own rows are sealable too: a checkpoint seals the
// entry it signs.
const sealableAuditSQL = "SELECT " + auditCols + ` FROM audit_log WHERE seq IS NULL
	AND (xid < pg_snapshot_xmin(pg_current_snapshot()) OR xid = pg_current_xact_id_if_assigned())
	ORDER BY pos LIMIT $1`

func (t *tx) SealableAudit(ctx context.Context, limit int) (_ []*steward.AuditEntry, err error) {
	defer wrapErr(&err, "sealable audit")
	rows, err := t.q.Query(ctx, sealableAuditSQL, limit)
	if err != nil {
		return nil, mapErr(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*steward.AuditEntry, error) { return scanAudit(r) })
	return out, mapErr(err)
}

// SealAudit writes the batch back in one UPDATE over unnest'ed arrays.
func (t *tx) SealAudit(ctx context.Context, entries []*steward.AuditEntry) (err error) {
	defer wrapErr(&err, "seal audit")
	if len(entries) == 0 {
		return nil
	}
	ids := make([]string, len(entries))
	seqs := make([]int64, len(entries))
	prevs := make([]string, len(entries))
	hashes := make([]string, len(entries))
	for i, e := range entries {
		ids[i], seqs[i], prevs[i], hashes[i] = e.ID, e.Seq, e.PrevHash, e.Hash
	}
	tag, err := t.q.Exec(ctx, `UPDATE audit_log a SET seq = u.seq, prev_hash = u.prev, hash = u.hash
		FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[]) AS u(id, seq, prev, hash)
		WHERE a.id = u.id AND a.seq IS NULL`, ids, seqs, prevs, hashes)
	if err != nil {
		return mapErr(err)
	}
	if tag.RowsAffected() != int64(len(entries)) {
		return fmt.Errorf("sealed %d of %d entries: some were not pending", tag.RowsAffected(), len(entries))
	}
	last := entries[len(entries)-1]
	t.auditHead = &auditHead{seq: last.Seq, hash: last.Hash}
	return nil
}

// AuditPending counts through audit_log_pending; the oldest transaction
// holding an xid is what keeps pg_snapshot_xmin, and so sealing, back.
func (q *queries) AuditPending(ctx context.Context) (_ *store.AuditPending, err error) {
	defer wrapErr(&err, "audit pending")
	var p store.AuditPending
	err = q.q.QueryRow(ctx, `SELECT (SELECT count(*) FROM audit_log WHERE seq IS NULL),
		(SELECT min(time) FROM (SELECT time FROM audit_log WHERE seq IS NULL OFFSET 0) p),
		(SELECT min(xact_start) FROM pg_stat_activity WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid()),
		(SELECT count(*) FROM webhook_events WHERE seq IS NULL)`).
		Scan(&p.Count, &p.Oldest, &p.OldestTx, &p.Events)
	if err != nil {
		return nil, mapErr(err)
	}
	for _, t := range []*time.Time{p.Oldest, p.OldestTx} {
		if t != nil {
			*t = t.UTC()
		}
	}
	return &p, nil
}
