package steward_test

import (
	"strings"
	"testing"

	"github.com/stewardhq/steward"
)

// TestParseModels: enabled defaults to true; every field rule and the
// one-default rule is refused naming the model (index and id) and field; an
// empty catalogue is valid.
func TestParseModels(t *testing.T) {
	ms, err := steward.ParseModels([]byte(`[{"id":"large-2","name":" Large 2 ","provider":"acme","context_window":200000,
		"input_micros_per_mtok":3000000,"output_micros_per_mtok":15000000,"default":true},
		{"id":"acme/small:1.5","name":"Small","provider":"acme","context_window":1,"enabled":false}]`))
	if err != nil {
		t.Fatal(err)
	}
	if !ms[0].Enabled || ms[0].Name != "Large 2" || ms[1].Enabled || steward.DefaultModel(ms) != ms[0] {
		t.Fatalf("parsed %+v %+v", ms[0], ms[1])
	}
	if ms, err := steward.ParseModels([]byte(`[]`)); err != nil || len(ms) != 0 || steward.DefaultModel(ms) != nil {
		t.Fatalf("empty catalogue: %v %v", ms, err)
	}
	ok := `"name":"N","provider":"p","context_window":10`
	for _, c := range []struct{ doc, want string }{
		{`[{"id":"a",` + ok + `,"default":true,"colour":"red"}]`, `unknown field "colour"`},
		{`[{"id":"a b",` + ok + `,"default":true}]`, "models[0] (a b): id must be 1-64 characters"},
		{`[{"id":"a",` + ok + `,"default":true},{"id":"a",` + ok + `}]`, "models[1] (a): id is used by an earlier model"},
		{`[{"id":"a","provider":"p","context_window":10,"default":true}]`, "models[0] (a): name is required"},
		{`[{"id":"a","name":"N","context_window":10,"default":true}]`, "models[0] (a): provider is required"},
		{`[{"id":"a","name":"N","provider":"p","default":true}]`, "models[0] (a): context_window must be between 1 and"},
		{`[{"id":"a",` + ok + `,"default":true,"input_micros_per_mtok":-1}]`, "models[0] (a): input_micros_per_mtok must be between 0 and"},
		{`[{"id":"a",` + ok + `,"default":true,"output_micros_per_mtok":1000000000001}]`, "models[0] (a): output_micros_per_mtok must be between 0 and"},
		{`[{"id":"a",` + ok + `,"default":true,"enabled":false}]`, "models[0] (a): default is true on a disabled model"},
		{`[{"id":"a",` + ok + `},{"id":"b",` + ok + `}]`, "models: exactly one enabled model must have default = true; none has"},
		{`[{"id":"a",` + ok + `,"default":true},{"id":"b",` + ok + `,"default":true}]`, "a, b all have"},
	} {
		_, err := steward.ParseModels([]byte(c.doc))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", c.doc, err, c.want)
		}
	}
}
