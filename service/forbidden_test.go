package service

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stewardhq/steward"
)

// TestForbiddenNamesTheScopeOrTheRole: a key whose role allows an action
// but whose scopes do not is told the missing scope, not its role.
func TestForbiddenNamesTheScopeOrTheRole(t *testing.T) {
	key := steward.Actor{Type: steward.ActorOperator, ID: "usr_1", Role: steward.RoleSuperAdmin,
		Scopes: []steward.Permission{steward.PermUsersRead}}
	_, err := authorize(steward.WithActor(context.Background(), key), steward.PermUsersWrite)
	var se *steward.Error
	if !errors.As(err, &se) || se.Code != steward.CodeForbidden {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(se.Message, "scope "+string(steward.PermUsersWrite)) || strings.Contains(se.Message, "role") ||
		se.Details["missing_scope"] != string(steward.PermUsersWrite) || se.Details["role"] != nil {
		t.Fatalf("a key lacking a scope: %q %v", se.Message, se.Details)
	}

	role := steward.Actor{Type: steward.ActorOperator, ID: "usr_2", Role: steward.RoleSupport}
	_, err = authorize(steward.WithActor(context.Background(), role), steward.PermUsersRole)
	if !errors.As(err, &se) || !strings.Contains(se.Message, "role support") ||
		se.Details["role"] != "support" || se.Details["missing_scope"] != nil {
		t.Fatalf("a role lacking a permission: %v %v", err, se.Details)
	}
}
