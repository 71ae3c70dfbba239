package main

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
	"github.com/stewardhq/steward/store/sqlite"
)

// TestDoctorCounters on both stores: a counter corrupted with raw SQL is
// reported (not healthy), repair fixes it with one audit entry and says
// what it fixed, and the next check is ok.
func TestDoctorCounters(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		ctx := context.Background()
		a.User(steward.RoleUser)
		var out bytes.Buffer
		if ok, err := doctorCounters(ctx, a.Svc, false, &out); err != nil || !ok || !strings.Contains(out.String(), "counters: ok") {
			t.Fatalf("sound counters: %v %v\n%s", ok, err, out.String())
		}
		a.Backend.Exec(t, a.Store, "INSERT INTO stat_counters (name, key, shard, value) VALUES ('tenants.status', 'active', 99, 4)")
		out.Reset()
		if ok, err := doctorCounters(ctx, a.Svc, false, &out); err != nil || ok ||
			!strings.Contains(out.String(), "counters: tenants.status[active] DRIFTED: stored 4, recounted 0") {
			t.Fatalf("a corrupt counter: %v %v\n%s", ok, err, out.String())
		}
		out.Reset()
		if ok, err := doctorCounters(ctx, a.Svc, true, &out); err != nil || !ok ||
			!strings.Contains(out.String(), "counters: tenants.status[active] REPAIRED: was 4, set to the recount 0") {
			t.Fatalf("repair: %v %v\n%s", ok, err, out.String())
		}
		entries, err := a.Store.ListAudit(ctx, steward.AuditFilter{Action: "counters.repair", Limit: 5})
		if err != nil || len(entries) != 1 || entries[0].ActorID != steward.SystemActor.ID {
			t.Fatalf("audit entries %+v, %v", entries, err)
		}
		out.Reset()
		if ok, err := doctorCounters(ctx, a.Svc, false, &out); err != nil || !ok || !strings.Contains(out.String(), "counters: ok") {
			t.Fatalf("after the repair: %v %v\n%s", ok, err, out.String())
		}
	})
}

// TestDoctorRepairFlag runs the command: doctor exits non-zero on a
// drifted counter, doctor --repair fixes it and exits zero, and doctor
// passes again.
func TestDoctorRepairFlag(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	env := map[string]string{"STEWARD_DB": "sqlite:" + path}
	getenv := func(k string) string { return env[k] }
	ctx := context.Background()
	if err := run(ctx, []string{"bootstrap"}, getenv, nil, io.Discard, io.Discard); err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = st.WriterDB().ExecContext(ctx, "UPDATE stat_counters SET value = value + 2 WHERE name = 'users.role' AND key = 'super_admin'")
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run(ctx, []string{"doctor"}, getenv, nil, &out, io.Discard); err == nil ||
		!strings.Contains(out.String(), "counters: users.role[super_admin] DRIFTED: stored 3, recounted 1") {
		t.Fatalf("doctor on a drifted counter: %v\n%s", err, out.String())
	}
	out.Reset()
	if err := run(ctx, []string{"doctor", "--repair"}, getenv, nil, &out, io.Discard); err != nil ||
		!strings.Contains(out.String(), "counters: users.role[super_admin] REPAIRED: was 3, set to the recount 1") ||
		!strings.Contains(out.String(), "audit chain: ok") {
		t.Fatalf("doctor --repair: %v\n%s", err, out.String())
	}
	out.Reset()
	if err := run(ctx, []string{"doctor"}, getenv, nil, &out, io.Discard); err != nil || !strings.Contains(out.String(), "counters: ok") {
		t.Fatalf("doctor after the repair: %v\n%s", err, out.String())
	}
}
