package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

const auditColumns = "seq, id, time, actor_type, actor_id, actor_role, impersonator_id, credential_id, " +
	"action, target_type, target_id, tenant_id, reason, changes, metadata, ip, user_agent, request_id, " +
	"prev_hash, hash"

const (
	auditHeadSQL   = "SELECT seq, hash FROM audit_log WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1"
	insertAuditSQL = "INSERT INTO audit_log (" + auditColumns + ") VALUES " +
		"(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)

func scanAudit(sc scanner) (*steward.AuditEntry, error) {
	var (
		e             steward.AuditEntry
		at            int64
		changes, meta []byte
		seq           sql.NullInt64
		prev, hash    sql.NullString
	)
	err := sc.Scan(&seq, &e.ID, &at, &e.ActorType, &e.ActorID, &e.ActorRole, &e.ImpersonatorID,
		&e.CredentialID, &e.Action, &e.TargetType, &e.TargetID, &e.TenantID, &e.Reason, &changes, &meta,
		&e.IP, &e.UserAgent, &e.RequestID, &prev, &hash)
	if err != nil {
		return nil, err
	}
	e.Seq, e.PrevHash, e.Hash, e.Pending = seq.Int64, prev.String, hash.String, !seq.Valid
	e.Time = fromMicros(at)
	e.Changes, e.Metadata = rawJSON(changes), rawJSON(meta)
	return &e, nil
}

// rawJSON is nil for NULL or empty, so absent JSON reads back the same way
// however it was written.
func rawJSON(b []byte) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	return json.RawMessage(b)
}

// nullJSON stores b byte for byte, or NULL when empty.
func nullJSON(b json.RawMessage) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}

// auditWhere returns the WHERE clause and arguments for f; list adds the
// page's keyset condition (BeforeSeq), which scans and counts leave out.
func auditWhere(f steward.AuditFilter, list bool) (string, []any) {
	var (
		where []string
		args  []any
	)
	eq := func(col, v string) {
		if v != "" {
			where = append(where, col+" = ?")
			args = append(args, v)
		}
	}
	eq("actor_id", f.ActorID)
	eq("action", f.Action)
	eq("target_type", f.TargetType)
	eq("target_id", f.TargetID)
	eq("tenant_id", f.TenantID)
	if f.Since != nil {
		where = append(where, "time >= ?")
		args = append(args, micros(*f.Since))
	}
	if f.Until != nil {
		where = append(where, "time < ?")
		args = append(args, micros(*f.Until))
	}
	if list && f.BeforeSeq > 0 {
		where = append(where, "seq < ?")
		args = append(args, f.BeforeSeq)
	} else if list {
		where = append(where, "seq IS NOT NULL")
	}
	return whereClause(where), args
}

func listAuditSQL(f steward.AuditFilter) (string, []any) {
	where, args := auditWhere(f, true)
	n := limit(f.Limit)
	sealed := "SELECT " + auditColumns + " FROM audit_log" + where + " ORDER BY seq DESC LIMIT ?"
	if f.SealedOnly || f.BeforeSeq > 0 {
		return sealed, append(args, n)
	}
	// One statement, one snapshot, as on PostgreSQL; the pending part
	// reads audit_pending.
	pw, pargs := auditWhere(f, false)
	if pw == "" {
		pw = " WHERE seq IS NULL"
	} else {
		pw += " AND seq IS NULL"
	}
	q := "SELECT " + auditColumns + " FROM (SELECT * FROM (SELECT pos, " + auditColumns + " FROM audit_log" + pw +
		" ORDER BY pos DESC LIMIT ?) UNION ALL SELECT * FROM (SELECT pos, " + auditColumns + " FROM audit_log" +
		where + " ORDER BY seq DESC LIMIT ?)) ORDER BY seq IS NULL DESC, seq DESC, pos DESC LIMIT ?"
	all := append(append(append(pargs, n), args...), n, n)
	return q, all
}

func (q queries) ListAudit(ctx context.Context, f steward.AuditFilter) ([]*steward.AuditEntry, error) {
	query, args := listAuditSQL(f)
	list, err := queryAll(ctx, q.db, scanAudit, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list audit: %w", err)
	}
	return list, nil
}

func (q queries) CountAudit(ctx context.Context, f steward.AuditFilter) (int64, error) {
	where, args := auditWhere(f, false)
	var n int64
	if err := q.db.QueryRowContext(ctx, "SELECT count(*) FROM audit_log"+where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count audit: %w", err)
	}
	return n, nil
}

// scanPage is how many entries ScanAudit reads in one query.
const scanPage = 500

// ScanAudit reads keyset pages of scanPage, each in its own short read, and
// calls fn between them. However slowly fn consumes entries (an export
// written to a client that stopped reading), no read transaction stays open
// meanwhile: an open one would hold a reader connection and stop every
// checkpoint from resetting the WAL, which then grows with every write. The
// scan ends at the head of the chain as it was when the scan began.
func (q queries) ScanAudit(ctx context.Context, f steward.AuditFilter, fn func(*steward.AuditEntry) error) error {
	var head int64
	if err := q.db.QueryRowContext(ctx, "SELECT coalesce(max(seq), 0) FROM audit_log").Scan(&head); err != nil {
		return fmt.Errorf("sqlite: scan audit: %w", err)
	}
	where, args := auditWhere(f, false)
	if where == "" {
		where = " WHERE seq > ? AND seq <= ?"
	} else {
		where += " AND seq > ? AND seq <= ?"
	}
	query := "SELECT " + auditColumns + " FROM audit_log" + where + " ORDER BY seq LIMIT " + strconv.Itoa(scanPage)
	var after int64
	for after < head {
		page, err := queryAll(ctx, q.db, scanAudit, query, append(args, after, head)...)
		if err != nil {
			return fmt.Errorf("sqlite: scan audit: %w", err)
		}
		for _, e := range page {
			if err := fn(e); err != nil {
				return err
			}
		}
		if len(page) < scanPage {
			return nil
		}
		after = page[len(page)-1].Seq
	}
	return nil
}

// LockAuditHead needs no lock on SQLite: the transaction already holds the
// only writer, so it is the one sealer.
func (t *tx) LockAuditHead(ctx context.Context) (int64, string, error) {
	if t.auditHead != nil {
		return t.auditHead.seq, t.auditHead.hash, nil
	}
	var (
		seq  int64
		hash string
	)
	err := t.tx.QueryRowContext(ctx, auditHeadSQL).Scan(&seq, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, "", nil
	}
	if err != nil {
		return 0, "", fmt.Errorf("sqlite: audit head: %w", err)
	}
	return seq, hash, nil
}

// InsertAudit appends e; a pending row's pos is the next rowid.
func (t *tx) InsertAudit(ctx context.Context, e *steward.AuditEntry) error {
	var seq, prev, hash any
	if e.Seq != 0 {
		seq, prev, hash = e.Seq, e.PrevHash, e.Hash
	}
	_, err := t.tx.ExecContext(ctx, insertAuditSQL,
		seq, e.ID, micros(e.Time), e.ActorType, e.ActorID, e.ActorRole, e.ImpersonatorID, e.CredentialID,
		e.Action, e.TargetType, e.TargetID, e.TenantID, e.Reason, nullJSON(e.Changes), nullJSON(e.Metadata),
		e.IP, e.UserAgent, e.RequestID, prev, hash)
	if err != nil {
		return fmt.Errorf("sqlite: insert audit: %w", mapError(err))
	}
	if e.Seq != 0 {
		t.auditHead = &auditHead{seq: e.Seq, hash: e.Hash}
	}
	return nil
}

// SealableAudit: every pending row is sealable on SQLite. Writers commit
// one at a time, so a pending row either committed before this transaction
// began or is its own: no horizon to wait for.
func (t *tx) SealableAudit(ctx context.Context, limit int) ([]*steward.AuditEntry, error) {
	list, err := queryAll(ctx, t.tx, scanAudit, "SELECT "+auditColumns+
		" FROM audit_log WHERE seq IS NULL ORDER BY pos LIMIT ?", limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: sealable audit: %w", err)
	}
	return list, nil
}

// SealAudit writes the batch back, one prepared UPDATE per entry by its
// unique id: in process that costs microseconds each, where one UPDATE
// joined to a JSON array let the planner scan the log per element.
func (t *tx) SealAudit(ctx context.Context, entries []*steward.AuditEntry) error {
	if len(entries) == 0 {
		return nil
	}
	stmt, err := t.tx.PrepareContext(ctx, "UPDATE audit_log SET seq = ?, prev_hash = ?, hash = ? WHERE id = ? AND seq IS NULL")
	if err != nil {
		return fmt.Errorf("sqlite: seal audit: %w", err)
	}
	defer stmt.Close()
	for _, e := range entries {
		res, err := stmt.ExecContext(ctx, e.Seq, e.PrevHash, e.Hash, e.ID)
		if err != nil {
			return fmt.Errorf("sqlite: seal audit: %w", mapError(err))
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return fmt.Errorf("sqlite: seal audit: entry %s is not pending (%d rows, %v)", e.ID, n, err)
		}
	}
	last := entries[len(entries)-1]
	t.auditHead = &auditHead{seq: last.Seq, hash: last.Hash}
	return nil
}

// AuditPending counts through audit_pending. SQLite has no horizon: a
// pending entry waits only for the next pass.
func (q queries) AuditPending(ctx context.Context) (*store.AuditPending, error) {
	var p store.AuditPending
	var oldest sql.NullInt64
	err := q.db.QueryRowContext(ctx, "SELECT count(*), min(time) FROM audit_log WHERE seq IS NULL").Scan(&p.Count, &oldest)
	if err != nil {
		return nil, fmt.Errorf("sqlite: audit pending: %w", err)
	}
	if oldest.Valid {
		at := fromMicros(oldest.Int64)
		p.Oldest = &at
	}
	return &p, nil
}
