package service

import (
	"context"
	"encoding/json"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// featuresSection is the platform tier of the feature flags in
// /admin/config.
const featuresSection = "features"

// featuresConfigSection renders every flag's platform value (its default
// when the platform sets none) and stores only the platform's overrides.
// A patched key must be a flag the platform tier may set; null resets it.
func (s *core) featuresConfigSection() configSection {
	return configSection{name: featuresSection,
		view: func(stored json.RawMessage) (any, error) {
			own, err := decodeOverrides(stored)
			if err != nil {
				return nil, err
			}
			return s.flagRegistry().Resolve(steward.FlagLayers{Platform: own}).Effective, nil
		},
		apply: func(_ context.Context, _ store.Tx, stored, patch json.RawMessage, fe steward.FieldErrors) (json.RawMessage, error) {
			before, err := decodeOverrides(stored)
			if err != nil {
				return nil, err
			}
			var p map[string]any
			if err := json.Unmarshal(patch, &p); err != nil {
				fe.Add(featuresSection, "must be a JSON object or null")
				return nil, nil
			}
			after := patchOverrides(before, p)
			sub := steward.FieldErrors{}
			s.checkFeatureChanges(steward.TierPlatform, before, after, sub)
			for k, msg := range sub { // "features.<key>" already
				fe.Add(k, msg)
			}
			if len(after) == 0 {
				return nil, nil
			}
			return json.Marshal(after)
		}}
}
