package service

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// Models implements steward.ModelService (docs/models.md): the catalogue is
// Config.Models, from the configuration file; the active model is data
// (store.ModelQueries), recorded at the first start with a catalogue and
// changed by Switch. A catalogue that later drops or disables the active
// model does not change it: Status reports it unhealthy until an operator
// switches, so a product is never moved to a model nobody chose.
type Models struct{ *core }

var _ steward.ModelService = (*Models)(nil)

// start records the catalogue's default as the active model when none is
// recorded yet (the first start with a catalogue), audited as a switch by
// the system. Replicas starting together record it once: the lock
// serializes them and the later ones find it set.
func (s *Models) start(ctx context.Context) error {
	def := steward.DefaultModel(s.cfg.Models)
	if def == nil {
		return nil
	}
	if _, err := s.store.ActiveModel(ctx); !errors.Is(err, store.ErrNotFound) {
		return err
	}
	ctx = steward.WithActor(ctx, steward.SystemActor)
	return s.update(ctx, func(tx store.Tx) error {
		if _, err := tx.LockActiveModel(ctx); !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return s.record(ctx, tx, nil, def.ID, "", map[string]any{"first_start": true})
	})
}

// record makes id the active model inside tx and audits the change from
// prev (nil: none) as model.switch.
func (s *Models) record(ctx context.Context, tx store.Tx, prev *steward.ActiveModel, id, reason string, meta map[string]any) error {
	a, ok := steward.ActorFrom(ctx)
	if !ok {
		a = steward.SystemActor
	}
	m := &steward.ActiveModel{ModelID: id, Since: s.now(), ActorType: a.Type, ActorID: a.ID}
	if err := tx.SetActiveModel(ctx, m); err != nil {
		return err
	}
	var before any
	if prev != nil {
		before = prev.ModelID
	}
	return s.audit(ctx, tx, event{Action: "model.switch", TargetType: "model", TargetID: id, Reason: reason,
		Changes: map[string]change{"model_id": {Before: before, After: id}}, Metadata: meta})
}

// Status implements steward.ModelService.
func (s *Models) Status(ctx context.Context) (*steward.ModelStatus, error) {
	if _, err := authorize(ctx, steward.PermConfigRead); err != nil {
		return nil, err
	}
	return s.status(ctx)
}

// Active implements steward.ModelService.
func (s *Models) Active(ctx context.Context) (*steward.ModelStatus, error) {
	if _, err := authorize(ctx, steward.PermModelsRead); err != nil {
		return nil, err
	}
	return s.status(ctx)
}

// Models implements steward.ModelService.
func (s *Models) Models(ctx context.Context) ([]*steward.Model, error) {
	if _, err := authorize(ctx, steward.PermConfigRead); err != nil {
		return nil, err
	}
	out := make([]*steward.Model, len(s.cfg.Models))
	for i, m := range s.cfg.Models {
		c := *m
		out[i] = &c
	}
	return out, nil
}

// Switch implements steward.ModelService. Switching to the model already
// active changes nothing and writes no audit entry.
func (s *Models) Switch(ctx context.Context, in *steward.ModelSwitch) (*steward.ModelStatus, error) {
	if _, err := authorize(ctx, steward.PermConfigWrite); err != nil {
		return nil, err
	}
	reason, err := validReason(in.Reason, false)
	if err != nil {
		return nil, err
	}
	id := strings.TrimSpace(in.ModelID)
	if err := s.switchable(id); err != nil {
		return nil, err
	}
	err = s.update(ctx, func(tx store.Tx) error {
		cur, err := tx.LockActiveModel(ctx)
		switch {
		case errors.Is(err, store.ErrNotFound):
			cur = nil
		case err != nil:
			return err
		case cur.ModelID == id:
			return nil
		}
		return s.record(ctx, tx, cur, id, reason, nil)
	})
	if err != nil {
		return nil, err
	}
	return s.status(ctx)
}

// switchable refuses an id that is not an enabled catalogue entry, naming
// model_id and listing the ids that are.
func (s *Models) switchable(id string) error {
	var msg string
	i := slices.IndexFunc(s.cfg.Models, func(m *steward.Model) bool { return m.ID == id })
	switch {
	case id == "":
		msg = "is required"
	case i < 0:
		msg = fmt.Sprintf("%q is not in the model catalogue", id)
	case !s.cfg.Models[i].Enabled:
		msg = fmt.Sprintf("%q is disabled in the model catalogue", id)
	default:
		return nil
	}
	enabled := enabledModels(s.cfg.Models)
	if len(enabled) == 0 {
		msg += "; no model is enabled"
	} else {
		msg += "; enabled: " + strings.Join(enabled, ", ")
	}
	return &steward.Error{Code: steward.CodeValidation, Message: "invalid model_id",
		Details: map[string]any{"fields": map[string]any{"model_id": msg}, "enabled_models": enabled}}
}

func enabledModels(models []*steward.Model) []string {
	out := []string{}
	for _, m := range models {
		if m.Enabled {
			out = append(out, m.ID)
		}
	}
	return out
}

// status is the active model with its catalogue entry, and the problems
// that make the catalogue unhealthy.
func (s *Models) status(ctx context.Context) (*steward.ModelStatus, error) {
	st := &steward.ModelStatus{Problems: []steward.ModelProblem{}, Models: len(s.cfg.Models),
		EnabledModels: enabledModels(s.cfg.Models)}
	if def := steward.DefaultModel(s.cfg.Models); def != nil {
		st.DefaultModel = &def.ID
	}
	cur, err := s.store.ActiveModel(ctx)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if cur != nil {
		st.Active = &steward.ModelActive{ModelID: cur.ModelID, Since: cur.Since}
		st.Active.SwitchedBy.Type, st.Active.SwitchedBy.ID = cur.ActorType, cur.ActorID
		if i := slices.IndexFunc(s.cfg.Models, func(m *steward.Model) bool { return m.ID == cur.ModelID }); i >= 0 {
			c := *s.cfg.Models[i]
			st.Active.Model = &c
		}
	}
	problem := func(code, msg string) {
		st.Problems = append(st.Problems, steward.ModelProblem{Code: code, Message: msg})
	}
	switch {
	case len(s.cfg.Models) == 0:
		problem(steward.ModelProblemEmpty, "no [[models]] are configured: there is no model to offer")
	case cur == nil:
		problem(steward.ModelProblemNoActive, "no model has been made active yet: restart to record the default, or switch")
	case st.Active.Model == nil:
		problem(steward.ModelProblemNotInCatalog, fmt.Sprintf("the active model %q is no longer in the configured catalogue: switch to an enabled model", cur.ModelID))
	case !st.Active.Model.Enabled:
		problem(steward.ModelProblemDisabled, fmt.Sprintf("the active model %q is disabled in the configured catalogue: switch to an enabled model", cur.ModelID))
	}
	st.Healthy = len(st.Problems) == 0
	return st, nil
}
