package service

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"reflect"
	"strings"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// PlatformConfig implements steward.PlatformConfigService: the platform
// configuration operators change at run time, one section per concern
// (features, quotas, spending, switches), each stored as one JSON document
// (platform_settings) and owned by the file that gives it its rules.
type PlatformConfig struct {
	*core
	sections []configSection // in the order New lists them
}

var _ steward.PlatformConfigService = (*PlatformConfig)(nil)

// configSection is one top-level key of /admin/config.
type configSection struct {
	name string
	// view is the section's effective document, defaults filled in, from
	// its stored one (nil when it has no row).
	view func(stored json.RawMessage) (any, error)
	// apply validates a merge patch (an object; a null section never
	// reaches it) against the stored document, adding each problem to fe
	// under "<name>.<key>", and returns the document to store: nil deletes
	// the row, which puts every key back to its default.
	apply func(ctx context.Context, tx store.Tx, stored, patch json.RawMessage, fe steward.FieldErrors) (json.RawMessage, error)
}

func (s *PlatformConfig) section(name string) *configSection {
	for i := range s.sections {
		if s.sections[i].name == name {
			return &s.sections[i]
		}
	}
	return nil
}

func (s *PlatformConfig) sectionNames() string {
	names := make([]string, len(s.sections))
	for i, cs := range s.sections {
		names[i] = cs.name
	}
	return strings.Join(names, ", ")
}

// views renders every section from the stored documents.
func (s *PlatformConfig) views(stored map[string]json.RawMessage) (steward.PlatformConfig, error) {
	out := steward.PlatformConfig{}
	for _, cs := range s.sections {
		v, err := cs.view(stored[cs.name])
		if err != nil {
			return nil, err
		}
		out[cs.name] = v
	}
	return out, nil
}

// PlatformConfig implements steward.PlatformConfigService.
func (s *PlatformConfig) PlatformConfig(ctx context.Context) (steward.PlatformConfig, error) {
	if _, err := authorize(ctx, steward.PermConfigRead); err != nil {
		return nil, err
	}
	stored, err := s.store.PlatformSettings(ctx)
	if err != nil {
		return nil, err
	}
	return s.views(stored)
}

// UpdatePlatformConfig implements steward.PlatformConfigService. Every
// section's problems are reported together, and nothing is stored unless
// all of the patch is valid.
func (s *PlatformConfig) UpdatePlatformConfig(ctx context.Context, p steward.PlatformConfigPatch) (steward.PlatformConfig, error) {
	if _, err := authorize(ctx, steward.PermConfigWrite); err != nil {
		return nil, err
	}
	fe := steward.FieldErrors{}
	for name := range p {
		if s.section(name) == nil {
			fe.Add(name, "unknown section; known: "+s.sectionNames())
		}
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	var after steward.PlatformConfig
	err := s.update(ctx, func(tx store.Tx) error {
		stored, err := tx.LockPlatformSettings(ctx)
		if err != nil {
			return err
		}
		before, err := s.views(stored)
		if err != nil {
			return err
		}
		next := map[string]json.RawMessage{}
		for _, cs := range s.sections { // one order for every writer
			patch, ok := p[cs.name]
			if !ok {
				continue
			}
			var doc json.RawMessage
			if string(bytes.TrimSpace(patch)) != "null" {
				if !isJSONObject(patch) {
					fe.Add(cs.name, "must be a JSON object or null")
					continue
				}
				if doc, err = cs.apply(ctx, tx, stored[cs.name], patch, fe); err != nil {
					return err
				}
			}
			next[cs.name] = doc
		}
		if err := fe.Err(); err != nil {
			return err
		}
		for _, cs := range s.sections {
			doc, ok := next[cs.name]
			if !ok {
				continue
			}
			if err := tx.SetPlatformSetting(ctx, cs.name, doc); err != nil {
				return err
			}
			stored[cs.name] = doc
		}
		if after, err = s.views(stored); err != nil {
			return err
		}
		changes, err := configChanges(before, after)
		if err != nil || len(changes) == 0 {
			return err
		}
		return s.audit(ctx, tx, event{Action: "config.update", TargetType: "config", Changes: changes})
	})
	if err != nil {
		return nil, err
	}
	return after, nil
}

func isJSONObject(raw json.RawMessage) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal(raw, &m) == nil && m != nil
}

// configChanges lists what differs between two renderings, per
// "<section>.<key>" for sections that are objects.
func configChanges(before, after steward.PlatformConfig) (map[string]change, error) {
	changes := map[string]change{}
	for name, b := range before {
		bm, err := asJSONMap(b)
		if err != nil {
			return nil, err
		}
		am, err := asJSONMap(after[name])
		if err != nil {
			return nil, err
		}
		keys := maps.Clone(bm)
		maps.Copy(keys, am)
		for k := range keys {
			if !reflect.DeepEqual(bm[k], am[k]) {
				changes[name+"."+k] = change{Before: bm[k], After: am[k]}
			}
		}
	}
	return changes, nil
}

// asJSONMap renders v as JSON reads it back: numbers as float64, so two
// renderings compare by value whatever Go types produced them.
func asJSONMap(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return m, nil
}
