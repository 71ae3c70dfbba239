package api

import (
	"encoding/csv"
	"net/http"
	"strconv"
	"strings"

	"github.com/munnerz/goautoneg"

	"github.com/stewardhq/steward"
)

// prefersCSV reports whether the request's Accept header ranks text/csv
// above application/json. Each type takes the q of the most specific range
// that matches it (RFC 9110, 12.5.1); a tie, no Accept header or neither
// acceptable keeps JSON, the default.
func prefersCSV(r *http.Request) bool {
	h := r.Header.Get("Accept")
	if h == "" {
		return false
	}
	clauses := goautoneg.ParseAccept(h)
	q := func(typ, sub string) float64 {
		best, rank := 0.0, -1
		for _, c := range clauses {
			n := -1
			switch {
			case strings.EqualFold(c.Type, typ) && strings.EqualFold(c.SubType, sub):
				n = 2
			case strings.EqualFold(c.Type, typ) && c.SubType == "*":
				n = 1
			case c.Type == "*" && c.SubType == "*":
				n = 0
			}
			if n > rank {
				best, rank = c.Q, n
			}
		}
		return best
	}
	return q("text", "csv") > q("application", "json")
}

// csvCell keeps a text cell from being read as a formula by a spreadsheet
// (CSV injection): a cell starting with =, +, -, @, a tab or a carriage
// return gets a leading apostrophe, which spreadsheets show as text.
func csvCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// usageCSVTime names a period bound in the file name.
const usageCSVTime = "20060102T150405Z"

// writeUsageCSV answers the report as RFC 4180 CSV: a header row (the
// group, then the sums), then one row per group in the report's order.
// Totals are left to the spreadsheet.
func writeUsageCSV(w http.ResponseWriter, rep *steward.UsageReport) error {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="usage-`+string(rep.GroupBy)+"-"+
		rep.Start.UTC().Format(usageCSVTime)+"-"+rep.End.UTC().Format(usageCSVTime)+`.csv"`)
	w.Header().Set("Vary", "Accept")
	w.WriteHeader(http.StatusOK)
	cw := csv.NewWriter(w)
	cw.UseCRLF = true // RFC 4180
	_ = cw.Write([]string{string(rep.GroupBy), "events", "quantity", "credits", "cost_micros"})
	for _, row := range rep.Data {
		_ = cw.Write([]string{csvCell(row.Key), strconv.FormatInt(row.Events, 10), strconv.FormatInt(row.Quantity, 10),
			strconv.FormatInt(row.Credits, 10), strconv.FormatInt(row.CostMicros, 10)})
	}
	cw.Flush()
	return cw.Error()
}
