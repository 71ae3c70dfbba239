package main

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/service"
)

// The configuration file's [[actions]]: custom admin actions
// (docs/data-admin.md#custom-admin-actions). The decoder refuses unknown
// keys and wrong types with their positions; the rules
// (service.CheckAdminActions) run once the data tables are known, and
// their errors name the file, the line of the key and the key.

// fileAction is one [[actions]].
type fileAction struct {
	Name     string        `toml:"name"`
	Label    string        `toml:"label"`
	Target   string        `toml:"target"`
	MinRole  string        `toml:"min_role"`
	ReadOnly bool          `toml:"read_only"`
	URL      string        `toml:"url"`
	Timeout  *fileDuration `toml:"timeout"`
	// Secret is the signing secret; SecretEnv names an environment
	// variable holding it instead, so that it need not be in the file.
	Secret    string `toml:"secret"`
	SecretEnv string `toml:"secret_env"`
}

// actionsField is the file schema's [[actions]].
func actionsField() reflect.StructField {
	return reflect.StructField{Name: "Actions", Type: reflect.TypeFor[[]fileAction](), Tag: `toml:"actions"`}
}

// fileActions are the file's [[actions]] and the line of each key.
type fileActions struct {
	path   string
	list   []fileAction
	lines  []map[string]int // per action: key → line; "" is its [[actions]] line
	getenv func(string) string
}

var (
	actionsHeaderRe = regexp.MustCompile(`^\s*\[\[\s*actions\s*\]\]\s*(#.*)?$`)
	tableHeaderRe   = regexp.MustCompile(`^\s*\[`)
	keyLineRe       = regexp.MustCompile(`^\s*([A-Za-z0-9_-]+)\s*=`)
)

// readFileActions takes the decoded [[actions]] of the file at path.
func readFileActions(path string, decoded reflect.Value, data []byte) *fileActions {
	list, _ := decoded.FieldByName("Actions").Interface().([]fileAction)
	if len(list) == 0 {
		return nil
	}
	fa := &fileActions{path: path, list: list}
	cur := -1
	for n, line := range strings.Split(string(data), "\n") {
		switch {
		case actionsHeaderRe.MatchString(line):
			fa.lines = append(fa.lines, map[string]int{"": n + 1})
			cur = len(fa.lines) - 1
		case tableHeaderRe.MatchString(line):
			cur = -1
		case cur >= 0:
			if m := keyLineRe.FindStringSubmatch(line); m != nil {
				fa.lines[cur][m[1]] = n + 1
			}
		}
	}
	return fa
}

// withEnv gives the actions the environment their secret_env names.
func (f *fileActions) withEnv(getenv func(string) string) *fileActions {
	if f != nil {
		f.getenv = getenv
	}
	return f
}

// at is an error naming the file, the key's line (its action's when the
// key is not written, or the file uses inline tables) and the key.
func (f *fileActions) at(i int, key, msg string) error {
	line := 0
	if i < len(f.lines) {
		if line = f.lines[i][key]; line == 0 {
			line = f.lines[i][""]
		}
	}
	where := f.path
	if line > 0 {
		where = fmt.Sprintf("%s:%d", f.path, line)
	}
	return fmt.Errorf("%s: key actions.%s: %s (action %d, %q)", where, key, msg, i, f.list[i].Name)
}

// adminActions checks the file's [[actions]] against sc (its data tables
// and webhook address policy) and returns them for sc.Actions.
func (c *config) adminActions(sc service.Config) ([]steward.AdminAction, error) {
	f := c.fileActions
	if f == nil {
		return nil, nil
	}
	var errs []error
	reported := map[[2]any]bool{}
	bad := func(i int, key, msg string) {
		reported[[2]any{i, key}] = true
		errs = append(errs, f.at(i, key, msg))
	}
	acts := make([]steward.AdminAction, len(f.list))
	for i, fa := range f.list {
		a := steward.AdminAction{Name: fa.Name, Label: fa.Label, Target: fa.Target, MinRole: steward.Role(fa.MinRole),
			ReadOnly: fa.ReadOnly, URL: fa.URL, Secret: fa.Secret}
		if fa.Timeout != nil {
			if fa.Timeout.d < time.Millisecond {
				bad(i, "timeout", "must be at least 1ms")
			} else {
				a.Timeout = fa.Timeout.d.Milliseconds()
			}
		}
		switch {
		case fa.Secret != "" && fa.SecretEnv != "":
			bad(i, "secret_env", "set secret or secret_env, not both")
			reported[[2]any{i, "secret"}] = true
		case fa.SecretEnv != "":
			if a.Secret = f.getenv(fa.SecretEnv); a.Secret == "" {
				bad(i, "secret_env", "names "+fa.SecretEnv+", which is not set")
				reported[[2]any{i, "secret"}] = true
			}
		}
		acts[i] = a
	}
	tables := make([]string, len(sc.Data.Tables))
	for i, t := range sc.Data.Tables {
		tables[i] = t.Name
	}
	out, probs := service.CheckAdminActions(acts, tables, sc.Webhooks)
	for _, p := range probs {
		key := p.Key
		if key == "secret" && f.list[p.Index].SecretEnv != "" {
			key, p.Msg = "secret_env", "names "+f.list[p.Index].SecretEnv+", whose value "+p.Msg
		}
		if !reported[[2]any{p.Index, p.Key}] {
			bad(p.Index, key, p.Msg)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// showActions prints one line per action for `config show`: never its
// secret, nor its URL's query (which may carry a token).
func (c *config) showActions(w io.Writer) {
	if c.fileActions == nil {
		return
	}
	for _, fa := range c.fileActions.list {
		role := fa.MinRole
		if role == "" {
			role = string(steward.RoleAdmin)
		}
		timeout := service.DefaultActionTimeout
		if fa.Timeout != nil {
			timeout = fa.Timeout.d
		}
		secret := "(set)"
		if fa.SecretEnv != "" {
			secret = "$" + fa.SecretEnv
		}
		fmt.Fprintf(w, "actions.%s\ttarget=%s,min_role=%s,read_only=%t,url=%s,timeout=%s,secret=%s\t%s\n",
			fa.Name, fa.Target, role, fa.ReadOnly, shownURL(fa.URL), timeout, secret, sourceFile)
	}
}

// shownURL is u without its query and fragment.
func shownURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(invalid)"
	}
	if p.RawQuery != "" {
		p.RawQuery = "…"
	}
	p.Fragment, p.User = "", nil
	return p.String()
}
