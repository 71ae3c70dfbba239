package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/stewardhq/steward"
)

// The query parameters each route takes are declared once, in openapi.json;
// the router refuses any other. A parameter silently ignored is worse than a
// refused one: GET /admin/users?reseller_id=… answered every tenant's users
// as if filtered. TestHandlersReadOnlyDeclaredQuery keeps the document and
// what handlers read in step.

// queryParam is one declared query parameter.
type queryParam struct {
	typ string // the schema's type: "string", "boolean", "integer", "array"
}

// querySpec is what one route takes in its query string.
type querySpec struct {
	route  string // "GET /api/v1/admin/users", for messages
	params map[string]queryParam
	names  []string // sorted, for messages
}

// querySpecs reads every operation's query parameters from the embedded
// document, by "METHOD pattern" (the route table's keys).
var querySpecs = sync.OnceValues(func() (map[string]*querySpec, error) { return parseQuerySpecs(OpenAPI()) })

func parseQuerySpecs(doc []byte) (map[string]*querySpec, error) {
	type param struct {
		Ref    string `json:"$ref"`
		Name   string `json:"name"`
		In     string `json:"in"`
		Schema struct {
			Type any `json:"type"`
		} `json:"schema"`
	}
	var d struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Parameters map[string]param `json:"parameters"`
		} `json:"components"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, fmt.Errorf("openapi.json: %w", err)
	}
	resolve := func(p param) (param, error) {
		if p.Ref == "" {
			return p, nil
		}
		c, ok := d.Components.Parameters[strings.TrimPrefix(p.Ref, "#/components/parameters/")]
		if !ok {
			return p, fmt.Errorf("openapi.json: unresolved parameter %s", p.Ref)
		}
		return c, nil
	}
	specs := map[string]*querySpec{}
	for path, item := range d.Paths {
		var common []param
		if raw, ok := item["parameters"]; ok {
			if err := json.Unmarshal(raw, &common); err != nil {
				return nil, fmt.Errorf("openapi.json %s parameters: %w", path, err)
			}
		}
		for key, raw := range item {
			method := strings.ToUpper(key)
			if key == "parameters" || !slices.Contains([]string{"GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE"}, method) {
				continue
			}
			var op struct {
				Parameters []param `json:"parameters"`
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				return nil, fmt.Errorf("openapi.json %s %s: %w", method, path, err)
			}
			sp := &querySpec{route: method + " " + path, params: map[string]queryParam{}}
			for _, p := range append(slices.Clone(common), op.Parameters...) {
				p, err := resolve(p)
				if err != nil {
					return nil, err
				}
				if p.In != "query" {
					continue
				}
				typ, _ := p.Schema.Type.(string)
				sp.params[p.Name] = queryParam{typ: typ}
				sp.names = append(sp.names, p.Name)
			}
			slices.Sort(sp.names)
			specs[sp.route] = sp
		}
	}
	return specs, nil
}

// querySpecFor is the spec of rt. A route the document does not describe
// takes no query parameters (TestOpenAPIMatchesRoutes fails on it anyway).
func querySpecFor(rt route) *querySpec {
	key := rt.Method + " " + rt.Pattern
	specs, err := querySpecs()
	if err != nil {
		panic(err) // the embedded document is broken: every test fails on it
	}
	if sp, ok := specs[key]; ok {
		return sp
	}
	return &querySpec{route: key, params: map[string]queryParam{}}
}

// check refuses a query string with a parameter the route does not take, a
// parameter given twice (only the first would count), or a boolean other
// than true or false (anything else read as false, so ?purge=1 soft-deleted).
func (sp *querySpec) check(r *http.Request) (url.Values, error) {
	if r.URL.RawQuery == "" {
		return nil, nil
	}
	vals, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, badRequest("malformed query string: "+err.Error(), map[string]any{"query": "is not a valid URL query string"})
	}
	names := make([]string, 0, len(vals))
	for name := range vals {
		names = append(names, name)
	}
	slices.Sort(names)
	fields := map[string]any{}
	var unknown []string
	suggestions := map[string]any{}
	for _, name := range names {
		p, ok := sp.params[name]
		if !ok {
			p, ok = sp.deepObject(name)
		}
		switch {
		case !ok:
			unknown = append(unknown, name)
			if near := sp.nearest(name); near != "" {
				suggestions[name] = near
				fields[name] = "unknown query parameter; did you mean " + near + "?"
			} else {
				fields[name] = "unknown query parameter"
			}
		case len(vals[name]) > 1 && p.typ != "array":
			fields[name] = "given more than once; give it once"
		case p.typ == "boolean" && vals[name][0] != "true" && vals[name][0] != "false":
			fields[name] = "must be true or false"
		}
	}
	if len(fields) == 0 {
		return vals, nil
	}
	details := map[string]any{"fields": fields, "allowed": sp.names}
	msg := "invalid query parameters"
	if len(unknown) > 0 {
		details["unknown"] = unknown
		details["suggestions"] = suggestions
		msg = fmt.Sprintf("unknown query parameter(s) %s: %s takes %s", strings.Join(unknown, ", "), sp.route, takes(sp.names))
	}
	return nil, &steward.Error{Code: steward.CodeBadRequest, Message: msg, Details: details}
}

// deepObject is the declared object parameter (style deepObject) that
// name is a member of: filter[status][eq] of filter. The handler checks
// the member's form; the name's text is checked like any other.
func (sp *querySpec) deepObject(name string) (queryParam, bool) {
	i := strings.IndexByte(name, '[')
	if i <= 0 || !strings.HasSuffix(name, "]") {
		return queryParam{}, false
	}
	p, ok := sp.params[name[:i]]
	return queryParam{typ: "string"}, ok && p.typ == "object"
}

func takes(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// queryAliases are the names other admin APIs use for what Steward calls
// otherwise; edit distance alone would not find them (search is nearer to
// status than to q).
var queryAliases = map[string][]string{
	"q":         {"search", "query", "keyword", "keywords", "term", "filter", "email", "name"},
	"cursor":    {"page", "offset", "page_token", "pagetoken", "next", "after", "starting_after", "next_cursor", "skip"},
	"limit":     {"per_page", "perpage", "page_size", "pagesize", "size", "count", "max_results", "maxresults", "take", "first"},
	"tenant_id": {"reseller_id", "org_id", "organization_id", "organisation_id", "account_id", "workspace_id", "team_id", "customer_id", "tenant"},
	"user_id":   {"user", "uid", "owner_id"},
	"since":     {"from", "start", "start_date", "created_after", "after_date"},
	"until":     {"to", "end", "end_date", "created_before", "before_date"},
	"start":     {"from", "since", "start_date"},
	"end":       {"to", "until", "end_date"},
	"purge":     {"force", "hard", "hard_delete", "permanent"},
	"status":    {"state"},
	"kind":      {"type"},
	"type":      {"kind", "key_type"},
}

// nearest is the declared parameter the client most likely meant: a known
// alias first, else the nearest by edit distance when it is close.
func (sp *querySpec) nearest(name string) string {
	lower := strings.ToLower(name)
	if _, ok := sp.params[lower]; ok {
		return lower
	}
	for _, known := range sp.names {
		if slices.Contains(queryAliases[known], lower) {
			return known
		}
	}
	best, bestD := "", 3 // farther than 2 edits is a guess
	for _, known := range sp.names {
		if d := editDistance(lower, known); d < bestD && d < len(lower) {
			best, bestD = known, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of two short ASCII names.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// deleteMode reads purge and confirm on a DELETE that soft-deletes by
// default, and refuses the combinations that would not do what they seem to:
// confirm=true alone used to soft-delete silently. what names the resource,
// erases says what a purge removes, restore how a soft delete is undone.
func deleteMode(r *http.Request, what, erases, restore string) (purge bool, err error) {
	purge, confirm := boolParam(r, "purge"), boolParam(r, "confirm")
	if purge == confirm {
		return purge, nil
	}
	combos := map[string]any{
		"neither":                 "soft-deletes the " + what + "; " + restore + " undoes it",
		"purge=true&confirm=true": erases + " for good",
		"purge=true":              "refused: purging needs confirm=true",
		"confirm=true":            "refused: confirm=true only confirms purge=true",
	}
	if purge {
		return false, &steward.Error{Code: steward.CodeConfirmationRequired,
			Message: "purging " + erases + " for good; repeat with confirm=true, or drop purge to soft-delete",
			Details: map[string]any{"fields": map[string]any{"confirm": "must be true to purge"}, "combinations": combos}}
	}
	return false, &steward.Error{Code: steward.CodeBadRequest,
		Message: "confirm=true without purge=true would only soft-delete the " + what + ": send purge=true&confirm=true to erase it for good, or neither to soft-delete (" + restore + " undoes it)",
		Details: map[string]any{"fields": map[string]any{"confirm": "only valid with purge=true", "purge": "must be true when confirm=true"}, "combinations": combos}}
}
