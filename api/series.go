package api

import (
	"net/http"
	"strconv"

	"github.com/stewardhq/steward"
)

// dashboard is GET /admin/dashboard?days&tz: the Series service's daily
// series (its stats part is omitted until the stats are joined to it).
func (s *server) dashboard(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	days := 0
	if v := q.Get("days"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > steward.MaxDashboardDays {
			return steward.FieldError("days", "must be an integer between 1 and 365")
		}
		days = n
	}
	d, err := s.Series.Dashboard(r.Context(), days, q.Get("tz"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

// billing is GET /admin/billing?month.
func (s *server) billing(w http.ResponseWriter, r *http.Request) error {
	b, err := s.Series.Billing(r.Context(), r.URL.Query().Get("month"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, b)
	return nil
}
