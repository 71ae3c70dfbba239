package api_test

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
	"github.com/stewardhq/steward/internal/datatest"
	"github.com/stewardhq/steward/service"
	"github.com/stewardhq/steward/store"
	"github.com/stewardhq/steward/store/datatables"
)

const dataBase = "/api/v1/admin/data/"

// The data admin's codes, for checkCommon.
func init() {
	for code, status := range map[string]int{steward.CodeModelNotFound: 404, steward.CodeUnsupportedFilterOp: 400,
		steward.CodeFieldRedacted: 422, steward.CodeFieldReadOnly: 422, steward.CodeDeleteDenied: 403,
		steward.CodePreconditionFailed: 412} {
		codeStatus[code] = status
	}
}

// withData exposes datatest's tables in Steward's own database; mod may
// change them.
func withData(mod func([]*datatables.Table)) apptest.Options {
	return apptest.Options{Service: func(c *service.Config) { c.DataLoader = datatest.Loader(mod) }}
}

// dataOps are one operator token per role.
type dataOps struct{ support, admin, owner string }

func newDataOps(t *testing.T, a *apptest.App) dataOps {
	tok := func(r steward.Role) string { return svcLogin(t, a, createUser(t, a, r).Email) }
	return dataOps{tok(steward.RoleSupport), tok(steward.RoleAdmin), tok(steward.RoleOwner)}
}

// order is a full orders row (every column type), unique by n.
func order(n int) M {
	day := n%28 + 1
	if n <= 28 {
		day = n
	}
	return M{"email": fmt.Sprintf("o%d@example.com", n), "note": fmt.Sprintf("note %d", n), "total": fmt.Sprintf("%d.50", n),
		"ratio": float64(n) / 4, "paid": n%2 == 0, "created_at": fmt.Sprintf("2026-01-%02dT10:00:00Z", day),
		"ship_on": fmt.Sprintf("2026-02-%02d", day), "ref": fmt.Sprintf("00000000-0000-4000-8000-%012d", n),
		"meta": M{"n": float64(n)}, "doc": "aGVsbG8=", "small": float64(n % 1000), "qty": float64(n)}
}

func insertOrder(f *fix, tok string, body M) string {
	f.t.Helper()
	r := f.must(201, "POST", dataBase+"orders", tok, body)
	return fmt.Sprint(int64(num(r, "row.id")))
}

func ids(f *fix, r *apptest.Response) []string {
	f.t.Helper()
	var out []string
	data, _ := r.Get("data").([]any)
	for _, row := range data {
		out = append(out, fmt.Sprint(int64(row.(map[string]any)["id"].(float64))))
	}
	return out
}

func TestDataRowsRoundTrip(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		f, ops := newFix(t, a), newDataOps(t, a)
		in := order(3)
		r := f.must(201, "POST", dataBase+"orders", ops.admin, in)
		row, _ := r.Get("row").(map[string]any)
		for k, v := range in {
			got, _ := json.Marshal(row[k])
			want, _ := json.Marshal(v)
			switch {
			case k == "created_at":
				want = []byte(`"2026-01-03T10:00:00Z"`)
			case k == "total" && a.Backend.Name == "sqlite":
				// SQLite's NUMERIC affinity keeps 3.50 as the REAL 3.5
				// (docs/data-admin.md).
				want = []byte(`"3.5"`)
			}
			if string(got) != string(want) {
				t.Errorf("%s: got %s, want %s", k, got, want)
			}
		}
		if _, ok := row["password_hash"]; ok {
			t.Error("a redacted field is in the answer")
		}
		etag := str(r, "etag")
		if r.Header.Get("ETag") != `"`+etag+`"` || etag == "" {
			t.Errorf("ETag header %q, etag %q", r.Header.Get("ETag"), etag)
		}
		id := fmt.Sprint(int64(num(r, "row.id")))
		g := f.must(200, "GET", dataBase+"orders/"+id, ops.support, nil)
		if str(g, "etag") != etag || str(g, "row.email") != "o3@example.com" {
			t.Errorf("GET: %s", g.Raw)
		}
		// PATCH with the current version, then with the stale one.
		p := f.do("PATCH", dataBase+"orders/"+id, ops.admin, M{"note": nil, "paid": true}, map[string]string{"If-Match": `"` + etag + `"`})
		if p.Status != 200 || p.Get("row.note") != nil || p.Get("row.paid") != true || str(p, "etag") == etag {
			t.Fatalf("PATCH: %d %s", p.Status, p.Raw)
		}
		stale := f.do("PATCH", dataBase+"orders/"+id, ops.admin, M{"note": "x"}, map[string]string{"If-Match": `"` + etag + `"`})
		f.expectErr(stale, 412, steward.CodePreconditionFailed)
		if stale.Get("details.etag") != str(p, "etag") {
			t.Errorf("412 does not carry the current etag: %s", stale.Raw)
		}
		f.expectErr(f.do("DELETE", dataBase+"orders/"+id, ops.owner, nil, map[string]string{"If-Match": etag}), 412, steward.CodePreconditionFailed)
		f.expectErr(f.do("DELETE", dataBase+"orders/"+id, ops.admin, nil), 403, steward.CodeInsufficientRole)
		f.must(200, "DELETE", dataBase+"orders/"+id, ops.owner, nil)
		f.expectErr(f.do("GET", dataBase+"orders/"+id, ops.support, nil), 404, steward.CodeNotFound)
		f.expectErr(f.do("PATCH", dataBase+"orders/"+id, ops.admin, M{"note": "x"}), 404, steward.CodeNotFound)
		f.expectErr(f.do("DELETE", dataBase+"orders/"+id, ops.owner, nil), 404, steward.CodeNotFound)
		// Defaults: fields left out get the column's default.
		d := f.must(201, "POST", dataBase+"orders", ops.admin, M{"email": "d@example.com", "created_at": "2026-01-01T00:00:00Z"})
		if d.Get("row.paid") != false || d.Get("row.note") != nil {
			t.Errorf("defaults: %s", d.Raw)
		}
	}, withData(nil))
}

func TestDataCompositeKey(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		f, ops := newFix(t, a), newDataOps(t, a)
		ref := "A,b/c %é"
		f.must(201, "POST", dataBase+"line_items", ops.admin, M{"order_ref": ref, "line": 2, "sku": "S1"})
		f.must(201, "POST", dataBase+"line_items", ops.admin, M{"order_ref": "A", "line": 2, "sku": "S2"})
		key := url.PathEscape(ref) + ",2"
		r := f.must(200, "GET", dataBase+"line_items/"+key, ops.support, nil)
		if str(r, "row.sku") != "S1" {
			t.Fatalf("%s", r.Raw)
		}
		p := f.must(200, "PATCH", dataBase+"line_items/"+key, ops.admin, M{"sku": "S9"})
		if str(p, "row.sku") != "S9" {
			t.Fatalf("%s", p.Raw)
		}
		f.expectErr(f.do("PATCH", dataBase+"line_items/"+key, ops.admin, M{"line": 3}), 422, steward.CodeFieldReadOnly)
		for _, bad := range []string{"A", "A,2,3", "A,x", "A,", ",2"} {
			f.expectErr(f.do("GET", dataBase+"line_items/"+bad, ops.support, nil), 404, steward.CodeNotFound)
		}
		f.expectErr(f.do("DELETE", dataBase+"line_items/"+key, ops.owner, nil), 403, steward.CodeDeleteDenied)
		// The audit entry names the row by its canonical path key.
		pg, err := a.Svc.Audit.ListAudit(apptest.System(), steward.AuditFilter{Action: "data.update"}, steward.ListParams{})
		f.ok(err)
		if len(pg.Data) != 1 || pg.Data[0].TargetID != "A%2Cb%2Fc%20%25%C3%A9,2" || pg.Data[0].TargetType != "data:line_items" {
			t.Fatalf("audit: %+v", pg.Data)
		}
	}, withData(nil))
}

func TestDataFilters(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		f, ops := newFix(t, a), newDataOps(t, a)
		for n := 1; n <= 5; n++ {
			body := order(n)
			if n == 5 { // every nullable field null
				for _, k := range []string{"note", "total", "ratio", "ship_on", "ref", "meta", "doc", "small", "qty"} {
					body[k] = nil
				}
			}
			insertOrder(f, ops.admin, body)
		}
		cases := []struct{ filter, want string }{
			{"filter[email][eq]=o2@example.com", "2"},
			{"filter[email][ne]=o2@example.com", "1,3,4,5"},
			{"filter[email][lt]=o3@example.com", "1,2"},
			{"filter[email][lte]=o3@example.com", "1,2,3"},
			{"filter[email][gt]=o3@example.com", "4,5"},
			{"filter[email][gte]=o3@example.com", "3,4,5"},
			{"filter[email][contains]=O4@EXAMPLE", "4"},
			{"filter[email][in]=o1@example.com,o5@example.com", "1,5"},
			{"filter[note][is_null]=true", "5"},
			{"filter[note][is_null]=false", "1,2,3,4"},
			{"filter[note][contains]=%25", ""}, // a literal %, not a wildcard
			{"filter[note][contains]=_", ""},
			{"filter[id][eq]=3", "3"},
			{"filter[id][ne]=3", "1,2,4,5"},
			{"filter[id][lt]=3", "1,2"},
			{"filter[id][lte]=3", "1,2,3"},
			{"filter[id][gt]=3", "4,5"},
			{"filter[id][gte]=3", "3,4,5"},
			{"filter[id][in]=2,4", "2,4"},
			{"filter[small][gt]=2", "3,4"},
			{"filter[small][is_null]=true", "5"},
			{"filter[total][eq]=2.50", "2"},
			{"filter[total][gte]=3.5", "3,4"},
			{"filter[total][in]=1.50,4.50", "1,4"},
			{"filter[ratio][lt]=0.6", "1,2"},
			{"filter[ratio][ne]=0.5", "1,3,4"},
			{"filter[paid][eq]=true", "2,4"},
			{"filter[paid][ne]=true", "1,3,5"},
			{"filter[paid][is_null]=false", "1,2,3,4,5"},
			{"filter[created_at][gt]=2026-01-03T10:00:00Z", "4,5"},
			{"filter[created_at][lte]=2026-01-02T12:00:00%2B02:00", "1,2"},
			{"filter[created_at][eq]=2026-01-04T10:00:00Z", "4"},
			{"filter[created_at][in]=2026-01-01T10:00:00Z,2026-01-05T10:00:00Z", "1,5"},
			{"filter[ship_on][lt]=2026-02-03", "1,2"},
			{"filter[ship_on][eq]=2026-02-04", "4"},
			{"filter[ship_on][is_null]=true", "5"},
			{"filter[ref][eq]=00000000-0000-4000-8000-000000000002", "2"},
			{"filter[ref][in]=00000000-0000-4000-8000-000000000001,00000000-0000-4000-8000-000000000003", "1,3"},
			{"filter[ref][ne]=00000000-0000-4000-8000-000000000002", "1,3,4"},
			{"filter[meta][is_null]=true", "5"},
			{"filter[doc][is_null]=false", "1,2,3,4"},
			{"filter[id][gte]=2&filter[paid][eq]=false", "3,5"},
			{"q=O3@", "3"},
			{"q=note", "1,2,3,4"},
			{"q=note&filter[id][gt]=2", "3,4"},
		}
		for _, c := range cases {
			r := f.must(200, "GET", dataBase+"orders?sort=id&"+c.filter, ops.support, nil)
			if got := strings.Join(ids(f, r), ","); got != c.want {
				t.Errorf("%s: got [%s], want [%s]", c.filter, got, c.want)
			}
		}
		// Every op a type does not take is refused, listing those it does.
		for _, c := range []string{"filter[paid][lt]=true", "filter[meta][eq]=1", "filter[doc][contains]=a", "filter[id][contains]=1",
			"filter[ref][gt]=00000000-0000-4000-8000-000000000002", "filter[id][like]=1"} {
			r := f.do("GET", dataBase+"orders?"+c, ops.support, nil)
			f.expectErr(r, 400, steward.CodeUnsupportedFilterOp)
			if ops, _ := r.Get("details.ops").([]any); len(ops) == 0 {
				t.Errorf("%s: no ops listed: %s", c, r.Raw)
			}
		}
		for _, c := range []struct{ q, field string }{
			{"filter[id][eq]=x", "filter[id][eq]"}, {"filter[id][eq]=9223372036854775808", "filter[id][eq]"},
			{"filter[created_at][gt]=yesterday", "filter[created_at][gt]"}, {"filter[ship_on][eq]=2026-13-01", "filter[ship_on][eq]"},
			{"filter[total][eq]=1e3", "filter[total][eq]"}, {"filter[paid][eq]=1", "filter[paid][eq]"},
			{"filter[nope][eq]=1", "filter[nope][eq]"}, {"sort=nope", "sort"}, {"sort=meta", "sort"},
		} {
			r := f.do("GET", dataBase+"orders?"+c.q, ops.support, nil)
			f.expectErr(r, 422, steward.CodeValidation)
			if r.Get("details.fields."+c.field) == nil && !strings.Contains(string(r.Raw), c.field) {
				t.Errorf("%s does not name %s: %s", c.q, c.field, r.Raw)
			}
		}
		f.expectErr(f.do("GET", dataBase+"orders?filter=x", ops.support, nil), 400, steward.CodeBadRequest)
		f.expectErr(f.do("GET", dataBase+"orders?filter[id]=1", ops.support, nil), 400, steward.CodeBadRequest)
		f.expectErr(f.do("GET", dataBase+"orders?filter[id][eq]=1&filter[id][eq]=2", ops.support, nil), 400, steward.CodeBadRequest)
		f.expectErr(f.do("GET", dataBase+"orders?search=x", ops.support, nil), 400, steward.CodeBadRequest)
		f.expectErr(f.do("GET", dataBase+"orders?filter[email][eq]=a%00b", ops.support, nil), 422, steward.CodeValidation)
		f.expectErr(f.do("GET", dataBase+"orders?q=a&cursor=zzz", ops.support, nil), 400, steward.CodeBadRequest)
		f.expectErr(f.do("GET", dataBase+"events?q=a", ops.support, nil), 422, steward.CodeValidation)
	}, withData(nil))
}

func TestDataSortAndPaging(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		f, ops := newFix(t, a), newDataOps(t, a)
		// notes with ties and NULLs: the key breaks ties, NULLs come first
		// ascending and last descending on both stores.
		notes := []any{"b", nil, "a", "b", nil, "c", "a"}
		for i, n := range notes {
			body := order(i + 1)
			body["note"] = n
			insertOrder(f, ops.admin, body)
		}
		want := map[string]string{
			"note":        "2,5,3,7,1,4,6",
			"-note":       "6,4,1,7,3,5,2",
			"id":          "1,2,3,4,5,6,7",
			"-created_at": "7,6,5,4,3,2,1",
			"":            "7,6,5,4,3,2,1", // default sort: -created_at
			"paid":        "1,3,5,7,2,4,6",
		}
		for sort, w := range want {
			var got []string
			cursor := ""
			for page := 0; page < 10; page++ {
				q := "?limit=2&sort=" + url.QueryEscape(sort)
				if sort == "" {
					q = "?limit=2"
				}
				if cursor != "" {
					q += "&cursor=" + cursor
				}
				r := f.must(200, "GET", dataBase+"orders"+q, ops.support, nil)
				got = append(got, ids(f, r)...)
				if r.Get("has_more") != true {
					if r.Get("next_cursor") != nil {
						t.Errorf("last page has a cursor")
					}
					break
				}
				cursor = url.QueryEscape(str(r, "next_cursor"))
			}
			if strings.Join(got, ",") != w {
				t.Errorf("sort %q: got %s, want %s", sort, strings.Join(got, ","), w)
			}
		}
		// A cursor is bound to the sort it was made for.
		r := f.must(200, "GET", dataBase+"orders?limit=2&sort=note", ops.support, nil)
		f.expectErr(f.do("GET", dataBase+"orders?sort=-note&cursor="+url.QueryEscape(str(r, "next_cursor")), ops.support, nil), 400, steward.CodeBadRequest)
		f.expectErr(f.do("GET", dataBase+"orders?limit=201", ops.support, nil), 400, steward.CodeBadRequest)
	}, withData(nil))
}

func TestDataErrorsAndGates(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		f, ops := newFix(t, a), newDataOps(t, a)
		id := insertOrder(f, ops.admin, order(1))
		f.expectErr(f.do("GET", dataBase+"nope", ops.support, nil), 404, steward.CodeModelNotFound)
		f.expectErr(f.do("GET", dataBase+"nope/1", ops.support, nil), 404, steward.CodeModelNotFound)
		f.expectErr(f.do("POST", dataBase+"nope", ops.admin, M{}), 404, steward.CodeModelNotFound)
		// Redacted: never filtered on, sorted by or written.
		f.expectErr(f.do("GET", dataBase+"orders?filter[password_hash][eq]=x", ops.support, nil), 422, steward.CodeFieldRedacted)
		f.expectErr(f.do("GET", dataBase+"orders?sort=-internal_note", ops.support, nil), 422, steward.CodeFieldRedacted)
		r := f.do("POST", dataBase+"orders", ops.admin, M{"email": "r@example.com", "created_at": "2026-01-01T00:00:00Z", "password_hash": "x"})
		f.expectErr(r, 422, steward.CodeFieldRedacted)
		if r.Get("details.field") != "password_hash" {
			t.Errorf("%s", r.Raw)
		}
		f.expectErr(f.do("PATCH", dataBase+"orders/"+id, ops.admin, M{"internal_note": "x"}), 422, steward.CodeFieldRedacted)
		// Read-only fields: deny_edit and the key on update.
		r = f.do("PATCH", dataBase+"orders/"+id, ops.admin, M{"customer": "x"})
		f.expectErr(r, 422, steward.CodeFieldReadOnly)
		if r.Get("details.field") != "customer" {
			t.Errorf("%s", r.Raw)
		}
		f.expectErr(f.do("PATCH", dataBase+"orders/"+id, ops.admin, M{"id": 9}), 422, steward.CodeFieldReadOnly)
		// Values are checked before the database, each bad one named.
		r = f.do("POST", dataBase+"orders", ops.admin, M{"email": 5, "created_at": "1969-01-01T00:00:00Z", "small": 70000,
			"total": 1.5, "ref": "x", "doc": "!", "meta": "{", "nope": 1, "paid": "yes", "note": 1})
		f.expectErr(r, 422, steward.CodeValidation)
		for _, k := range []string{"email", "created_at", "total", "ref", "doc", "nope", "paid", "note"} {
			if r.Get("details.fields."+k) == nil {
				t.Errorf("%s not named: %s", k, r.Raw)
			}
		}
		if a.Backend.Name == "postgres" && r.Get("details.fields.small") == nil {
			t.Errorf("smallint range not checked: %s", r.Raw)
		}
		f.expectErr(f.do("PATCH", dataBase+"orders/"+id, ops.admin, M{}), 422, steward.CodeValidation)
		r = f.do("PATCH", dataBase+"orders/"+id, ops.admin, M{"note": "a\u0000", "meta": M{"k": "\u0007"}})
		f.expectErr(r, 422, steward.CodeValidation)
		if r.Get("details.fields.note") == nil {
			t.Errorf("NUL in text: %s", r.Raw)
		}
		// What only the database knows: unique, not null, check.
		r = f.do("POST", dataBase+"orders", ops.admin, M{"email": "o1@example.com", "created_at": "2026-01-01T00:00:00Z"})
		f.expectErr(r, 409, steward.CodeAlreadyExists)
		if r.Get("details.fields.email") == nil {
			t.Errorf("duplicate does not name email: %s", r.Raw)
		}
		r = f.do("POST", dataBase+"orders", ops.admin, M{"email": "nn@example.com"})
		f.expectErr(r, 422, steward.CodeValidation)
		if r.Get("details.fields.created_at") == nil {
			t.Errorf("not null does not name created_at: %s", r.Raw)
		}
		f.expectErr(f.do("PATCH", dataBase+"orders/"+id, ops.admin, M{"qty": -1}), 422, steward.CodeValidation)
		// Read-only table: INVALID_STATE with the reason.
		r = f.do("POST", dataBase+"events", ops.owner, M{"kind": "x", "at": "2026-01-01T00:00:00Z"})
		f.expectErr(r, 409, steward.CodeInvalidState)
		if !strings.Contains(str(r, "details.reason"), "primary key") {
			t.Errorf("%s", r.Raw)
		}
		f.must(200, "GET", dataBase+"events", ops.support, nil)
		// Role gates: support reads, admin inserts and updates, owner deletes.
		f.expectErr(f.do("POST", dataBase+"orders", ops.support, order(7)), 403, steward.CodeForbidden)
		f.expectErr(f.do("PATCH", dataBase+"orders/"+id, ops.support, M{"note": "x"}), 403, steward.CodeForbidden)
		f.expectErr(f.do("DELETE", dataBase+"orders/"+id, ops.admin, nil), 403, steward.CodeInsufficientRole)
		f.expectErr(f.do("POST", dataBase+"reload", ops.admin, nil), 403, steward.CodeForbidden)
	}, withData(nil))
}

// TestDataRoleOverrides: a table's roles move each gate up or down (to
// admin at least for a write, which needs data:write).
func TestDataRoleOverrides(t *testing.T) {
	mod := func(ts []*datatables.Table) {
		ts[0].Roles = steward.DataRoles{Read: steward.RoleAdmin, Insert: steward.RoleOwner, Update: steward.RoleOwner, Delete: steward.RoleAdmin}
	}
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		f, ops := newFix(t, a), newDataOps(t, a)
		f.expectErr(f.do("GET", dataBase+"orders", ops.support, nil), 403, steward.CodeInsufficientRole)
		f.expectErr(f.do("POST", dataBase+"orders", ops.admin, order(1)), 403, steward.CodeInsufficientRole)
		id := insertOrder(f, ops.owner, order(1))
		f.expectErr(f.do("PATCH", dataBase+"orders/"+id, ops.admin, M{"note": "x"}), 403, steward.CodeInsufficientRole)
		f.must(200, "GET", dataBase+"orders/"+id, ops.admin, nil)
		// Support does not see the table in the schema at all.
		s := f.must(200, "GET", dataBase+"schema", ops.support, nil)
		for _, tb := range s.Get("tables").([]any) {
			if tb.(map[string]any)["name"] == "orders" {
				t.Error("support sees orders")
			}
		}
		f.must(200, "DELETE", dataBase+"orders/"+id, ops.admin, nil)
	}, withData(mod))
}

func TestDataSchemaDocument(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		f, ops := newFix(t, a), newDataOps(t, a)
		allowed := func(tok, table string) string {
			r := f.must(200, "GET", dataBase+"schema", tok, nil)
			for _, tb := range r.Get("tables").([]any) {
				m := tb.(map[string]any)
				if m["name"] != table {
					continue
				}
				al := m["allowed"].(map[string]any)
				var out []string
				for _, k := range []string{"read", "insert", "update", "delete"} {
					if al[k] == true {
						out = append(out, k)
					}
				}
				return strings.Join(out, ",")
			}
			return "absent"
		}
		for _, c := range []struct{ tok, table, want string }{
			{ops.support, "orders", "read"}, {ops.admin, "orders", "read,insert,update"}, {ops.owner, "orders", "read,insert,update,delete"},
			{ops.owner, "line_items", "read,insert,update"}, {ops.owner, "events", "read"},
		} {
			if got := allowed(c.tok, c.table); got != c.want {
				t.Errorf("%s: got %s, want %s", c.table, got, c.want)
			}
		}
		r := f.must(200, "GET", dataBase+"schema", ops.support, nil)
		orders := r.Get("tables").([]any)[0].(map[string]any)
		for _, fl := range orders["fields"].([]any) {
			m := fl.(map[string]any)
			ops := m["filter_ops"].([]any)
			switch m["name"] {
			case "password_hash":
				if m["redacted"] != true || len(ops) != 0 {
					t.Errorf("password_hash: %v", m)
				}
			case "email":
				if len(ops) != 9 {
					t.Errorf("email ops: %v", ops)
				}
			case "paid":
				if fmt.Sprint(ops) != "[eq ne is_null]" {
					t.Errorf("paid ops: %v", ops)
				}
			}
		}
		if acts, ok := orders["actions"].([]any); !ok || len(acts) != 0 {
			t.Errorf("actions: %v", orders["actions"])
		}
		if str(r, "loaded_at") == "" {
			t.Error("no loaded_at")
		}
		// Reload: owner and up, audited.
		f.must(200, "POST", dataBase+"reload", ops.owner, nil)
		pg, err := a.Svc.Audit.ListAudit(apptest.System(), steward.AuditFilter{Action: "data.reload"}, steward.ListParams{})
		f.ok(err)
		if len(pg.Data) != 1 || !strings.Contains(string(pg.Data[0].Metadata), "line_items") {
			t.Errorf("reload audit: %+v", pg.Data)
		}
	}, withData(nil))
}

// TestDataAuditRedacted: each change is audited with the before and after
// of its changed visible fields only, in the same transaction.
func TestDataAuditRedacted(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		f, ops := newFix(t, a), newDataOps(t, a)
		// A redacted value set behind the data admin's back.
		id := insertOrder(f, ops.admin, order(1))
		a.Backend.Exec(t, a.Store, strings.ReplaceAll("UPDATE orders SET password_hash = 'secret-hash', internal_note = 'secret-note' WHERE id = ?",
			"?", map[string]string{"sqlite": "?", "postgres": "$1"}[a.Backend.Name]), 1)
		r := f.must(200, "GET", dataBase+"orders/"+id, ops.support, nil)
		list := f.must(200, "GET", dataBase+"orders", ops.support, nil)
		f.must(200, "PATCH", dataBase+"orders/"+id, ops.admin, M{"note": "changed", "paid": false})
		f.must(200, "DELETE", dataBase+"orders/"+id, ops.owner, nil)
		for _, b := range [][]byte{r.Raw, list.Raw} {
			if strings.Contains(string(b), "secret") || strings.Contains(string(b), "password_hash") {
				t.Errorf("redacted value in an answer: %s", b)
			}
		}
		pg, err := a.Svc.Audit.ListAudit(apptest.System(), steward.AuditFilter{TargetType: "data:orders"}, steward.ListParams{})
		f.ok(err)
		got := map[string]*steward.AuditEntry{}
		for _, e := range pg.Data {
			got[e.Action] = e
			if strings.Contains(string(e.Changes), "secret") || strings.Contains(string(e.Changes), "password_hash") {
				t.Errorf("%s: redacted in the audit: %s", e.Action, e.Changes)
			}
			if e.TargetID != id || !strings.Contains(string(e.Metadata), `"guarantee":"same_transaction"`) {
				t.Errorf("%s: %s %s", e.Action, e.TargetID, e.Metadata)
			}
		}
		var ch map[string]struct{ Before, After any }
		f.ok(json.Unmarshal(got["data.update"].Changes, &ch))
		if len(ch) != 1 || ch["note"].Before != "note 1" || ch["note"].After != "changed" {
			t.Errorf("update changes: %s", got["data.update"].Changes)
		}
		f.ok(json.Unmarshal(got["data.insert"].Changes, &ch))
		if ch["email"].Before != nil || ch["email"].After != "o1@example.com" {
			t.Errorf("insert changes: %s", got["data.insert"].Changes)
		}
		f.ok(json.Unmarshal(got["data.delete"].Changes, &ch))
		if ch["email"].Before != "o1@example.com" || ch["email"].After != nil {
			t.Errorf("delete changes: %s", got["data.delete"].Changes)
		}
		// A refused change writes no entry.
		before := len(pg.Data)
		f.expectErr(f.do("POST", dataBase+"orders", ops.admin, M{"email": "x@example.com"}), 422, steward.CodeValidation)
		pg, _ = a.Svc.Audit.ListAudit(apptest.System(), steward.AuditFilter{TargetType: "data:orders"}, steward.ListParams{})
		if len(pg.Data) != before {
			t.Errorf("a failed insert was audited")
		}
	}, withData(nil))
}

func TestDataExport(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		f, ops := newFix(t, a), newDataOps(t, a)
		for n := 1; n <= 3; n++ {
			insertOrder(f, ops.admin, order(n))
		}
		r := f.do("GET", dataBase+"orders/export?sort=id&filter[id][gte]=2", ops.support, nil)
		if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-ndjson") {
			t.Fatalf("%d %s", r.Status, r.Raw)
		}
		var got []string
		sc := bufio.NewScanner(strings.NewReader(string(r.Raw)))
		for sc.Scan() {
			var row map[string]any
			f.ok(json.Unmarshal(sc.Bytes(), &row))
			if _, ok := row["password_hash"]; ok {
				t.Error("redacted field exported")
			}
			got = append(got, fmt.Sprint(row["id"]))
		}
		if strings.Join(got, ",") != "2,3" {
			t.Errorf("ndjson rows %v", got)
		}
		c := f.do("GET", dataBase+"orders/export?format=csv&sort=-id", ops.support, nil)
		recs, err := csv.NewReader(strings.NewReader(string(c.Raw))).ReadAll()
		f.ok(err)
		if len(recs) != 4 || recs[1][0] != "3" || slices.Contains(recs[0], "internal_note") || !slices.Contains(recs[0], "email") {
			t.Errorf("csv: %v", recs)
		}
		f.expectErr(f.do("GET", dataBase+"orders/export?filter[password_hash][is_null]=true", ops.support, nil), 422, steward.CodeFieldRedacted)
		f.expectErr(f.do("GET", dataBase+"orders/export?format=xml", ops.support, nil), 422, steward.CodeValidation)
		pg, err := a.Svc.Audit.ListAudit(apptest.System(), steward.AuditFilter{Action: "data.export"}, steward.ListParams{})
		f.ok(err)
		if len(pg.Data) != 2 {
			t.Errorf("%d data.export entries, want 2", len(pg.Data))
		}
	}, withData(nil))
}

// TestDataExternalSource: a table in another database (a SQLite file, a
// PostgreSQL schema, its name schema-qualified) works the same, and its
// audit entry, in Steward's database, says what guarantee holds.
func TestDataExternalSource(t *testing.T) {
	var mu sync.Mutex
	exts := map[store.Store]*datatables.Table{} // Steward's store → the external orders table
	opt := apptest.Options{Service: func(c *service.Config) {
		c.DataLoader = func(ctx context.Context, own store.Store, _ datatables.Config) (*datatables.Catalog, error) {
			mu.Lock()
			defer mu.Unlock()
			if tb, ok := exts[own]; ok {
				return &datatables.Catalog{Tables: []*datatables.Table{tb}}, nil
			}
			return &datatables.Catalog{}, nil
		}
	}}
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		f, ops := newFix(t, a), newDataOps(t, a)
		var src0 *commitWatch
		ext := datatest.NewExternal(a.Backend.Open(t), "app")
		f.ok(datatest.Create(context.Background(), ext.St))
		schema := datatest.Schema(t, ext.St)
		// Just before the source commits, its change's audit entry is
		// already committed in Steward's database.
		src := &commitWatch{External: ext, beforeCommit: func() {
			pg, err := a.Svc.Audit.ListAudit(apptest.System(), steward.AuditFilter{TargetType: "data:orders"}, steward.ListParams{})
			f.ok(err)
			commits := int(src0.commits.Add(1))
			if len(pg.Data) != commits {
				t.Errorf("source commit %d: %d audit entries committed before it", commits, len(pg.Data))
			}
		}}
		src0 = src
		mu.Lock()
		exts[a.Store] = datatest.Tables(ext.Dialect(), src, schema)[0]
		mu.Unlock()
		f.must(200, "POST", dataBase+"reload", ops.owner, nil)

		id := insertOrder(f, ops.admin, order(1))
		f.must(200, "PATCH", dataBase+"orders/"+id, ops.admin, M{"note": "x"})
		r := f.must(200, "GET", dataBase+"orders?filter[note][eq]=x", ops.support, nil)
		if strings.Join(ids(f, r), ",") != id {
			t.Fatalf("%s", r.Raw)
		}
		f.expectErr(f.do("POST", dataBase+"orders", ops.admin, M{"email": "o1@example.com", "created_at": "2026-01-01T00:00:00Z"}),
			409, steward.CodeAlreadyExists)
		// The row is in the external database, not Steward's.
		_, rows, err := ext.St.Raw().QueryRaw(context.Background(), "SELECT note FROM orders")
		f.ok(err)
		if len(rows) != 1 || rows[0][0] != "x" {
			t.Fatalf("external rows %v", rows)
		}
		_, rows, err = a.Store.Raw().QueryRaw(context.Background(), "SELECT count(*) FROM orders")
		if err == nil && fmt.Sprint(rows[0][0]) != "0" {
			t.Fatalf("rows in Steward's own database: %v", rows)
		}
		f.must(200, "DELETE", dataBase+"orders/"+id, ops.owner, nil)
		pg, err := a.Svc.Audit.ListAudit(apptest.System(), steward.AuditFilter{TargetType: "data:orders"}, steward.ListParams{})
		f.ok(err)
		if len(pg.Data) != 3 {
			t.Fatalf("%d entries, want insert, update, delete", len(pg.Data))
		}
		if src.commits.Load() != 3 {
			t.Errorf("%d source commits watched, want 3", src.commits.Load())
		}
		for _, e := range pg.Data {
			if !strings.Contains(string(e.Metadata), `"guarantee":"audit_committed_first"`) || !strings.Contains(string(e.Metadata), `"source":"app"`) {
				t.Errorf("%s: metadata %s", e.Action, e.Metadata)
			}
		}
	}, opt)
}

// TestDataIfMatchRace: writers holding the same version race; the row is
// compared under its lock, so exactly one wins and the others get 412.
func TestDataIfMatchRace(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		f, ops := newFix(t, a), newDataOps(t, a)
		id := insertOrder(f, ops.admin, order(1))
		etag := str(f.must(200, "GET", dataBase+"orders/"+id, ops.support, nil), "etag")
		const n = 6
		statuses := make(chan int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				body, _ := json.Marshal(M{"note": fmt.Sprintf("writer %d", i)})
				r, err := send(a, "PATCH", dataBase+"orders/"+id, ops.admin, body, true, map[string]string{"If-Match": etag})
				if err != nil {
					t.Error(err)
					return
				}
				statuses <- r.Status
			}()
		}
		wg.Wait()
		close(statuses)
		won, lost := 0, 0
		for s := range statuses {
			switch s {
			case 200:
				won++
			case 412:
				lost++
			default:
				t.Errorf("status %d", s)
			}
		}
		if won != 1 || lost != n-1 {
			t.Errorf("%d won, %d got 412; want 1 and %d", won, lost, n-1)
		}
	}, withData(nil))
}

// commitWatch is an external source that calls beforeCommit when a write
// succeeded and its transaction is about to commit.
type commitWatch struct {
	*datatest.External
	beforeCommit func()
	commits      atomic.Int64
}

func (c *commitWatch) Write(ctx context.Context, fn func(store.RawQuerier) error) error {
	return c.St.Update(ctx, func(tx store.Tx) error {
		if err := fn(tx.Raw()); err != nil {
			return err
		}
		c.beforeCommit()
		return nil
	})
}
