package service

import (
	"slices"

	"github.com/stewardhq/steward"
)

// forbidden says what stopped the actor: the role, when the role itself
// lacks perm, or else the key's scopes, naming the missing scope (a key
// with too few scopes is not a role problem, and saying so sent people
// looking at the wrong setting).
func forbidden(a steward.Actor, perm steward.Permission) *steward.Error {
	if !a.Role.Can(perm) {
		return &steward.Error{Code: steward.CodeForbidden,
			Message: "your role " + string(a.Role) + " does not allow " + string(perm),
			Details: map[string]any{"required_permission": string(perm), "role": string(a.Role)}}
	}
	scopes := make([]string, 0, len(a.Scopes))
	for _, sc := range a.Scopes {
		scopes = append(scopes, string(sc))
	}
	slices.Sort(scopes)
	return &steward.Error{Code: steward.CodeForbidden,
		Message: "this API key lacks the scope " + string(perm),
		Details: map[string]any{"required_permission": string(perm), "missing_scope": string(perm),
			"key_scopes": scopes}}
}
