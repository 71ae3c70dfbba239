package api

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/stewardhq/steward"
)

// auditFilter reads the audit-log filters; base pins some of them (a
// user's own log pins the target).
func auditFilter(r *http.Request, base *steward.AuditFilter) (steward.AuditFilter, error) {
	q := r.URL.Query()
	f := steward.AuditFilter{ActorID: q.Get("actor_id"), Action: q.Get("action"),
		TargetType: q.Get("target_type"), TargetID: q.Get("target_id"), TenantID: q.Get("tenant_id")}
	if base != nil {
		f.TargetType, f.TargetID = base.TargetType, base.TargetID
	}
	var err error
	if f.Since, err = timeParam(r, "since"); err != nil {
		return f, err
	}
	if f.Until, err = timeParam(r, "until"); err != nil {
		return f, err
	}
	return f, nil
}

func (s *server) listAudit(w http.ResponseWriter, r *http.Request) error {
	return s.auditPage(w, r, nil)
}

func (s *server) auditPage(w http.ResponseWriter, r *http.Request, base *steward.AuditFilter) error {
	p, err := listParams(r)
	if err != nil {
		return err
	}
	f, err := auditFilter(r, base)
	if err != nil {
		return err
	}
	pg, err := s.Audit.ListAudit(r.Context(), f, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pg)
	return nil
}

func (s *server) verifyAudit(w http.ResponseWriter, r *http.Request) error {
	res, err := s.Audit.VerifyAudit(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

var auditCSVHeader = []string{"id", "seq", "time", "actor_type", "actor_id", "actor_role",
	"impersonator_id", "credential_id", "action", "target_type", "target_id", "tenant_id",
	"reason", "changes", "metadata", "ip", "user_agent", "request_id", "prev_hash", "hash"}

// exportAudit streams entries oldest first. The status line goes out with
// the first chunk, so an error found before it (permission, bad format) is
// still a proper error answer. It runs in the long-read budget (see
// longRead): the store reads in short pages and holds nothing while a chunk
// is written, and each chunk must reach the client within the stall
// timeout, so a client that stops reading costs one budget slot for that
// long and no database connection at all.
func (s *server) exportAudit(w http.ResponseWriter, r *http.Request) error {
	f, err := auditFilter(r, nil)
	if err != nil {
		return err
	}
	format := r.URL.Query().Get("format")
	if format == "" {
		format = "ndjson"
	}
	sw := newStreamWriter(w, s.longReads.StallTimeout)
	started := false
	var cw *csv.Writer
	enc := json.NewEncoder(sw)
	enc.SetEscapeHTML(false)
	start := func() {
		started = true
		// What the export does not cover: entries committed but not yet
		// sealed when it began (docs/audit-log.md#sealing). Export implies
		// audit:read in every role; without it the header is left out.
		if p, err := s.Audit.AuditPending(r.Context()); err == nil {
			w.Header().Set("X-Steward-Audit-Pending", strconv.FormatInt(p.Count, 10))
		}
		if format == "csv" {
			w.Header().Set("Content-Type", "text/csv; charset=utf-8")
			w.Header().Set("Content-Disposition", `attachment; filename="audit-log.csv"`)
			cw = csv.NewWriter(sw)
			_ = cw.Write(auditCSVHeader)
		} else {
			w.Header().Set("Content-Type", "application/x-ndjson")
			w.Header().Set("Content-Disposition", `attachment; filename="audit-log.ndjson"`)
		}
		w.WriteHeader(http.StatusOK)
	}
	n := 0
	err = s.Audit.ExportAudit(r.Context(), f, format, func(e *steward.AuditEntry) error {
		if !started {
			start()
		}
		n++
		if cw != nil {
			// csv.Writer buffers 4 KiB itself and hands full buffers to sw.
			row := []string{e.ID, strconv.FormatInt(e.Seq, 10), e.Time.UTC().Format(steward.AuditTimeFormat),
				e.ActorType, e.ActorID, e.ActorRole, e.ImpersonatorID, e.CredentialID, e.Action,
				e.TargetType, e.TargetID, e.TenantID, e.Reason, string(e.Changes), string(e.Metadata),
				e.IP, e.UserAgent, e.RequestID, e.PrevHash, e.Hash}
			// Reasons and user agents are client text: no cell may become a
			// spreadsheet formula. NDJSON keeps the exact values.
			for i := range row {
				row[i] = csvCell(row[i])
			}
			if err := cw.Write(row); err != nil {
				return err
			}
			return sw.err
		}
		return enc.Encode(e)
	})
	if err != nil && !started {
		return err
	}
	if err == nil {
		if !started {
			start()
		}
		if cw != nil {
			cw.Flush()
		}
		err = sw.Flush()
	}
	s.streamEnded(r, "audit export", err, n)
	return nil
}

// streamEnded logs how a streamed export that had started ended, if not
// well. Too late for an error answer: the client sees a truncated stream.
// A client that stopped reading or hung up is its own business; a
// database failure is ours.
func (s *server) streamEnded(r *http.Request, what string, err error, rows int) {
	if err == nil {
		return
	}
	var ce *clientError
	if errors.As(err, &ce) || errors.Is(err, context.Canceled) {
		s.log.InfoContext(r.Context(), what+" cut off by its client", "err", err, "rows", rows,
			"request_id", requestID(r.Context()))
		return
	}
	s.log.ErrorContext(r.Context(), what+" aborted", "err", err, "rows", rows,
		"request_id", requestID(r.Context()))
}
