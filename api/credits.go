package api

import (
	"net/http"

	"github.com/stewardhq/steward"
)

// ledgerAnswer renders a ledger write: 201 for a new transaction; 200 and
// Idempotent-Replayed when the ledger already held this Idempotency-Key's
// transaction (the key outlived the 24 h answer store, or another caller
// sent it).
func ledgerAnswer(w http.ResponseWriter, res *steward.LedgerResult, err error) error {
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if res.Replayed {
		status = http.StatusOK
		w.Header().Set("Idempotent-Replayed", "true")
	}
	writeJSON(w, status, res)
	return nil
}

func (s *server) grantCredits(w http.ResponseWriter, r *http.Request) error {
	var in steward.GrantInput
	if err := decode(r, &in, false); err != nil {
		return err
	}
	in.IdempotencyKey = r.Header.Get("Idempotency-Key")
	res, err := s.Credits.Grant(r.Context(), &in)
	return ledgerAnswer(w, res, err)
}

func (s *server) deductCredits(w http.ResponseWriter, r *http.Request) error {
	var in steward.DeductInput
	if err := decode(r, &in, false); err != nil {
		return err
	}
	in.IdempotencyKey = r.Header.Get("Idempotency-Key")
	res, err := s.Credits.Deduct(r.Context(), &in)
	return ledgerAnswer(w, res, err)
}

func (s *server) refundCredits(w http.ResponseWriter, r *http.Request) error {
	var in steward.RefundInput
	if err := decode(r, &in, false); err != nil {
		return err
	}
	in.IdempotencyKey = r.Header.Get("Idempotency-Key")
	res, err := s.Credits.Refund(r.Context(), &in)
	return ledgerAnswer(w, res, err)
}

func (s *server) adjustCredits(w http.ResponseWriter, r *http.Request) error {
	var in steward.AdjustInput
	if err := decode(r, &in, false); err != nil {
		return err
	}
	in.IdempotencyKey = r.Header.Get("Idempotency-Key")
	res, err := s.Credits.Adjust(r.Context(), &in)
	return ledgerAnswer(w, res, err)
}

func (s *server) creditBalance(w http.ResponseWriter, r *http.Request) error {
	b, err := s.Credits.Balance(r.Context(), r.PathValue("tenant_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, b)
	return nil
}

func (s *server) creditHistory(w http.ResponseWriter, r *http.Request) error {
	p, err := pageParams(r)
	if err != nil {
		return err
	}
	f := steward.LedgerFilter{TenantID: r.PathValue("tenant_id"), Kind: steward.LedgerKind(r.URL.Query().Get("kind"))}
	if f.Since, err = timeParam(r, "since"); err != nil {
		return err
	}
	if f.Until, err = timeParam(r, "until"); err != nil {
		return err
	}
	pg, err := s.Credits.History(r.Context(), f, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pg)
	return nil
}

// recordUsage answers 200 with per-event results whatever each event's
// outcome: one bad event never fails the others.
func (s *server) recordUsage(w http.ResponseWriter, r *http.Request) error {
	var in steward.UsageBatch
	if err := decode(r, &in, false); err != nil {
		return err
	}
	res, err := s.Credits.RecordUsage(r.Context(), &in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func (s *server) usageReport(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	in := steward.UsageReportInput{Period: q.Get("period"), GroupBy: steward.UsageGroup(q.Get("group_by")),
		TenantID: q.Get("tenant_id")}
	var err error
	if in.Start, err = timeParam(r, "start"); err != nil {
		return err
	}
	if in.End, err = timeParam(r, "end"); err != nil {
		return err
	}
	rep, err := s.Credits.UsageReport(r.Context(), &in)
	if err != nil {
		return err
	}
	if prefersCSV(r) {
		return writeUsageCSV(w, rep)
	}
	w.Header().Set("Vary", "Accept")
	writeJSON(w, http.StatusOK, rep)
	return nil
}
