package api

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// queryReads is what the package's source reads from query strings, found
// by walking the syntax: per function (by name, methods of *server under
// their own name), the literal names passed to q.Get (q from URL.Query()),
// boolParam and timeParam, and the package functions it calls.
type queryReads struct {
	reads map[string][]string
	calls map[string][]string
	bad   []string // reads the walk cannot name: every read must be a literal
}

func parseQueryReads(t *testing.T) *queryReads {
	t.Helper()
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	qr := &queryReads{reads: map[string][]string{}, calls: map[string][]string{}}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			fd, ok := decl.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			fn := fd.Name.Name
			if fn == "boolParam" || fn == "timeParam" {
				continue // the readers themselves: their callers name what they read
			}
			queryVars := map[string]bool{}
			isQuery := func(e ast.Expr) bool {
				if c, ok := e.(*ast.CallExpr); ok {
					if sel, ok := c.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Query" {
						return true
					}
				}
				id, ok := e.(*ast.Ident)
				return ok && queryVars[id.Name]
			}
			literal := func(e ast.Expr) (string, bool) {
				lit, ok := e.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					return "", false
				}
				s, err := strconv.Unquote(lit.Value)
				return s, err == nil
			}
			at := func(n ast.Node) string { return fset.Position(n.Pos()).String() }
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				switch x := n.(type) {
				case *ast.AssignStmt:
					for i, rhs := range x.Rhs {
						if isQuery(rhs) && i < len(x.Lhs) {
							if id, ok := x.Lhs[i].(*ast.Ident); ok {
								queryVars[id.Name] = true
							}
						}
					}
				case *ast.SelectorExpr:
					if x.Sel.Name == "FormValue" || x.Sel.Name == "Form" || x.Sel.Name == "RawQuery" {
						if fn != "check" { // the central check reads RawQuery on purpose
							qr.bad = append(qr.bad, at(x)+": "+fn+" reads "+x.Sel.Name)
						}
					}
				case *ast.IndexExpr:
					if isQuery(x.X) {
						qr.bad = append(qr.bad, at(x)+": "+fn+" indexes a query map; use Get")
					}
				case *ast.CallExpr:
					switch f := x.Fun.(type) {
					case *ast.SelectorExpr:
						if f.Sel.Name == "Get" && isQuery(f.X) {
							if name, ok := literal(x.Args[0]); ok {
								qr.reads[fn] = append(qr.reads[fn], name)
							} else {
								qr.bad = append(qr.bad, at(x)+": "+fn+" reads a query parameter by a computed name")
							}
						} else if id, ok := f.X.(*ast.Ident); ok && id.Name == "s" {
							qr.calls[fn] = append(qr.calls[fn], f.Sel.Name)
						}
					case *ast.Ident:
						if (f.Name == "boolParam" || f.Name == "timeParam") && len(x.Args) == 2 {
							if name, ok := literal(x.Args[1]); ok {
								qr.reads[fn] = append(qr.reads[fn], name)
							} else {
								qr.bad = append(qr.bad, at(x)+": "+fn+" calls "+f.Name+" with a computed name")
							}
						} else {
							qr.calls[fn] = append(qr.calls[fn], f.Name)
						}
					}
				}
				return true
			})
		}
	}
	return qr
}

// closure is every query parameter fn reads, itself or through what it calls.
func (qr *queryReads) closure(fn string) []string {
	seen := map[string]bool{}
	var out []string
	var walk func(string)
	walk = func(f string) {
		if seen[f] {
			return
		}
		seen[f] = true
		out = append(out, qr.reads[f]...)
		for _, c := range qr.calls[f] {
			walk(c)
		}
	}
	walk(fn)
	slices.Sort(out)
	return slices.Compact(out)
}

// routeHandlers maps "METHOD pattern" to the *server methods routes.go names
// for it (the handler, and a wrapper's argument).
func routeHandlers(t *testing.T) map[string][]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "routes.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	methods := map[string]string{"MethodGet": "GET", "MethodPost": "POST", "MethodPut": "PUT",
		"MethodPatch": "PATCH", "MethodDelete": "DELETE"}
	out := map[string][]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		cl, ok := n.(*ast.CompositeLit)
		if !ok || len(cl.Elts) != 4 {
			return true
		}
		m, ok1 := cl.Elts[0].(*ast.SelectorExpr)
		p, ok2 := cl.Elts[1].(*ast.BasicLit)
		if !ok1 || !ok2 {
			return true
		}
		pattern, _ := strconv.Unquote(p.Value)
		key := methods[m.Sel.Name] + " " + pattern
		ast.Inspect(cl.Elts[3], func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok {
				if id, ok := sel.X.(*ast.Ident); ok && id.Name == "s" {
					out[key] = append(out[key], sel.Sel.Name)
				}
			}
			return true
		})
		return false
	})
	return out
}

// pinnedQuery are parameters a handler's shared helper reads but the route
// pins itself (a user's audit log is about that user), so the route does not
// declare them and the central check refuses them.
var pinnedQuery = map[string][]string{
	"GET /api/v1/admin/users/{id}/audit-log": {"target_id", "target_type"},
}

// TestHandlersReadOnlyDeclaredQuery: every query parameter a route's handler
// reads is declared for that route in openapi.json (else the central check
// would refuse what the handler wants), and every declared one is read (else
// the document promises a filter that is ignored).
func TestHandlersReadOnlyDeclaredQuery(t *testing.T) {
	qr := parseQueryReads(t)
	for _, b := range qr.bad {
		t.Error(b)
	}
	handlers := routeHandlers(t)
	table := openAPIRouteTable()
	delete(table, "GET /metrics")
	if len(handlers) != len(table) {
		t.Fatalf("found %d routes in routes.go, the route table has %d: the walk is broken", len(handlers), len(table))
	}
	specs, err := querySpecs()
	if err != nil {
		t.Fatal(err)
	}
	readSomewhere := false
	for _, key := range sortedKeys(table) {
		var reads []string
		for _, h := range handlers[key] {
			reads = append(reads, qr.closure(h)...)
		}
		slices.Sort(reads)
		reads = slices.Compact(reads)
		reads = slices.DeleteFunc(reads, func(n string) bool { return slices.Contains(pinnedQuery[key], n) })
		readSomewhere = readSomewhere || len(reads) > 0
		sp := specs[key]
		if sp == nil {
			t.Errorf("%s: not in openapi.json", key)
			continue
		}
		for _, n := range reads {
			if _, ok := sp.params[n]; !ok {
				t.Errorf("%s reads query parameter %q, which openapi.json does not declare for it", key, n)
			}
		}
		for _, n := range sp.names {
			if !slices.Contains(reads, n) {
				t.Errorf("openapi.json declares query parameter %q for %s, which its handler never reads", n, key)
			}
		}
	}
	if !readSomewhere {
		t.Fatal("no handler reads any query parameter: the walk is broken")
	}
}

func TestEditDistanceAndNearest(t *testing.T) {
	for _, c := range []struct {
		a, b string
		d    int
	}{{"", "abc", 3}, {"limt", "limit", 1}, {"status", "state", 2}, {"kitten", "sitting", 3}, {"q", "q", 0}} {
		if got := editDistance(c.a, c.b); got != c.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", c.a, c.b, got, c.d)
		}
	}
	sp := querySpecFor(route{Method: "GET", Pattern: "/api/v1/admin/users"})
	for in, want := range map[string]string{
		"search": "q", "page": "cursor", "per_page": "limit", "reseller_id": "tenant_id",
		"limt": "limit", "tenantid": "tenant_id", "STATUS": "status", "Tag": "tag", "zzz": "", "id": "", "sort": "",
		"since": "", // users take no time range: no suggestion from another route's names
	} {
		if got := sp.nearest(in); got != want {
			t.Errorf("nearest(%q) = %q, want %q", in, got, want)
		}
	}
}
