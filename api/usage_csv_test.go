package api_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
	"github.com/stewardhq/steward/internal/testdb"
)

// getAccept is GET path with an Accept header (none when accept is "").
func getAccept(t *testing.T, a *apptest.App, path, token, accept string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", a.Server.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := a.Server.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, raw
}

// recordUsageEvents records events (no credits, so no funds needed) for a
// tenant, at 11:00 on the app's first day.
func recordUsageEvents(t *testing.T, a *apptest.App, tid string, evs []steward.UsageEventInput) {
	t.Helper()
	a.EnsureTenant(t, tid)
	at := time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC)
	for i := range evs {
		evs[i].ID, evs[i].TenantID, evs[i].OccurredAt = fmt.Sprintf("csv-%d", i), tid, &at
	}
	res, err := a.Svc.Credits.RecordUsage(apptest.System(), &steward.UsageBatch{Events: evs})
	if err != nil || res.Recorded != len(evs) {
		t.Fatalf("RecordUsage: %+v, %v", res, err)
	}
}

// TestUsageReportCSV: by model, with the event without a model as "", the
// CSV answer has a header row and the JSON report's rows in its order, with
// the cost_micros sums; the file is named after the group and period.
func TestUsageReportCSV(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		_, sup := a.Operator(steward.RoleSupport)
		recordUsageEvents(t, a, "ten_csv", []steward.UsageEventInput{
			{Metric: "tokens", Model: "gpt-4o", Quantity: 100, CostMicros: 250},
			{Metric: "tokens", Model: "gpt-4o", Quantity: 50, CostMicros: 125},
			{Metric: "tokens", Model: "claude/sonnet", Quantity: 7, CostMicros: 9},
			{Metric: "requests", Quantity: 1, CostMicros: 4},
		})
		const path = "/api/v1/admin/usage?group_by=model&tenant_id=ten_csv"
		resp, raw := getAccept(t, a, path, sup, "")
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("JSON report: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), raw)
		}
		var rep steward.UsageReport
		if err := json.Unmarshal(raw, &rep); err != nil {
			t.Fatal(err)
		}
		byKey := map[string]steward.UsageRow{}
		for _, r := range rep.Data {
			byKey[r.Key] = r
		}
		if len(rep.Data) != 3 || byKey["gpt-4o"].CostMicros != 375 || byKey["gpt-4o"].Quantity != 150 ||
			byKey[""].CostMicros != 4 || byKey["claude/sonnet"].Events != 1 || rep.Totals.CostMicros != 388 || rep.Totals.Events != 4 {
			t.Fatalf("report by model: %s", raw)
		}

		resp, raw = getAccept(t, a, path, sup, "text/csv")
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" {
			t.Fatalf("CSV report: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), raw)
		}
		if got, want := resp.Header.Get("Content-Disposition"),
			`attachment; filename="usage-model-20260301T000000Z-20260302T000000Z.csv"`; got != want {
			t.Errorf("Content-Disposition = %s, want %s", got, want)
		}
		if resp.Header.Get("Vary") != "Accept" {
			t.Errorf("Vary = %q", resp.Header.Get("Vary"))
		}
		if !bytes.HasSuffix(raw, []byte("\r\n")) {
			t.Errorf("lines do not end in CRLF: %q", raw)
		}
		records, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
		if err != nil {
			t.Fatalf("parse CSV: %v\n%s", err, raw)
		}
		want := [][]string{{"model", "events", "quantity", "credits", "cost_micros"}}
		for _, r := range rep.Data {
			want = append(want, []string{r.Key, fmt.Sprint(r.Events), fmt.Sprint(r.Quantity), fmt.Sprint(r.Credits), fmt.Sprint(r.CostMicros)})
		}
		if !reflect.DeepEqual(records, want) {
			t.Errorf("CSV rows:\n%q\nwant\n%q", records, want)
		}

		// An error is the JSON error whatever the Accept.
		resp, raw = getAccept(t, a, "/api/v1/admin/usage?group_by=week", sup, "text/csv")
		if resp.StatusCode != 422 || resp.Header.Get("Content-Type") != "application/json" || !bytes.Contains(raw, []byte(`"group_by"`)) {
			t.Errorf("bad group_by with Accept text/csv: %d %s", resp.StatusCode, raw)
		}
	})
}

// TestUsageReportCSVFormulas: a key a spreadsheet would run as a formula
// (user ids are free text, trimmed) gets a leading apostrophe; others are as stored.
func TestUsageReportCSVFormulas(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		_, sup := a.Operator(steward.RoleSupport)
		users := []string{`=HYPERLINK("http://evil.example","x")`, "+1+1", "-2+3", "@SUM(A1:A9)", "usr_ok", "a=b"}
		evs := make([]steward.UsageEventInput, len(users))
		for i, u := range users {
			evs[i] = steward.UsageEventInput{UserID: u, Metric: "tokens", Quantity: steward.Credits(i + 1)}
		}
		recordUsageEvents(t, a, "ten_formula", evs)
		resp, raw := getAccept(t, a, "/api/v1/admin/usage?group_by=user&tenant_id=ten_formula", sup, "text/csv")
		if resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, raw)
		}
		records, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, r := range records[1:] {
			got[r[0]] = true
		}
		want := map[string]bool{`'=HYPERLINK("http://evil.example","x")`: true, "'+1+1": true, "'-2+3": true,
			"'@SUM(A1:A9)": true, "usr_ok": true, "a=b": true}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("keys %v, want %v", got, want)
		}
	})
}

// TestUsageReportNegotiation: CSV only when Accept ranks text/csv above
// application/json, each by its most specific matching range.
func TestUsageReportNegotiation(t *testing.T) {
	a := apptest.New(t, testdb.Backends(t)[0]) // negotiation does not depend on the store
	_, sup := a.Operator(steward.RoleSupport)
	for accept, csvWanted := range map[string]bool{
		"":                                    false,
		"*/*":                                 false,
		"application/json":                    false,
		"text/html":                           false,
		"application/json, text/csv":          false, // a tie keeps the default
		"text/csv":                            true,
		"text/*":                              true,
		"TEXT/CSV":                            true,
		"text/csv, application/json;q=0.9":    true,
		"application/json;q=0.5, text/csv":    true,
		"application/json, text/csv;q=0.5":    false,
		"*/*;q=1, text/csv;q=0.5":             false,
		"text/csv;q=0, */*":                   false,
		"text/csv;q=0.8, application/*;q=0.2": true,
	} {
		resp, raw := getAccept(t, a, "/api/v1/admin/usage", sup, accept)
		isCSV := resp.Header.Get("Content-Type") == "text/csv; charset=utf-8"
		if resp.StatusCode != 200 || isCSV != csvWanted {
			t.Errorf("Accept %q: %d %s, want CSV %v: %s", accept, resp.StatusCode, resp.Header.Get("Content-Type"), csvWanted, raw)
		}
	}
}
