package service

import (
	"strings"
	"testing"

	"github.com/stewardhq/steward"
)

func TestSlugify(t *testing.T) {
	cases := map[string]string{
		"Acme Corp":               "acme-corp",
		"  --Acme   & Sons!!  ":   "acme-sons",
		"Café Zürich 2":           "cafe-zurich-2",
		"Ærø":                     "r",
		"日本 ★":                    "",
		strings.Repeat("ab ", 40): "ab-ab-ab-ab-ab-ab-ab-ab-ab-ab-ab-ab-ab-ab-ab-ab",
	}
	for in, want := range cases {
		got := slugify(in)
		if got != want {
			t.Errorf("slugify(%q) = %q, want %q", in, got, want)
		}
		if got != "" && steward.ValidateSlug(got) != "" {
			t.Errorf("slugify(%q) = %q is not a valid slug", in, got)
		}
	}
}
