package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/stewardhq/steward"
)

const auditColumns = "seq, id, time, actor_type, actor_id, actor_role, impersonator_id, credential_id, " +
	"action, target_type, target_id, tenant_id, reason, changes, metadata, ip, user_agent, request_id, " +
	"prev_hash, hash"

const (
	auditHeadSQL   = "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1"
	insertAuditSQL = "INSERT INTO audit_log (" + auditColumns + ") VALUES " +
		"(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)

func scanAudit(sc scanner) (*steward.AuditEntry, error) {
	var (
		e             steward.AuditEntry
		at            int64
		changes, meta []byte
	)
	err := sc.Scan(&e.Seq, &e.ID, &at, &e.ActorType, &e.ActorID, &e.ActorRole, &e.ImpersonatorID,
		&e.CredentialID, &e.Action, &e.TargetType, &e.TargetID, &e.TenantID, &e.Reason, &changes, &meta,
		&e.IP, &e.UserAgent, &e.RequestID, &e.PrevHash, &e.Hash)
	if err != nil {
		return nil, err
	}
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
	}
	return whereClause(where), args
}

func listAuditSQL(f steward.AuditFilter) (string, []any) {
	where, args := auditWhere(f, true)
	return "SELECT " + auditColumns + " FROM audit_log" + where + " ORDER BY seq DESC LIMIT ?",
		append(args, limit(f.Limit))
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
// only writer.
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

func (t *tx) InsertAudit(ctx context.Context, e *steward.AuditEntry) error {
	_, err := t.tx.ExecContext(ctx, insertAuditSQL,
		e.Seq, e.ID, micros(e.Time), e.ActorType, e.ActorID, e.ActorRole, e.ImpersonatorID, e.CredentialID,
		e.Action, e.TargetType, e.TargetID, e.TenantID, e.Reason, nullJSON(e.Changes), nullJSON(e.Metadata),
		e.IP, e.UserAgent, e.RequestID, e.PrevHash, e.Hash)
	if err != nil {
		return fmt.Errorf("sqlite: insert audit: %w", mapError(err))
	}
	t.auditHead = &auditHead{seq: e.Seq, hash: e.Hash}
	return nil
}
