package steward

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// The model catalogue (docs/models.md): the models the product may use, from
// the configuration file's [[models]], and which one is active, which is
// data an operator switches at run time.

// PermModelsRead lets a platform key call GET /platform/models/active (admin
// and up, like the other platform permissions).
const PermModelsRead Permission = "models:read"

// Model is one entry of the catalogue. Prices are in micro-units of the
// operator's currency per million tokens.
type Model struct {
	ID                  string `json:"id"`
	Name                string `json:"name"`
	Provider            string `json:"provider"`
	ContextWindow       int64  `json:"context_window"`
	InputMicrosPerMtok  int64  `json:"input_micros_per_mtok"`
	OutputMicrosPerMtok int64  `json:"output_micros_per_mtok"`
	Enabled             bool   `json:"enabled"`
	Default             bool   `json:"default"`
}

// ModelConfig is a model as written in the configuration file: Enabled may
// be left out and is then true.
type ModelConfig struct {
	ID                  string `json:"id"`
	Name                string `json:"name"`
	Provider            string `json:"provider"`
	ContextWindow       int64  `json:"context_window"`
	InputMicrosPerMtok  int64  `json:"input_micros_per_mtok"`
	OutputMicrosPerMtok int64  `json:"output_micros_per_mtok"`
	Enabled             *bool  `json:"enabled"`
	Default             bool   `json:"default"`
}

// Bounds of a catalogue entry.
const (
	maxModels           = 1000
	maxModelTextLen     = 200
	maxModelContext     = 1_000_000_000
	maxModelPricePerMtk = MaxLimitValue
)

// modelIDRe is the usage events' model field's alphabet, so that every
// catalogue id can be named by an event and priced.
var modelIDRe = regexp.MustCompile(`^[A-Za-z0-9._:/-]{1,64}$`)

// ParseModels reads a JSON array of ModelConfig (the file's [[models]],
// through its JSON form) and validates the catalogue. Unknown fields are an
// error.
func ParseModels(data []byte) ([]*Model, error) {
	var docs []ModelConfig
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&docs); err != nil {
		return nil, fmt.Errorf("models: %w", err)
	}
	models := make([]*Model, len(docs))
	for i, d := range docs {
		models[i] = &Model{ID: d.ID, Name: strings.TrimSpace(d.Name), Provider: strings.TrimSpace(d.Provider),
			ContextWindow: d.ContextWindow, InputMicrosPerMtok: d.InputMicrosPerMtok,
			OutputMicrosPerMtok: d.OutputMicrosPerMtok, Enabled: d.Enabled == nil || *d.Enabled, Default: d.Default}
	}
	return models, ValidateModels(models)
}

// ValidateModels checks a catalogue: each entry's fields, unique ids, and
// exactly one default, which must be enabled. An empty catalogue is valid
// (no models are offered). Errors name the model by index and id, and the
// field: "models[1] (large-2): context_window must be …".
func ValidateModels(models []*Model) error {
	if len(models) > maxModels {
		return fmt.Errorf("models: at most %d models", maxModels)
	}
	seen := map[string]bool{}
	var defaults []string
	for i, m := range models {
		where := fmt.Sprintf("models[%d] (%s)", i, m.ID)
		fe := FieldErrors{}
		switch {
		case !modelIDRe.MatchString(m.ID):
			fe.Add("id", "must be 1-64 characters of letters, digits, '.', '_', ':', '/' or '-'")
		case seen[m.ID]:
			fe.Add("id", "is used by an earlier model")
		}
		seen[m.ID] = true
		for field, v := range map[string]string{"name": m.Name, "provider": m.Provider} {
			switch {
			case v == "":
				fe.Add(field, "is required")
			case utf8.RuneCountInString(v) > maxModelTextLen:
				fe.Add(field, fmt.Sprintf("must be at most %d characters", maxModelTextLen))
			}
		}
		if m.ContextWindow < 1 || m.ContextWindow > maxModelContext {
			fe.Add("context_window", fmt.Sprintf("must be between 1 and %d tokens", maxModelContext))
		}
		if m.InputMicrosPerMtok < 0 || m.InputMicrosPerMtok > maxModelPricePerMtk {
			fe.Add("input_micros_per_mtok", fmt.Sprintf("must be between 0 and %d", int64(maxModelPricePerMtk)))
		}
		if m.OutputMicrosPerMtok < 0 || m.OutputMicrosPerMtok > maxModelPricePerMtk {
			fe.Add("output_micros_per_mtok", fmt.Sprintf("must be between 0 and %d", int64(maxModelPricePerMtk)))
		}
		if m.Default {
			if !m.Enabled {
				fe.Add("default", "is true on a disabled model: the default must be enabled")
			}
			defaults = append(defaults, m.ID)
		}
		if len(fe) > 0 {
			var parts []string
			for _, k := range slices.Sorted(maps.Keys(fe)) {
				parts = append(parts, k+" "+fe[k])
			}
			return fmt.Errorf("%s: %s", where, strings.Join(parts, "; "))
		}
	}
	switch {
	case len(models) == 0:
	case len(defaults) == 0:
		return fmt.Errorf("models: exactly one enabled model must have default = true; none has")
	case len(defaults) > 1:
		return fmt.Errorf("models: exactly one enabled model must have default = true; %s all have", strings.Join(defaults, ", "))
	}
	return nil
}

// DefaultModel is the catalogue's default, or nil when it is empty.
func DefaultModel(models []*Model) *Model {
	for _, m := range models {
		if m.Default {
			return m
		}
	}
	return nil
}

// ActiveModel is the stored choice: which model is active, since when, and
// who chose it (the system at first start, or an operator's switch).
type ActiveModel struct {
	ModelID   string    `json:"model_id"`
	Since     time.Time `json:"since"`
	ActorType string    `json:"actor_type"`
	ActorID   string    `json:"actor_id"`
}

// ModelActive is the active model as the endpoints show it: the stored
// choice and its catalogue entry, null when the catalogue no longer has it.
type ModelActive struct {
	ModelID    string    `json:"model_id"`
	Model      *Model    `json:"model"`
	Since      time.Time `json:"since"`
	SwitchedBy struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	} `json:"switched_by"`
}

// Catalogue health problems (ModelStatus.Problems).
const (
	ModelProblemEmpty        = "catalogue_empty"         // no [[models]] configured
	ModelProblemNoActive     = "no_active_model"         // models configured, none recorded active yet
	ModelProblemNotInCatalog = "active_not_in_catalogue" // the active model was removed from the file
	ModelProblemDisabled     = "active_disabled"         // the active model was disabled in the file
)

// ModelProblem is one reason the catalogue is not healthy.
type ModelProblem struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// ModelStatus is GET /admin/optimal/status and GET /platform/models/active:
// the active model (null with an empty catalogue) and the catalogue's
// health. Healthy means a model is active and it is an enabled entry.
type ModelStatus struct {
	Active        *ModelActive   `json:"active"`
	Healthy       bool           `json:"healthy"`
	Problems      []ModelProblem `json:"problems"`
	Models        int            `json:"models"`
	EnabledModels []string       `json:"enabled_models"`
	DefaultModel  *string        `json:"default_model"`
}

// ModelSwitch is POST /admin/optimal/models/switch.
type ModelSwitch struct {
	ModelID string `json:"model_id"`
	Reason  string `json:"reason"`
}

// ModelService is the model catalogue (docs/models.md).
type ModelService interface {
	// Status is the active model and the catalogue's health (config:read).
	Status(ctx context.Context) (*ModelStatus, error)
	// Models lists the catalogue in the file's order (config:read).
	Models(ctx context.Context) ([]*Model, error)
	// Switch makes an enabled model active, audited as model.switch
	// (config:write). An unknown or disabled model is VALIDATION_FAILED
	// naming model_id and listing the enabled ids.
	Switch(ctx context.Context, in *ModelSwitch) (*ModelStatus, error)
	// Active is Status for the product (models:read, platform keys).
	Active(ctx context.Context) (*ModelStatus, error)
}
