package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// openAPIMethods are the operation keys of an OpenAPI path item; any other
// key (parameters, summary, servers, ...) is not an operation.
var openAPIMethods = map[string]string{
	"get": http.MethodGet, "put": http.MethodPut, "post": http.MethodPost,
	"delete": http.MethodDelete, "options": http.MethodOptions, "head": http.MethodHead,
	"patch": http.MethodPatch, "trace": http.MethodTrace,
}

// openAPIRouteTable is every "METHOD /path" the server mounts: the route
// table plus GET /metrics, which NewServer mounts beside it.
func openAPIRouteTable() map[string]bool {
	table := map[string]bool{"GET /metrics": true}
	for _, rt := range (&server{}).routes() {
		table[rt.Method+" "+rt.Pattern] = true
	}
	return table
}

func parseOpenAPI(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatalf("openapi.json is not valid JSON: %v", err)
	}
	return doc
}

// TestOpenAPIMatchesRoutes asserts that the document and the route table
// describe the same surface, in both directions.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	doc := parseOpenAPI(t)
	if v, _ := doc["openapi"].(string); v != "3.1.0" {
		t.Fatalf("openapi = %q, want 3.1.0", v)
	}
	paths, ok := doc["paths"].(map[string]any)
	if !ok {
		t.Fatal("paths is missing or not an object")
	}

	documented := map[string]bool{}
	for path, item := range paths {
		ops, ok := item.(map[string]any)
		if !ok {
			t.Errorf("path %s is not an object", path)
			continue
		}
		for key := range ops {
			if method, ok := openAPIMethods[key]; ok {
				documented[method+" "+path] = true
			}
		}
	}

	table := openAPIRouteTable()
	for _, r := range sortedKeys(table) {
		if !documented[r] {
			t.Errorf("route %s is not documented in openapi.json", r)
		}
	}
	for _, r := range sortedKeys(documented) {
		if !table[r] {
			t.Errorf("openapi.json documents %s, which is not in the route table", r)
		}
	}
}

// TestOpenAPIOperations checks what every operation must carry.
func TestOpenAPIOperations(t *testing.T) {
	doc := parseOpenAPI(t)
	paths, _ := doc["paths"].(map[string]any)
	ids := map[string]string{}
	paramRe := regexp.MustCompile(`\{([^}]+)\}`)
	for path, item := range paths {
		ops, _ := item.(map[string]any)
		for key, v := range ops {
			if _, ok := openAPIMethods[key]; !ok {
				continue
			}
			name := strings.ToUpper(key) + " " + path
			o, ok := v.(map[string]any)
			if !ok {
				t.Errorf("%s: operation is not an object", name)
				continue
			}
			id, _ := o["operationId"].(string)
			switch {
			case id == "":
				t.Errorf("%s: no operationId", name)
			case ids[id] != "":
				t.Errorf("%s: operationId %q already used by %s", name, id, ids[id])
			default:
				ids[id] = name
			}
			if s, _ := o["summary"].(string); s == "" {
				t.Errorf("%s: no summary", name)
			}
			if tags, _ := o["tags"].([]any); len(tags) == 0 {
				t.Errorf("%s: no tags", name)
			}
			if _, ok := o["security"].([]any); !ok {
				t.Errorf("%s: no security (public operations say [])", name)
			}
			responses, _ := o["responses"].(map[string]any)
			success := false
			for code := range responses {
				if n, err := strconv.Atoi(code); err == nil && n >= 200 && n < 300 {
					success = true
				}
			}
			if !success {
				t.Errorf("%s: no 2xx response", name)
			}
			// Every {name} in the path has a required path parameter.
			declared := map[string]bool{}
			params, _ := o["parameters"].([]any)
			for _, p := range params {
				pm, _ := p.(map[string]any)
				if ref, ok := pm["$ref"].(string); ok {
					target, err := resolvePointer(doc, ref)
					if err != nil {
						continue // reported by TestOpenAPIRefsResolve
					}
					pm, _ = target.(map[string]any)
				}
				if pm["in"] == "path" && pm["required"] == true {
					declared[pm["name"].(string)] = true
				}
			}
			for _, m := range paramRe.FindAllStringSubmatch(path, -1) {
				if !declared[m[1]] {
					t.Errorf("%s: path parameter %q is not declared", name, m[1])
				}
			}
		}
	}
}

// TestOpenAPIRefsResolve walks the whole document and checks that every
// $ref points at an existing component.
func TestOpenAPIRefsResolve(t *testing.T) {
	doc := parseOpenAPI(t)
	n := 0
	var walk func(at string, v any)
	walk = func(at string, v any) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"]; ok {
				n++
				s, _ := ref.(string)
				if !strings.HasPrefix(s, "#/components/") {
					t.Errorf("%s: $ref %q does not point into #/components/", at, ref)
				} else if _, err := resolvePointer(doc, s); err != nil {
					t.Errorf("%s: $ref %q: %v", at, s, err)
				}
			}
			for k, c := range x {
				walk(at+"/"+k, c)
			}
		case []any:
			for i, c := range x {
				walk(at+"/"+strconv.Itoa(i), c)
			}
		}
	}
	walk("#", doc)
	if n == 0 {
		t.Error("no $ref found: the walk is broken or the document uses no components")
	}
}

// resolvePointer follows a local JSON pointer ("#/a/b") in doc.
func resolvePointer(doc any, ref string) (any, error) {
	if !strings.HasPrefix(ref, "#/") {
		return nil, fmt.Errorf("%q is not a local reference", ref)
	}
	cur := doc
	for _, tok := range strings.Split(ref[2:], "/") {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		switch x := cur.(type) {
		case map[string]any:
			next, ok := x[tok]
			if !ok {
				return nil, fmt.Errorf("no %q on the way to %s", tok, ref)
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(x) {
				return nil, fmt.Errorf("no %q on the way to %s", tok, ref)
			}
			cur = x[i]
		default:
			return nil, fmt.Errorf("no %q on the way to %s", tok, ref)
		}
	}
	return cur, nil
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
