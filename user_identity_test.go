package steward

import (
	"strings"
	"testing"
)

// TestIdentityRules: one form per address; look-alikes and hidden
// characters refused with a message saying which rule.
func TestIdentityRules(t *testing.T) {
	for in, want := range map[string]string{
		"  Bob@Example.COM ":   "bob@example.com",
		"Jose\u0301@x.test":    "jos\u00e9@x.test", // decomposed → composed
		"\u00c9LODIE@x.test":   "\u00e9lodie@x.test",
		"root@x.test\u200b":    "root@x.test\u200b",    // kept, for ValidateEmail to refuse
		"\u212bngstr\u00f6m@x": "\u00e5ngstr\u00f6m@x", // the Ångström sign is NFC Å, lower-cased
	} {
		if got := NormalizeEmail(in); got != want {
			t.Errorf("NormalizeEmail(%q) = %q, want %q", in, got, want)
		}
	}
	for email, fragment := range map[string]string{
		"root@x.test":                     "",
		"\u0438\u0432\u0430\u043d@x.test": "",
		"\u5c71\u7530@x.test":             "",
		"tanaka\u5c71\u7530@x.test":       "",
		"\u00e9lodie@x.test":              "",
		"root@x.test\u200b":               "invisible",
		"\u2066root@x.test":               "invisible",
		"ro\u034fot@x.test":               "invisible",
		"r\u043e\u043et@x.test":           "mix scripts",
		"p\u0430ypal@x.test":              "mix scripts",
		"r\u03bfot@x.test":                "mix scripts",
		"\u0438van@x.test":                "mix scripts",
		"root@\u0445.test":                "xn--",
		"root@xn--j1a.test":               "",
		"not an email":                    "invisible",
		"nobody":                          "valid email",
	} {
		got := ValidateEmail(email)
		if (fragment == "") != (got == "") || !strings.Contains(got, fragment) {
			t.Errorf("ValidateEmail(%q) = %q, want %q", email, got, fragment)
		}
	}
	for name, fragment := range map[string]string{"rootish": "", "": "", "root\u200bish": "invisible", "r\u043eot": "a-z", "ROOT": "a-z"} {
		got := ValidateUsername(name)
		if (fragment == "") != (got == "") || !strings.Contains(got, fragment) {
			t.Errorf("ValidateUsername(%q) = %q, want %q", name, got, fragment)
		}
	}
}
