package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTrustedIssuersFile: a good file is read through the flag or the
// environment; a bad one stops start-up naming the entry and the field, and
// a missing one stops it too.
func TestTrustedIssuersFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "issuers.json")
	if err := os.WriteFile(good, []byte(`[{"issuer": "https://idp.example", "audience": "steward",
		"jwks_url": "https://idp.example/jwks", "max_role": "support", "provision": true}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	c := config{IssuersFile: good}
	iss, err := c.trustedIssuers()
	if err != nil || len(iss) != 1 || iss[0].Issuer != "https://idp.example" || iss[0].MaxRole != "support" ||
		!iss[0].Provision || iss[0].EmailClaim != "email" {
		t.Fatalf("good file: %+v %v", iss, err)
	}

	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`[{"issuer": "https://idp.example", "audience": "steward",
		"jwks_url": "https://idp.example/jwks", "max_role": "boss"}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, args := range map[string][]string{
		"env":  {"serve", "--addr", "127.0.0.1:0"},
		"flag": {"serve", "--addr", "127.0.0.1:0", "--trusted-issuers", bad},
	} {
		env := map[string]string{"STEWARD_DB": "sqlite:" + filepath.Join(dir, "s.db")}
		if name == "env" {
			env["STEWARD_TRUSTED_ISSUERS"] = bad
		}
		err := run(context.Background(), args, func(k string) string { return env[k] }, nil, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), `entry 1 ("https://idp.example"): max_role`) {
			t.Fatalf("%s: a bad issuer file: %v", name, err)
		}
	}
	missing := func(k string) string {
		return map[string]string{"STEWARD_DB": "sqlite:" + filepath.Join(dir, "s.db"),
			"STEWARD_TRUSTED_ISSUERS": filepath.Join(dir, "missing.json")}[k]
	}
	if err := run(context.Background(), []string{"serve"}, missing, nil, io.Discard, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "trusted issuers") {
		t.Fatalf("a missing issuer file: %v", err)
	}
}
