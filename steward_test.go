package steward_test

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
)

func TestPermissionTable(t *testing.T) {
	cases := []struct {
		role steward.Role
		can  []steward.Permission
		not  []steward.Permission
	}{
		{steward.RoleUser, nil, []steward.Permission{steward.PermUsersRead, steward.PermAuditRead}},
		{steward.RoleSupport, []steward.Permission{steward.PermUsersRead, steward.PermAuditRead, steward.PermSessionsRead},
			[]steward.Permission{steward.PermUsersWrite, steward.PermUsersBan, steward.PermAuditExport}},
		{steward.RoleAdmin, []steward.Permission{steward.PermUsersWrite, steward.PermUsersBan, steward.PermSessionsRevoke, steward.PermAuditExport},
			[]steward.Permission{steward.PermUsersDelete, steward.PermUsersRole, steward.PermUsersImpersonate, steward.PermConfigWrite}},
		{steward.RoleOwner, []steward.Permission{steward.PermUsersDelete, steward.PermUsersRole, steward.PermUsersImpersonate, steward.PermRetentionRun},
			nil},
		{steward.RoleSuperAdmin, steward.AllPermissions(), nil},
	}
	for _, c := range cases {
		for _, p := range c.can {
			if !c.role.Can(p) {
				t.Errorf("%s should hold %s", c.role, p)
			}
		}
		for _, p := range c.not {
			if c.role.Can(p) {
				t.Errorf("%s should not hold %s", c.role, p)
			}
		}
	}
	// Each rank holds everything the rank below holds.
	for i := 1; i < len(steward.Roles); i++ {
		for _, p := range steward.AllPermissions() {
			if steward.Roles[i-1].Can(p) && !steward.Roles[i].Can(p) {
				t.Errorf("%s lacks %s that %s holds", steward.Roles[i], p, steward.Roles[i-1])
			}
		}
	}
	if steward.Role("root").Valid() || steward.Role("root").Rank() != -1 || steward.Role("root").Can(steward.PermUsersRead) {
		t.Error("unknown role must hold nothing")
	}
}

func TestValidation(t *testing.T) {
	for email, ok := range map[string]bool{"a@b.co": true, "admin@localhost": true, "x": false, "a@b": false,
		"Name <a@b.co>": false, "": false, strings.Repeat("a", 250) + "@b.co": false} {
		if got := steward.ValidateEmail(email) == ""; got != ok {
			t.Errorf("ValidateEmail(%q) ok=%v, want %v", email, got, ok)
		}
	}
	for name, ok := range map[string]bool{"": true, "ab": true, "a": false, "Ab": false, "a.b_c-9": true, strings.Repeat("a", 33): false} {
		if got := steward.ValidateUsername(name) == ""; got != ok {
			t.Errorf("ValidateUsername(%q) ok=%v, want %v", name, got, ok)
		}
	}
	if steward.ValidatePassword("1234567") == "" || steward.ValidatePassword("12345678") != "" || steward.ValidatePassword("ééééééé") == "" {
		t.Error("password length rule is 8 characters")
	}
	err := steward.FieldErrors{"email": "bad", "name": "long"}.Err()
	e, _ := err.(*steward.Error)
	if e == nil || e.Code != steward.CodeValidation || len(e.Details["fields"].(map[string]any)) != 2 {
		t.Fatalf("FieldErrors.Err = %#v", err)
	}
}

func TestEffectiveStatus(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	past, future := now.Add(-time.Second), now.Add(time.Second)
	u := &steward.User{Status: steward.StatusBanned, Ban: &steward.Ban{ExpiresAt: &past}}
	if u.EffectiveStatus(now) != steward.StatusActive || !u.IsActive(now) {
		t.Error("an expired ban must stop counting")
	}
	u.Ban.ExpiresAt = &future
	if u.IsActive(now) {
		t.Error("a running ban counts")
	}
	u.Ban.ExpiresAt = nil
	if u.IsActive(now.Add(1000 * time.Hour)) {
		t.Error("a ban without expiry is permanent")
	}
}

func TestAuditHashCoversEveryField(t *testing.T) {
	base := steward.AuditEntry{ID: "aud_1", Seq: 1, Time: time.Unix(1, 0), ActorType: "operator", ActorID: "usr_1",
		Action: "user.ban", TargetType: "user", TargetID: "usr_2", Changes: json.RawMessage(`{"a":1}`)}
	h := base.ComputeHash()
	mutations := []func(e *steward.AuditEntry){
		func(e *steward.AuditEntry) { e.Seq = 2 },
		func(e *steward.AuditEntry) { e.Time = e.Time.Add(time.Microsecond) },
		func(e *steward.AuditEntry) { e.ActorID = "usr_9" },
		func(e *steward.AuditEntry) { e.Action = "user.unban" },
		func(e *steward.AuditEntry) { e.Reason = "x" },
		func(e *steward.AuditEntry) { e.Changes = json.RawMessage(`{"a":2}`) },
		func(e *steward.AuditEntry) { e.Metadata = json.RawMessage(`{}`) },
		func(e *steward.AuditEntry) { e.IP = "1.2.3.4" },
		func(e *steward.AuditEntry) { e.PrevHash = "00" },
	}
	for i, m := range mutations {
		e := base
		m(&e)
		if e.ComputeHash() == h {
			t.Errorf("mutation %d does not change the hash", i)
		}
	}
	// The hash does not depend on the time zone a store hands back.
	e := base
	e.Time = e.Time.In(time.FixedZone("X", 3600))
	if e.ComputeHash() != h {
		t.Error("hash depends on the time zone")
	}
}

func TestOptionalTellsAbsentFromNull(t *testing.T) {
	var p steward.UserPatch
	if err := json.Unmarshal([]byte(`{"name": null, "email": "a@b.co"}`), &p); err != nil {
		t.Fatal(err)
	}
	if !p.Name.Set || !p.Name.Null || !p.Email.Set || p.Email.Null || p.Email.Value != "a@b.co" || p.Tags.Set {
		t.Fatalf("patch = %+v", p)
	}
}

// The root package and what a product imports stay free of database drivers.
func TestRootPackageImportsNoDriver(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/stewardhq/steward").Output()
	if err != nil {
		t.Skipf("go list unavailable: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.Contains(dep, "pgx") || strings.Contains(dep, "sqlite") || strings.Contains(dep, "goose") {
			t.Errorf("root package depends on %s", dep)
		}
	}
}
