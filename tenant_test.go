package steward_test

import (
	"strings"
	"testing"

	"github.com/stewardhq/steward"
)

func TestValidateSlug(t *testing.T) {
	for _, good := range []string{"a", "acme-corp", "a1-b2", strings.Repeat("a", 48)} {
		if msg := steward.ValidateSlug(good); msg != "" {
			t.Errorf("%q refused: %s", good, msg)
		}
	}
	for _, bad := range []string{"", "-a", "a-", "A", "a_b", strings.Repeat("a", 49)} {
		if steward.ValidateSlug(bad) == "" {
			t.Errorf("%q passed as a slug", bad)
		}
	}
}

func TestLimitsOver(t *testing.T) {
	n := func(v int64) *int64 { return &v }
	plan := steward.TenantLimits{MaxUsers: n(3), MaxConcurrentTasks: n(1)}
	got := plan.Over(steward.TenantLimits{MaxUsers: n(10), MaxDailyTasks: n(0)})
	if *got.MaxUsers != 10 || *got.MaxConcurrentTasks != 1 || *got.MaxDailyTasks != 0 {
		t.Fatalf("%+v", got)
	}
}

func TestDefaultPlansAreValid(t *testing.T) {
	if err := steward.ValidatePlans(steward.DefaultPlans()); err != nil {
		t.Fatal(err)
	}
}

func TestParsePlans(t *testing.T) {
	plans, err := steward.ParsePlans([]byte(`{"plans": [
		{"id": "hobby", "name": "Hobby", "included_credits": 500, "limits": {"max_users": 2}},
		{"id": "team", "name": "Team", "price_cents": 4900, "currency": "EUR", "period": "year", "features": {"sso": true}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(plans) != 2 || plans[0].Currency != "USD" || plans[0].Period != "month" || *plans[0].Limits.MaxUsers != 2 ||
		plans[0].Limits.MaxDailyTasks != nil || plans[1].Features["sso"] != true || plans[0].Features == nil {
		t.Fatalf("%+v %+v", plans[0], plans[1])
	}
	bad := map[string]string{
		`{"plans": []}`: "at least one plan",
		`{"plans": [{"id": "a", "name": "A"}, {"id": "a", "name": "B"}]}`:        "plans[1] (a): id is used by an earlier plan",
		`{"plans": [{"id": "Big Plan", "name": "A"}]}`:                           "id must be",
		`{"plans": [{"id": "a"}]}`:                                               "name is required",
		`{"plans": [{"id": "a", "name": "A", "currency": "usd"}]}`:               "currency",
		`{"plans": [{"id": "a", "name": "A", "period": "week"}]}`:                "period must be month or year",
		`{"plans": [{"id": "a", "name": "A", "limits": {"max_users": -1}}]}`:     "limits.max_users",
		`{"plans": [{"id": "a", "name": "A", "price": 5}]}`:                      `unknown field "price"`,
		`{"plans": [{"id": "a", "name": "A", "features": {"No Spaces": true}}]}`: "features",
		`{"plans": [{"id": "a", "name": "A", "included_credits": -5}]}`:          "included_credits",
		`{"plans": [{"id": "a", "name": "A"}]} {}`:                               "trailing data",
		`{"plans": [null]}`: "plans[0]: is null",
		`{"plans": [{"id": "a", "name": "A", "limits": {"max_users": 1, "seats": 2}}]}`: `unknown field "seats"`,
	}
	for in, want := range bad {
		if _, err := steward.ParsePlans([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want an error containing %q", in, err, want)
		}
	}
}
