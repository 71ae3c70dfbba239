package steward_test

import (
	"regexp"
	"testing"

	"github.com/stewardhq/steward"
)

var resourceIDRe = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

func TestValidResourceID(t *testing.T) {
	long := string(make([]byte, 129))
	for _, c := range []struct {
		id   string
		want bool
	}{
		{"vm-1", true}, {"a", true}, {"ns:pod.0_x-Y", true}, {"", false}, {"a/b", false}, {"a b", false},
		{"é", false}, {"a%2F", false}, {long, false}, {"a\x00", false},
	} {
		if got := steward.ValidResourceID(c.id); got != c.want {
			t.Errorf("ValidResourceID(%q) = %v, want %v", c.id, got, c.want)
		}
	}
	max := make([]byte, 128)
	for i := range max {
		max[i] = 'z'
	}
	if !steward.ValidResourceID(string(max)) || steward.ValidResourceID(string(max)+"z") {
		t.Error("the 128-byte bound is off")
	}
}

// FuzzResourceID checks the validator against the class as a regular
// expression: the two agree on every input.
func FuzzResourceID(f *testing.F) {
	for _, s := range []string{"vm-1", "", "a/b", "ns:pod.0", "\x00", "ÿ", "a\nb"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := steward.ValidResourceID(s), resourceIDRe.MatchString(s); got != want {
			t.Fatalf("ValidResourceID(%q) = %v, the class says %v", s, got, want)
		}
	})
}

func TestResourceStatusVocabulary(t *testing.T) {
	for _, s := range steward.ResourceStatuses {
		if !s.Valid() {
			t.Errorf("%q is listed but not valid", s)
		}
	}
	for _, s := range []steward.ResourceStatus{"", "Running", "deleted", "on"} {
		if s.Valid() {
			t.Errorf("%q is valid", s)
		}
	}
}
