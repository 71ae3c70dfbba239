package postgres

import (
	"context"
	"encoding/json"

	"github.com/jackc/pgx/v5"

	"github.com/stewardhq/steward"
)

const auditCols = `seq, id, time, actor_type, actor_id, actor_role, impersonator_id, credential_id,
	action, target_type, target_id, tenant_id, reason, changes, metadata, ip, user_agent,
	request_id, prev_hash, hash`

// scanBatch is how many entries ScanAudit reads in one query: see ScanAudit.
const scanBatch = 500

func scanAudit(row pgx.Row) (*steward.AuditEntry, error) {
	var e steward.AuditEntry
	var changes, meta *string
	err := row.Scan(&e.Seq, &e.ID, &e.Time, &e.ActorType, &e.ActorID, &e.ActorRole,
		&e.ImpersonatorID, &e.CredentialID, &e.Action, &e.TargetType, &e.TargetID, &e.TenantID,
		&e.Reason, &changes, &meta, &e.IP, &e.UserAgent, &e.RequestID, &e.PrevHash, &e.Hash)
	if err != nil {
		return nil, mapErr(err)
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
	w := auditWhere(f)
	var n int64
	err = q.q.QueryRow(ctx, "SELECT count(*) FROM audit_log"+w.String(), w.args...).Scan(&n)
	return n, mapErr(err)
}

func (q *queries) ListAudit(ctx context.Context, f steward.AuditFilter) (_ []*steward.AuditEntry, err error) {
	defer wrapErr(&err, "list audit")
	w := auditWhere(f)
	if f.BeforeSeq > 0 {
		w.add("seq < " + w.arg(f.BeforeSeq))
	}
	sql := "SELECT " + auditCols + " FROM audit_log" + w.String() + " ORDER BY seq DESC LIMIT " + w.arg(pageLimit(f.Limit))
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

func (t *tx) InsertAudit(ctx context.Context, e *steward.AuditEntry) (err error) {
	defer wrapErr(&err, "insert audit")
	_, err = t.q.Exec(ctx, `INSERT INTO audit_log (`+auditCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)`,
		e.Seq, e.ID, e.Time, e.ActorType, e.ActorID, e.ActorRole, e.ImpersonatorID, e.CredentialID,
		e.Action, e.TargetType, e.TargetID, e.TenantID, e.Reason, textOrNull(e.Changes),
		textOrNull(e.Metadata), e.IP, e.UserAgent, e.RequestID, e.PrevHash, e.Hash)
	if err != nil {
		return mapErr(err)
	}
	t.auditHead = &auditHead{seq: e.Seq, hash: e.Hash}
	return nil
}
