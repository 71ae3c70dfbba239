package service

import (
	"context"
	"errors"
	"maps"
	"strings"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// slugHint adds details.hint to err, a "no such tenant" answer for ref,
// when ref is a tenant's slug where its id was expected: "acme is a slug;
// its id is ten_…". Anything else returns err unchanged.
func slugHint(ctx context.Context, q store.Queries, ref string, err error) error {
	var se *steward.Error
	if ref == "" || strings.HasPrefix(ref, "ten_") || len(ref) > 64 || !errors.As(err, &se) {
		return err
	}
	t, lerr := q.GetTenantBySlug(ctx, ref)
	if lerr != nil {
		return err
	}
	details := maps.Clone(se.Details)
	if details == nil {
		details = map[string]any{}
	}
	details["hint"] = ref + " is a slug; its id is " + t.ID
	return &steward.Error{Code: se.Code, Message: se.Message, Details: details}
}
