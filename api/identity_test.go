package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stewardhq/steward/internal/apptest"
)

// TestEmailsAndUsernamesAreOneIdentity: what looks like one address is one
// account. Invisible and format characters and mixed-script local parts are
// refused with 422 naming the field; composed and decomposed accents are
// the same address; login normalises the same way.
func TestEmailsAndUsernamesAreOneIdentity(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		create := func(body map[string]any) *apptest.Response {
			t.Helper()
			return a.Do(http.MethodPost, "/api/v1/admin/users", a.RootToken, body)
		}
		want422 := func(name string, r *apptest.Response, field, fragment string) {
			t.Helper()
			msg, _ := r.Get("details.fields." + field).(string)
			if r.Status != 422 || r.Get("code") != "VALIDATION_FAILED" || !strings.Contains(msg, fragment) {
				t.Errorf("%s: %d %s, want 422 naming %s (%q)", name, r.Status, r.Raw, field, fragment)
			}
		}
		if r := create(map[string]any{"email": "root@x.test", "username": "rootish", "password": apptest.Password}); r.Status != 201 {
			t.Fatalf("create root@x.test: %s", r.Raw)
		}
		for name, email := range map[string]string{
			"zero-width space after": "root@x.test\u200b",
			"zero-width joiner":      "ro\u200dot@x.test",
			"bidi override":          "\u202eroot@x.test",
			"byte order mark":        "\ufeffroot@x.test",
			"soft hyphen":            "ro\u00adot@x.test",
			"no-break space":         "root\u00a0@x.test",
			"Hangul filler":          "root\u3164@x.test",
			"variation selector":     "ro\ufe0fot@x.test",
		} {
			want422(name, create(map[string]any{"email": email}), "email", "invisible")
		}
		want422("Cyrillic o's in a Latin name", create(map[string]any{"email": "r\u043e\u043et@x.test"}), "email", "mix scripts")
		want422("Greek omicron in a Latin name", create(map[string]any{"email": "r\u03bfot@x.test"}), "email", "mix scripts")
		want422("a Cyrillic look-alike domain", create(map[string]any{"email": "root@\u0445.test"}), "email", "xn--")
		want422("zero-width space in a username", create(map[string]any{"email": "zw@x.test", "username": "root\u200bish"}), "username", "invisible")

		// One script, or Latin with CJK, is a name like any other.
		for _, email := range []string{"\u0438\u0432\u0430\u043d@x.test", "\u5c71\u7530\u305f\u308d\u3046@x.test", "tanaka\u5c71\u7530@x.test", "\u00e9lodie@x.test"} {
			if r := create(map[string]any{"email": email}); r.Status != 201 {
				t.Errorf("create %q: %d %s", email, r.Status, r.Raw)
			}
		}
		// Decomposed (e + U+0301) is the composed é already taken: one account.
		if r := create(map[string]any{"email": "e\u0301lodie@x.test"}); r.Status != 409 || r.Get("code") != "ALREADY_EXISTS" {
			t.Errorf("decomposed duplicate of élodie: %d %s", r.Status, r.Raw)
		}
		jose := create(map[string]any{"email": "Jos\u0065\u0301@X.test", "password": apptest.Password})
		if jose.Status != 201 || jose.Get("email") != "jos\u00e9@x.test" {
			t.Fatalf("a decomposed, capitalised email is stored NFC and lower-cased: %s", jose.Raw)
		}
		// Login finds it by either form; a hidden character in a login is 422.
		for _, email := range []string{"jos\u00e9@x.test", "JOSE\u0301@x.test"} {
			if r := a.Do(http.MethodPost, "/api/v1/auth/login", "", map[string]any{"email": email, "password": apptest.Password}); r.Status != 200 {
				t.Errorf("login as %q: %d %s", email, r.Status, r.Raw)
			}
		}
		r := a.Do(http.MethodPost, "/api/v1/auth/login", "", map[string]any{"email": "root@x.test\u200b", "password": apptest.Password})
		want422("login with a zero-width space", r, "email", "invisible")
		r = a.Do(http.MethodPost, "/api/v1/auth/login", "", map[string]any{"username": "rootish\u2060", "password": apptest.Password})
		want422("login by username with a word joiner", r, "username", "invisible")

		// Changing an email is held to the same rules.
		id, _ := jose.Get("id").(string)
		r = a.Do(http.MethodPatch, "/api/v1/admin/users/"+id, a.RootToken, map[string]any{"email": "root@x.test\u200c"})
		want422("patch with a zero-width non-joiner", r, "email", "invisible")
	})
}
