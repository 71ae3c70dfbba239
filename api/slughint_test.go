package api_test

import (
	"testing"

	"github.com/stewardhq/steward"
)

// TestSlugWhereAnIDIsExpected: a tenant's slug in a body's tenant_id is
// refused as before, with a hint naming the id to use; an unknown value
// gets no hint.
func TestSlugWhereAnIDIsExpected(t *testing.T) {
	hint := "{t_slug} is a slug; its id is {t}"
	runScenarios(t, []scenario{
		{Name: "slug hint: credit grant", Method: post, Path: creditsPath + "/grant", Token: "{root}",
			Setup: func(f *fix) { f.tenant("t", nil) },
			Body:  M{"tenant_id": "{t_slug}", "amount": 5, "description": "x"}, Status: 404,
			Want: M{"code": steward.CodeNotFound, "details.hint": hint}},
		{Name: "slug hint: admin key for a tenant", Method: post, Path: keysPath, Token: "{root}",
			Setup: func(f *fix) { f.tenant("t", nil) },
			Body:  M{"name": "k", "key_type": "admin", "tenant_id": "{t_slug}"}, Status: 422,
			Want: M{"code": steward.CodeValidation, "details.fields.tenant_id": "no such tenant", "details.hint": hint}},
		{Name: "slug hint: user in a tenant", Method: post, Path: usersPath, Token: "{root}",
			Setup: func(f *fix) { f.tenant("t", nil) },
			Body:  M{"email": "slug-hint@example.com", "tenant_id": "{t_slug}"}, Status: 422,
			Want: M{"code": steward.CodeValidation, "details.fields.tenant_id": "no such tenant", "details.hint": hint}},
		{Name: "slug hint: none for an unknown tenant", Method: post, Path: creditsPath + "/grant", Token: "{root}",
			Body: M{"tenant_id": "nobody-here", "amount": 5, "description": "x"}, Status: 404,
			Want: M{"code": steward.CodeNotFound, "details.hint": absent()}},
	})
}
