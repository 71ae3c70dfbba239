package api

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"github.com/stewardhq/steward"
)

// The data admin (docs/data-admin.md): /api/v1/admin/data/*.

// DataAdmin is what the data admin endpoints need: the service and its
// export.
type DataAdmin interface {
	steward.DataAdminService
	steward.DataExporter
}

// filterParamRe is one filter of a list: filter[field][op].
var filterParamRe = regexp.MustCompile(`^filter\[([^\[\]]+)\]\[([^\[\]]+)\]$`)

// dataListQuery reads a list's filters, q, sort and paging. The filters
// are a deepObject parameter (openapi.json declares "filter" with style
// deepObject, and the central check lets filter[…] through on that
// declaration); everything else about them is checked here.
func dataListQuery(r *http.Request) (steward.DataListQuery, error) {
	var dq steward.DataListQuery
	q := r.URL.Query()
	dq.Q, dq.Sort = q.Get("q"), q.Get("sort")
	if q.Get("filter") != "" {
		return dq, badRequest("filter takes the form filter[field][op]=value", map[string]any{"filter": "must be filter[field][op]=value"})
	}
	for name, vals := range q {
		if !strings.HasPrefix(name, "filter[") {
			continue
		}
		m := filterParamRe.FindStringSubmatch(name)
		if m == nil {
			return dq, badRequest("filter takes the form filter[field][op]=value", map[string]any{name: "must be filter[field][op]=value"})
		}
		if len(vals) > 1 {
			return dq, badRequest(name+" is given more than once; give it once (in takes a comma-separated list)",
				map[string]any{name: "given more than once; give it once"})
		}
		dq.Filters = append(dq.Filters, steward.DataFilter{Field: m[1], Op: m[2], Value: vals[0]})
	}
	// The same filters build the same statement, whatever their order.
	sort.Slice(dq.Filters, func(i, j int) bool {
		return dq.Filters[i].Field+"\x00"+dq.Filters[i].Op < dq.Filters[j].Field+"\x00"+dq.Filters[j].Op
	})
	return dq, nil
}

// dataKey is the {pk} segment as the client escaped it: a composite key's
// parts are separated by ',' and each part is percent-escaped, so the
// segment must be read before the router unescapes it (an escaped ',' is
// part of a value).
func dataKey(r *http.Request) string {
	segs := strings.Split(r.URL.EscapedPath(), "/")
	if len(segs) < 7 {
		return ""
	}
	return segs[6] // "", api, v1, admin, data, {table}, {pk}
}

// etagHeader quotes an ETag for the header; ifMatch reads one back
// (strong or weak, quoted or not: the version is the same).
func etagHeader(tag string) string { return `"` + tag + `"` }

func ifMatch(r *http.Request) string {
	v := strings.TrimSpace(r.Header.Get("If-Match"))
	if v == "*" {
		return ""
	}
	v = strings.TrimPrefix(v, "W/")
	return strings.Trim(v, `"`)
}

func (s *server) dataSchema(w http.ResponseWriter, r *http.Request) error {
	v, err := s.Data.DataSchema(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *server) reloadData(w http.ResponseWriter, r *http.Request) error {
	if err := decode(r, &struct{}{}, true); err != nil {
		return err
	}
	v, err := s.Data.ReloadData(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *server) listData(w http.ResponseWriter, r *http.Request) error {
	dq, err := dataListQuery(r)
	if err != nil {
		return err
	}
	if dq.ListParams, err = pageParams(r); err != nil {
		return err
	}
	pg, err := s.Data.ListRows(r.Context(), r.PathValue("table"), dq)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pg)
	return nil
}

// dataRecord answers one row, its version in the ETag header too.
func dataRecord(w http.ResponseWriter, status int, rec *steward.DataRecord) {
	w.Header().Set("ETag", etagHeader(rec.ETag))
	writeJSON(w, status, rec)
}

func (s *server) getData(w http.ResponseWriter, r *http.Request) error {
	rec, err := s.Data.GetRow(r.Context(), r.PathValue("table"), dataKey(r))
	if err != nil {
		return err
	}
	dataRecord(w, http.StatusOK, rec)
	return nil
}

func (s *server) insertData(w http.ResponseWriter, r *http.Request) error {
	var values map[string]json.RawMessage
	if err := decode(r, &values, false); err != nil {
		return err
	}
	rec, err := s.Data.InsertRow(r.Context(), r.PathValue("table"), values)
	if err != nil {
		return err
	}
	dataRecord(w, http.StatusCreated, rec)
	return nil
}

func (s *server) updateData(w http.ResponseWriter, r *http.Request) error {
	var values map[string]json.RawMessage
	if err := decode(r, &values, false); err != nil {
		return err
	}
	rec, err := s.Data.UpdateRow(r.Context(), r.PathValue("table"), dataKey(r), ifMatch(r), values)
	if err != nil {
		return err
	}
	dataRecord(w, http.StatusOK, rec)
	return nil
}

func (s *server) deleteData(w http.ResponseWriter, r *http.Request) error {
	key := dataKey(r)
	if err := s.Data.DeleteRow(r.Context(), r.PathValue("table"), key, ifMatch(r)); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"table": r.PathValue("table"), "key": key, "deleted": true})
	return nil
}

// exportData streams a table's rows as NDJSON or CSV, page by page.
func (s *server) exportData(w http.ResponseWriter, r *http.Request) error {
	dq, err := dataListQuery(r)
	if err != nil {
		return err
	}
	format := r.URL.Query().Get("format")
	if format == "" {
		format = "ndjson"
	}
	table := r.PathValue("table")
	sw := newStreamWriter(w, s.longReads.StallTimeout)
	var cw *csv.Writer
	var fields []string
	enc := json.NewEncoder(sw)
	enc.SetEscapeHTML(false)
	started, n := false, 0
	head := func(f []string) error {
		started, fields = true, f
		name := url.PathEscape(table) + "." + format
		if format == "csv" {
			w.Header().Set("Content-Type", "text/csv; charset=utf-8")
			cw = csv.NewWriter(sw)
		} else {
			w.Header().Set("Content-Type", "application/x-ndjson")
		}
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
		w.WriteHeader(http.StatusOK)
		if cw != nil {
			return cw.Write(fields)
		}
		return nil
	}
	err = s.Data.ExportRows(r.Context(), table, dq, format, head, func(row steward.DataRow) error {
		n++
		if cw == nil {
			return enc.Encode(row)
		}
		rec := make([]string, len(fields))
		for i, f := range fields {
			rec[i] = csvCell(csvValue(row[f]))
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
		return sw.err
	})
	if err != nil && !started {
		return err
	}
	if err == nil {
		if cw != nil {
			cw.Flush()
		}
		err = sw.Flush()
	}
	s.streamEnded(r, "data export", err, n)
	return nil
}

// csvValue is a JSON value as one CSV cell: text as is, null empty,
// anything else as its JSON.
func csvValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	}
	b, _ := json.Marshal(v)
	return string(b)
}
