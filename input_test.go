package steward_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stewardhq/steward"
)

func TestCheckText(t *testing.T) {
	for _, c := range []struct {
		s          string
		strict, ok bool // accepted as a name; accepted as free text
	}{
		{"plain", true, true},
		{"Zürich 株式会社 🙂", true, true},
		{"", true, true},
		{"a\x00b", false, false},
		{"a\x01", false, false},
		{"a\x1f", false, false},
		{"a\tb", false, true},
		{"a\nb", false, true},
		{"a\r\nb", false, false},
		{"a\xffb", false, false},
		{"\xc3", false, false},
		{"a\x7f", true, true}, // DEL is not C0
	} {
		if got := steward.CheckText(c.s, false) == ""; got != c.strict {
			t.Errorf("CheckText(%q, strict) accepts = %v, want %v", c.s, got, c.strict)
		}
		if got := steward.CheckText(c.s, true) == ""; got != c.ok {
			t.Errorf("CheckText(%q, free) accepts = %v, want %v", c.s, got, c.ok)
		}
	}
}

func TestCheckTime(t *testing.T) {
	est := time.FixedZone("EST", -5*3600)
	for _, c := range []struct {
		t  time.Time
		ok bool
	}{
		{time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC), false},
		{time.Date(1970, 1, 1, 0, 59, 59, 0, time.FixedZone("CET", 3600)), false}, // 1969 in UTC
		{time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), true},
		{time.Date(9999, 12, 31, 18, 59, 59, 0, est), true},
		{time.Date(9999, 12, 31, 23, 0, 0, 0, est), false}, // year 10000 in UTC
		{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), false},
		{time.Time{}, false},
	} {
		if got := steward.CheckTime(c.t) == ""; got != c.ok {
			t.Errorf("CheckTime(%s) accepts = %v, want %v", c.t, got, c.ok)
		}
	}
}

func deep(n int) string {
	return strings.Repeat(`{"a":`, n-1) + "{}" + strings.Repeat("}", n-1)
}

func TestCheckRawJSON(t *testing.T) {
	for _, c := range []struct {
		raw string
		ok  bool
	}{
		{``, true},
		{`null`, true},
		{`{"a":[1,"x\ny",{"b":true}]}`, true},
		{deep(steward.MaxJSONDepth), true},
		{deep(steward.MaxJSONDepth + 1), false},
		{strings.Repeat("[", 33) + strings.Repeat("]", 33), false},
		{`{"a\u0000":1}`, false},
		{`{"a\tb":1}`, false}, // keys are names
		{`{"a":"\u0000"}`, false},
		{`{"a":["\u0001"]}`, false},
		{"{\"a\":\"\xff\"}", false},
		{`{"a":"` + strings.Repeat("x", steward.MaxJSONBytes) + `"}`, false},
		{`{"a":"` + strings.Repeat("x", steward.MaxJSONBytes-10) + `"}`, true},
	} {
		if got := steward.CheckRawJSON([]byte(c.raw)) == ""; got != c.ok {
			t.Errorf("CheckRawJSON(%.60s) accepts = %v, want %v", c.raw, got, c.ok)
		}
	}
}

// fieldsOf returns the fields a VALIDATION_FAILED error names.
func fieldsOf(t *testing.T, err error) map[string]any {
	t.Helper()
	if err == nil {
		return nil
	}
	var e *steward.Error
	if !errors.As(err, &e) || e.Code != steward.CodeValidation {
		t.Fatalf("error %v is not VALIDATION_FAILED", err)
	}
	f, _ := e.Details["fields"].(map[string]any)
	return f
}

func TestValidateInputNamesEveryField(t *testing.T) {
	far := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	old := time.Date(1969, 1, 1, 0, 0, 0, 0, time.UTC)
	var patch steward.UserPatch
	if err := json.Unmarshal([]byte(`{"name":"a\u0000","email":null,"metadata":{"k":"\u0001"},"tags":["ok","\u0002"]}`), &patch); err != nil {
		t.Fatal(err)
	}
	var tpatch steward.TenantPatch
	if err := json.Unmarshal([]byte(`{"notes":"ok\n","features":`+deep(40)+`,"limits":{"max_users":null}}`), &tpatch); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		in   any
		want []string
	}{
		{"user create", &steward.UserCreate{Email: "a@x.test", Name: "n\x00", Role: "user\x00",
			Metadata: map[string]any{"a": map[string]any{"b\x00": 1}}, Tags: []string{"a", "b\x01"}},
			[]string{"name", "role", "metadata", "tags[1]"}},
		{"user patch (merge patch values)", &patch, []string{"name", "metadata", "tags[1]"}},
		{"tenant patch", &tpatch, []string{"features"}},
		{"ban", &steward.BanInput{Reason: "ok\n\t", ExpiresAt: &far}, []string{"expires_at"}},
		{"grant", &steward.GrantInput{TenantID: "t", Description: "d\r", ExpiresAt: &old}, []string{"description", "expires_at"}},
		{"usage batch", &steward.UsageBatch{Events: []steward.UsageEventInput{
			{ID: "ok", OccurredAt: &far}, {ID: "e\x00", Metric: "m\n"}}},
			[]string{"events[0].occurred_at", "events[1].id", "events[1].metric"}},
		{"bulk params", &steward.BulkRequest{UserIDs: []string{"usr_1"}, Action: "notify",
			Params: json.RawMessage(`{"subject":"s","message":"\u0000"}`)}, []string{"params"}},
		{"tenant create", &steward.TenantCreate{Name: "T", Features: map[string]any{"x\n": true}, Notes: "a\nb"},
			[]string{"features"}},
		{"key create", &steward.KeyCreate{Name: "k", Scopes: []steward.Permission{"users:read", "x\x00"},
			AllowedIPs: []string{"10.0.0.1\x00"}}, []string{"scopes[1]", "allowed_ips[0]"}},
		{"login", &steward.LoginInput{Email: "root@x.test\x00", Password: "pw\tok"}, []string{"email"}},
		{"anonymous struct", &struct {
			Reason string `json:"reason"`
			Token  string `json:"session_token"`
			Hidden string `json:"-"`
		}{"ok\n", "t\x00", "\x00"}, []string{"session_token"}},
		{"clean", &steward.UserCreate{Email: "a@x.test", Name: "Zoë", Metadata: map[string]any{"note": "x\ny"}}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := fieldsOf(t, steward.ValidateInput(c.in))
			if len(got) != len(c.want) {
				t.Errorf("fields %v, want %v", got, c.want)
			}
			for _, w := range c.want {
				if got[w] == nil {
					t.Errorf("fields %v do not name %s", got, w)
				}
			}
		})
	}
}

// FuzzCheckText: whatever CheckText accepts is valid UTF-8 without NUL or
// another C0 control (tab and newline only as free text).
func FuzzCheckText(f *testing.F) {
	for _, s := range []string{"", "plain", "a\x00b", "a\tb\n", "\xff", "é\r", "🙂\x1f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, free := range []bool{false, true} {
			if steward.CheckText(s, free) != "" {
				continue
			}
			if !utf8.ValidString(s) {
				t.Fatalf("accepted invalid UTF-8 %q", s)
			}
			for _, r := range s {
				if r < 0x20 && !(free && (r == '\t' || r == '\n')) {
					t.Fatalf("accepted %q (free %v) with control %U", s, free, r)
				}
			}
		}
	})
}
