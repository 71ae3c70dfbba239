package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/stewardhq/steward"
)

// parseFileModels reads the file's [[models]] through the JSON form and
// validates the catalogue (steward.ParseModels): an error names the model
// by index and id, and the field.
func parseFileModels(v any) ([]*steward.Model, error) {
	doc, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("models: %w", err)
	}
	return steward.ParseModels(doc)
}

// modelIDs lists a catalogue's ids for `config show`.
func modelIDs(models []*steward.Model) string {
	ids := make([]string, len(models))
	for i, m := range models {
		ids[i] = m.ID
	}
	return strings.Join(ids, ",")
}
