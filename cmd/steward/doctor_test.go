package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
	"github.com/stewardhq/steward/service"
	"github.com/stewardhq/steward/store/sqlite"
)

// TestDoctorReportsATruncatedTail runs doctor's checks on both stores: the
// newest audit rows deleted in the database make it fail naming the
// checkpoint that shows the cut.
func TestDoctorReportsATruncatedTail(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		ctx := context.Background()
		c, err := a.Svc.Audit.CreateAuditCheckpoint(apptest.As(a.User(steward.RoleAdmin)))
		if err != nil {
			t.Fatal(err)
		}
		a.User(steward.RoleUser)
		var out bytes.Buffer
		if err := doctor(ctx, a.Svc, nil, &out); err != nil ||
			!strings.Contains(out.String(), "audit chain: ok (") || !strings.Contains(out.String(), "the latest "+c.ID) {
			t.Fatalf("doctor on a sound chain: %v\n%s", err, out.String())
		}
		q := "DELETE FROM audit_log WHERE seq >= ?"
		if a.Backend.Name == "postgres" {
			q = "DELETE FROM audit_log WHERE seq >= $1"
		}
		a.Backend.Exec(t, a.Store, q, c.Seq)
		out.Reset()
		err = doctor(ctx, a.Svc, nil, &out)
		if err == nil || !strings.Contains(out.String(), "audit chain: BROKEN at seq") ||
			!strings.Contains(out.String(), "checkpoint "+c.ID) || !strings.Contains(out.String(), "were deleted") {
			t.Fatalf("doctor on a cut chain: %v\n%s", err, out.String())
		}

		// Deleting the checkpoints too leaves nothing in the database to
		// show the cut; the copy in the log still does.
		a.Backend.Exec(t, a.Store, "DELETE FROM audit_checkpoints")
		out.Reset()
		if err := doctor(ctx, a.Svc, nil, &out); err != nil {
			t.Fatalf("doctor with the checkpoints deleted too: %v\n%s", err, out.String())
		}
		logged, err := service.ParseCheckpoint(c.Signature)
		if err != nil || *logged != *c {
			t.Fatalf("ParseCheckpoint = %+v, %v; want %+v", logged, err, c)
		}
		out.Reset()
		err = doctor(ctx, a.Svc, []*steward.AuditCheckpoint{logged}, &out)
		if err == nil || !strings.Contains(out.String(), "checkpoint "+c.ID) || !strings.Contains(out.String(), "were deleted") {
			t.Fatalf("doctor held to the logged checkpoint: %v\n%s", err, out.String())
		}
	})
}

var checkpointLogRe = regexp.MustCompile(`msg="audit checkpoint" id=(ckp_\S+) seq=(\d+) .* signature=(\S+)`)

// TestServeSignsCheckpointsAndSealsKeys boots the real binary's wiring with
// a secret key: the maintenance loop signs the head at start and logs it,
// the keys are stored sealed, doctor needs the secret, and a cut tail makes
// doctor exit non-zero naming the logged checkpoint.
func TestServeSignsCheckpointsAndSealsKeys(t *testing.T) {
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	dbPath := filepath.Join(t.TempDir(), "s.db")
	env := map[string]string{"STEWARD_DB": "sqlite:" + dbPath, "STEWARD_SECRET_KEY": base64.StdEncoding.EncodeToString(secret),
		"STEWARD_BOOTSTRAP_EMAIL": "ops@example.com", "STEWARD_BOOTSTRAP_PASSWORD": "checkpoint-test-password"}
	url, logs, stop := boot(t, env)
	var m []string
	for deadline := time.Now().Add(10 * time.Second); m == nil && time.Now().Before(deadline); {
		if m = checkpointLogRe.FindStringSubmatch(logs.String()); m == nil {
			time.Sleep(20 * time.Millisecond) // polling the log, bounded: not timing
		}
	}
	if m == nil {
		t.Fatalf("no checkpoint logged at start:\n%s", logs.String())
	}
	if code := login(t, url, "ops@example.com", "checkpoint-test-password"); code != 200 {
		t.Fatalf("login with a sealed key: %d", code)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()
	getenv := func(k string) string { return env[k] }
	var out bytes.Buffer
	if err := run(ctx, []string{"doctor"}, getenv, nil, &out, io.Discard); err != nil ||
		!strings.Contains(out.String(), "signing keys: ok (1, encrypted at rest)") || !strings.Contains(out.String(), "the latest "+m[1]) {
		t.Fatalf("doctor: %v\n%s", err, out.String())
	}
	noSecret := func(k string) string {
		if k == "STEWARD_SECRET_KEY" {
			return ""
		}
		return env[k]
	}
	out.Reset()
	if err := run(ctx, []string{"doctor"}, noSecret, nil, &out, io.Discard); err == nil || !strings.Contains(out.String(), "signing keys: CANNOT DECRYPT") {
		t.Fatalf("doctor without the secret: %v\n%s", err, out.String())
	}
	err := run(ctx, []string{"serve", "--addr", "127.0.0.1:0"}, noSecret, nil, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "no secret key is configured: set STEWARD_SECRET_KEY") {
		t.Fatalf("serve without the secret: %v", err)
	}
	for k, v := range map[string]string{"STEWARD_SECRET_KEY": "c2hvcnQ=", "STEWARD_AUDIT_CHECKPOINT_INTERVAL": "10s"} {
		bad := func(name string) string {
			if name == k {
				return v
			}
			return env[name]
		}
		if err := run(ctx, []string{"doctor"}, bad, nil, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), v) && !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: %v, want an error naming it", k, v, err)
		}
	}

	st, err := sqlite.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.WriterDB().Exec("DELETE FROM audit_log WHERE seq >= ?", m[2]); err != nil {
		t.Fatal(err)
	}
	st.Close()
	out.Reset()
	err = run(ctx, []string{"doctor"}, getenv, nil, &out, io.Discard)
	if err == nil || !strings.Contains(out.String(), "BROKEN") || !strings.Contains(out.String(), "checkpoint "+m[1]) {
		t.Fatalf("doctor after the cut: %v\n%s", err, out.String())
	}

	// With the checkpoints deleted as well, the logged one still shows it.
	st, err = sqlite.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.WriterDB().Exec("DELETE FROM audit_checkpoints"); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if err := run(ctx, []string{"doctor"}, getenv, nil, io.Discard, io.Discard); err != nil {
		t.Fatalf("doctor with every trace deleted from the database: %v", err)
	}
	out.Reset()
	err = run(ctx, []string{"doctor", "--checkpoint", m[3]}, getenv, nil, &out, io.Discard)
	if err == nil || !strings.Contains(out.String(), "BROKEN") || !strings.Contains(out.String(), "checkpoint "+m[1]) {
		t.Fatalf("doctor --checkpoint from the log: %v\n%s", err, out.String())
	}
	if err := run(ctx, []string{"doctor", "--checkpoint", "not-a-jws"}, getenv, nil, io.Discard, io.Discard); err == nil {
		t.Fatal("a malformed --checkpoint must be refused")
	}
}
