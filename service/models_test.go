package service_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
	"github.com/stewardhq/steward/internal/password"
	"github.com/stewardhq/steward/internal/testdb"
	"github.com/stewardhq/steward/service"
)

// testCatalogue is large-2 (default), small-1 and the disabled old-0.
func testCatalogue() []*steward.Model {
	return []*steward.Model{
		{ID: "large-2", Name: "Large 2", Provider: "acme", ContextWindow: 200_000,
			InputMicrosPerMtok: 3_000_000, OutputMicrosPerMtok: 15_000_000, Enabled: true, Default: true},
		{ID: "small-1", Name: "Small 1", Provider: "acme", ContextWindow: 32_000,
			InputMicrosPerMtok: 1, OutputMicrosPerMtok: 1_000_000_000_000, Enabled: true},
		{ID: "old-0", Name: "Old 0", Provider: "legacy", ContextWindow: 8_000, Enabled: false},
	}
}

func withModels(models []*steward.Model) apptest.Options {
	return apptest.Options{Service: func(c *service.Config) { c.Models = models }}
}

func modelAudit(t *testing.T, a *apptest.App) []*steward.AuditEntry {
	t.Helper()
	list, err := a.Store.ListAudit(context.Background(), steward.AuditFilter{Action: "model.switch", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// restartWithModels starts a second service on the app's database with catalogue
// models, as a restart with an edited configuration file would.
func restartWithModels(t *testing.T, a *apptest.App, models []*steward.Model) *service.Service {
	t.Helper()
	svc := service.New(service.Config{Store: a.Store, Now: a.Clock.Now, Password: password.Cheap,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Models: models})
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return svc
}

func problemCodes(st *steward.ModelStatus) []string {
	var out []string
	for _, p := range st.Problems {
		out = append(out, p.Code)
	}
	return out
}

// TestModelActiveLifecycle: the first start records the default as active
// (audited, by the system); an owner's switch moves it (audited with before,
// after and reason; switching to the active model writes nothing); unknown,
// disabled and missing ids are refused naming model_id and listing the
// enabled ids; only config:write may switch; the choice survives a restart
// with a different default, and a catalogue that disables or drops the
// active model leaves it active but reported unhealthy until a switch.
func TestModelActiveLifecycle(t *testing.T) {
	for _, b := range testdb.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			a := apptest.New(t, b, withModels(testCatalogue()))
			sys := apptest.System()
			start := a.Clock.Now()
			st, err := a.Svc.Models.Status(sys)
			if err != nil {
				t.Fatal(err)
			}
			if st.Active == nil || st.Active.ModelID != "large-2" || st.Active.Model == nil || st.Active.Model.Name != "Large 2" ||
				!st.Active.Since.Equal(start) || st.Active.SwitchedBy.Type != steward.ActorSystem || !st.Healthy ||
				len(st.Problems) != 0 || st.Models != 3 || !slices.Equal(st.EnabledModels, []string{"large-2", "small-1"}) ||
				st.DefaultModel == nil || *st.DefaultModel != "large-2" {
				t.Fatalf("status at first start: %+v", st)
			}
			if au := modelAudit(t, a); len(au) != 1 || au[0].TargetID != "large-2" || au[0].ActorType != steward.ActorSystem ||
				string(au[0].Metadata) != `{"first_start":true}` {
				t.Fatalf("audit after the first start: %+v", au)
			}

			owner := a.User(steward.RoleOwner)
			admin := a.User(steward.RoleAdmin)
			support := a.User(steward.RoleSupport)
			a.Clock.Advance(time.Hour)
			if _, err := a.Svc.Models.Switch(apptest.As(admin), &steward.ModelSwitch{ModelID: "small-1"}); steward.ErrorCode(err) != steward.CodeForbidden {
				t.Fatalf("an admin's switch: %v, want FORBIDDEN (config:write)", err)
			}
			st, err = a.Svc.Models.Switch(apptest.As(owner), &steward.ModelSwitch{ModelID: " small-1 ", Reason: "cheaper"})
			if err != nil {
				t.Fatal(err)
			}
			if st.Active.ModelID != "small-1" || !st.Active.Since.Equal(start.Add(time.Hour)) || st.Active.SwitchedBy.ID != owner.ID ||
				st.Active.SwitchedBy.Type != steward.ActorOperator || !st.Healthy {
				t.Fatalf("status after the switch: %+v", st.Active)
			}
			au := modelAudit(t, a)
			if len(au) != 2 || au[0].ActorID != owner.ID || au[0].TargetID != "small-1" || au[0].Reason != "cheaper" ||
				string(au[0].Changes) != `{"model_id":{"before":"large-2","after":"small-1"}}` {
				t.Fatalf("audit after the switch: %+v", au[0])
			}
			a.Clock.Advance(time.Minute)
			if st, err = a.Svc.Models.Switch(apptest.As(owner), &steward.ModelSwitch{ModelID: "small-1"}); err != nil ||
				!st.Active.Since.Equal(start.Add(time.Hour)) || len(modelAudit(t, a)) != 2 {
				t.Fatalf("switching to the active model: %v %+v, %d entries; want no change and no entry", err, st, len(modelAudit(t, a)))
			}
			for id, want := range map[string]string{
				"old-0": `"old-0" is disabled in the model catalogue; enabled: large-2, small-1`,
				"nope":  `"nope" is not in the model catalogue; enabled: large-2, small-1`,
				"":      `is required; enabled: large-2, small-1`,
			} {
				_, err := a.Svc.Models.Switch(apptest.As(owner), &steward.ModelSwitch{ModelID: id})
				var se *steward.Error
				if !errors.As(err, &se) || se.Code != steward.CodeValidation ||
					se.Details["fields"].(map[string]any)["model_id"] != want ||
					!slices.Equal(se.Details["enabled_models"].([]string), []string{"large-2", "small-1"}) {
					t.Errorf("switch to %q: %v %+v, want VALIDATION_FAILED model_id %q", id, err, se, want)
				}
			}
			if len(modelAudit(t, a)) != 2 {
				t.Fatal("a refused switch wrote an audit entry")
			}
			if _, err := a.Svc.Models.Status(apptest.As(support)); err != nil {
				t.Fatalf("support reads the status (config:read): %v", err)
			}
			if _, err := a.Svc.Models.Active(apptest.As(support)); steward.ErrorCode(err) != steward.CodeForbidden {
				t.Fatalf("support on the platform read: %v, want FORBIDDEN (models:read is admin and up)", err)
			}

			// A restart whose file makes old-0 the default keeps small-1.
			cat := testCatalogue()
			cat[0].Default, cat[2].Enabled, cat[2].Default = false, true, true
			st, err = restartWithModels(t, a, cat).Models.Status(sys)
			if err != nil || st.Active.ModelID != "small-1" || !st.Healthy || *st.DefaultModel != "old-0" || len(modelAudit(t, a)) != 2 {
				t.Fatalf("after a restart with another default: %v %+v", err, st)
			}
			// Disabled in the file: still active, reported unhealthy.
			cat = testCatalogue()
			cat[1].Enabled = false
			svc := restartWithModels(t, a, cat)
			st, err = svc.Models.Active(sys)
			if err != nil || st.Active.ModelID != "small-1" || st.Active.Model == nil || st.Healthy ||
				!slices.Equal(problemCodes(st), []string{steward.ModelProblemDisabled}) {
				t.Fatalf("after a restart disabling the active model: %v %+v", err, st)
			}
			// Dropped from the file: still active, without its entry.
			st, err = restartWithModels(t, a, testCatalogue()[:1]).Models.Status(sys)
			if err != nil || st.Active.ModelID != "small-1" || st.Active.Model != nil || st.Healthy ||
				!slices.Equal(problemCodes(st), []string{steward.ModelProblemNotInCatalog}) {
				t.Fatalf("after a restart dropping the active model: %v %+v", err, st)
			}
			// The operator's switch heals it.
			if st, err = svc.Models.Switch(apptest.As(owner), &steward.ModelSwitch{ModelID: "large-2"}); err != nil || !st.Healthy {
				t.Fatalf("switching away from the disabled model: %v %+v", err, st)
			}
		})
	}
}

// TestModelCatalogueEmpty: without [[models]] nothing is recorded at start,
// the status says the catalogue is empty, and every switch is refused.
func TestModelCatalogueEmpty(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		st, err := a.Svc.Models.Status(apptest.System())
		if err != nil || st.Active != nil || st.Healthy || st.Models != 0 || len(st.EnabledModels) != 0 || st.DefaultModel != nil ||
			!slices.Equal(problemCodes(st), []string{steward.ModelProblemEmpty}) {
			t.Fatalf("status of an empty catalogue: %v %+v", err, st)
		}
		if models, err := a.Svc.Models.Models(apptest.System()); err != nil || len(models) != 0 {
			t.Fatalf("models of an empty catalogue: %v %v", err, models)
		}
		_, err = a.Svc.Models.Switch(apptest.System(), &steward.ModelSwitch{ModelID: "large-2"})
		var se *steward.Error
		if !errors.As(err, &se) || se.Details["fields"].(map[string]any)["model_id"] != `"large-2" is not in the model catalogue; no model is enabled` {
			t.Fatalf("switch in an empty catalogue: %v", err)
		}
		if n := len(modelAudit(t, a)); n != 0 {
			t.Fatalf("%d model.switch entries without a catalogue", n)
		}
		// A catalogue configured later: the next start records its default.
		st, err = restartWithModels(t, a, testCatalogue()).Models.Status(apptest.System())
		if err != nil || st.Active == nil || st.Active.ModelID != "large-2" || !st.Healthy {
			t.Fatalf("after a restart with a catalogue: %v %+v", err, st)
		}
	})
}

// TestModelFirstStartOnce: replicas starting together on one database record
// the default once.
func TestModelFirstStartOnce(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		// a has no catalogue: the replicas below are the first to have one.
		errs := make(chan error, 4)
		for range 4 {
			go func() {
				svc := service.New(service.Config{Store: a.Store, Now: a.Clock.Now, Password: password.Cheap,
					Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Models: testCatalogue()})
				errs <- svc.Start(context.Background())
			}()
		}
		for range 4 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		if n := len(modelAudit(t, a)); n != 1 {
			t.Fatalf("%d model.switch entries after four replicas' first start, want 1", n)
		}
	})
}

// TestUsagePricedFromCatalogue: an event naming a catalogue model with
// neither credits nor cost_micros is priced by its input_tokens or
// output_tokens quantity (rounded half up, exact at the largest values); an
// event with a cost or credits, another metric, or an unknown model is
// stored as sent.
func TestUsagePricedFromCatalogue(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		tn, err := a.Svc.Tenants.CreateTenant(apptest.System(), &steward.TenantCreate{Name: "Priced"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Svc.Credits.Grant(apptest.System(), &steward.GrantInput{TenantID: tn.ID, Amount: 100, Description: "funds"}); err != nil {
			t.Fatal(err)
		}
		now := a.Clock.Now()
		cases := []struct {
			metric, model     string
			quantity, credits int64
			cost, want        int64
		}{
			{"input_tokens", "large-2", 1500, 0, 0, 4500},                                    // 1500 × 3,000,000 / 1e6
			{"output_tokens", "large-2", 1, 0, 0, 15},                                        // 15,000,000 / 1e6
			{"input_tokens", "small-1", 500_000, 0, 0, 1},                                    // 0.5 rounds up
			{"input_tokens", "small-1", 499_999, 0, 0, 0},                                    // 0.499999 rounds down
			{"output_tokens", "small-1", 1_000_000_000_000, 0, 0, 1_000_000_000_000_000_000}, // 10^12 × 10^12 / 10^6
			{"input_tokens", "old-0", 10, 0, 0, 0},                                           // disabled, priced at 0
			{"input_tokens", "large-2", 1500, 0, 7, 7},                                       // the product's cost wins
			{"input_tokens", "large-2", 1500, 2, 0, 0},                                       // credits: not priced
			{"images", "large-2", 1500, 0, 0, 0},                                             // another metric
			{"input_tokens", "unknown", 1500, 0, 0, 0},                                       // not in the catalogue
		}
		var evs []steward.UsageEventInput
		for i, c := range cases {
			evs = append(evs, steward.UsageEventInput{ID: fmt.Sprint("ev-", i), TenantID: tn.ID, Metric: c.metric, Model: c.model,
				Quantity: steward.Credits(c.quantity), Credits: steward.Credits(c.credits), CostMicros: steward.Credits(c.cost), OccurredAt: &now})
		}
		res, err := a.Svc.Credits.RecordUsage(apptest.System(), &steward.UsageBatch{Events: evs})
		if err != nil || res.Recorded != len(cases) {
			t.Fatalf("RecordUsage: %v %+v", err, res)
		}
		for i, c := range cases {
			ev, err := a.Store.GetUsageEvent(context.Background(), tn.ID, fmt.Sprint("ev-", i))
			if err != nil {
				t.Fatal(err)
			}
			if ev.CostMicros != c.want || ev.Credits != c.credits {
				t.Errorf("%s of %s ×%d (cost %d, credits %d): stored cost_micros %d credits %d, want cost_micros %d",
					c.metric, c.model, c.quantity, c.cost, c.credits, ev.CostMicros, ev.Credits, c.want)
			}
		}
	}, withModels(testCatalogue()))
}
