package main

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stewardhq/steward/store/sqlite"
)

// TestOperatorBreakGlass: with the server running, the only super_admin is
// held by the login throttle; `steward operator unlock` run beside it lifts
// that at once, and `steward operator reset-password` sets a password from
// stdin or generates one. Both are in the audit log as system/cli.
func TestOperatorBreakGlass(t *testing.T) {
	env := map[string]string{"STEWARD_DB": "sqlite:" + filepath.Join(t.TempDir(), "s.db"),
		"STEWARD_BOOTSTRAP_EMAIL": "owner@example.com", "STEWARD_BOOTSTRAP_PASSWORD": "the-first-password"}
	getenv := func(k string) string { return env[k] }
	url, _, stop := boot(t, env)
	defer stop()
	operator := func(stdin string, args ...string) (string, error) {
		var out bytes.Buffer
		err := run(context.Background(), append([]string{"operator"}, args...), getenv, strings.NewReader(stdin), &out, io.Discard)
		return out.String(), err
	}

	for i := 0; i < 10; i++ {
		if code := login(t, url, "owner@example.com", "not-the-password"); code != 401 {
			t.Fatalf("failure %d: %d", i+1, code)
		}
	}
	if code := login(t, url, "owner@example.com", "the-first-password"); code != 429 {
		t.Fatalf("after ten failures from this address: %d, want 429", code)
	}
	out, err := operator("", "unlock", "Owner@Example.com")
	if err != nil || !strings.Contains(out, "login throttles on owner@example.com") {
		t.Fatalf("unlock: %v %q", err, out)
	}
	if code := login(t, url, "owner@example.com", "the-first-password"); code != 200 {
		t.Fatalf("login after unlock: %d", code)
	}

	if out, err = operator("a-password-from-stdin\n", "reset-password", "owner@example.com"); err != nil || strings.Contains(out, "new password") {
		t.Fatalf("reset-password from stdin: %v %q", err, out)
	}
	if code := login(t, url, "owner@example.com", "the-first-password"); code != 401 {
		t.Fatalf("the old password after a reset: %d", code)
	}
	if code := login(t, url, "owner@example.com", "a-password-from-stdin"); code != 200 {
		t.Fatalf("the password from stdin: %d", code)
	}
	out, err = operator("", "reset-password", "owner@example.com")
	m := regexp.MustCompile(`new password \(shown once\): (\S+)`).FindStringSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("reset-password with an empty stdin: %v %q", err, out)
	}
	if code := login(t, url, "owner@example.com", m[1]); code != 200 {
		t.Fatalf("the generated password: %d", code)
	}
	if out, err = operator("ignored\n", "reset-password", "--generate", "owner@example.com"); err != nil || !strings.Contains(out, "new password") {
		t.Fatalf("reset-password --generate: %v %q", err, out)
	}

	if _, err := operator("", "unlock", "nobody@example.com"); err == nil || !strings.Contains(err.Error(), "no user has the email") {
		t.Fatalf("unlock of an unknown email: %v", err)
	}
	if _, err := operator("short\n", "reset-password", "owner@example.com"); err == nil || !strings.Contains(err.Error(), "at least 8") {
		t.Fatalf("a too-short password: %v", err)
	}
	if _, err := operator("", "unlock"); err == nil {
		t.Fatal("unlock without an email must fail")
	}

	// The audit log names the actor system/cli for each.
	st, err := sqlite.Open(context.Background(), strings.TrimPrefix(env["STEWARD_DB"], "sqlite:"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for action, want := range map[string]int{"auth.unlock": 1, "user.password_change": 3} {
		rows, err := st.WriterDB().Query("SELECT actor_type, actor_id FROM audit_log WHERE action = ?", action)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for rows.Next() {
			var typ, id string
			if err := rows.Scan(&typ, &id); err != nil {
				t.Fatal(err)
			}
			if typ != "system" || id != "cli" {
				t.Errorf("%s by %s/%s, want system/cli", action, typ, id)
			}
			n++
		}
		rows.Close()
		if n != want {
			t.Errorf("%d %s entries, want %d", n, action, want)
		}
	}
}
