package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/testdb"
	"github.com/stewardhq/steward/store"
)

// limitSection is a section for the framework's own tests: one integer
// "limit" (default 10, 1..100), merge-patched, null resetting it.
func limitSection() configSection {
	type doc struct {
		Limit *int `json:"limit,omitempty"`
	}
	return configSection{name: "test",
		view: func(stored json.RawMessage) (any, error) {
			d := doc{}
			if stored != nil {
				if err := json.Unmarshal(stored, &d); err != nil {
					return nil, err
				}
			}
			return map[string]any{"limit": *cmpOrPtr(d.Limit, 10)}, nil
		},
		apply: func(_ context.Context, _ store.Tx, stored, patch json.RawMessage, fe steward.FieldErrors) (json.RawMessage, error) {
			d := doc{}
			if stored != nil {
				if err := json.Unmarshal(stored, &d); err != nil {
					return nil, err
				}
			}
			var p map[string]json.RawMessage
			_ = json.Unmarshal(patch, &p)
			for k, v := range p {
				if k != "limit" {
					fe.Add("test."+k, "unknown key; known: limit")
					continue
				}
				if string(v) == "null" {
					d.Limit = nil
					continue
				}
				var n int
				if json.Unmarshal(v, &n) != nil || n < 1 || n > 100 {
					fe.Add("test.limit", "must be a whole number from 1 to 100")
					continue
				}
				d.Limit = &n
			}
			if d.Limit == nil {
				return nil, nil
			}
			return json.Marshal(d)
		}}
}

func cmpOrPtr(p *int, def int) *int {
	if p == nil {
		return &def
	}
	return p
}

// TestPlatformConfigFramework: GET renders every section with defaults; PUT
// merge-patches, null resets a section or a key, an unknown section or a
// bad value is 422 naming it with nothing stored, a change is audited
// config.update per key with before and after, a no-op writes no entry,
// and concurrent patches of one section serialize (no lost update).
func TestPlatformConfigFramework(t *testing.T) {
	for _, be := range testdb.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			st := be.Open(t)
			s := New(Config{Store: st})
			s.PlatformConfig.sections = []configSection{limitSection()}
			ctx := steward.WithActor(t.Context(), steward.Actor{Type: steward.ActorOperator, ID: "usr_owner", Role: steward.RoleOwner})
			pc := s.PlatformConfig
			get := func() any {
				t.Helper()
				c, err := pc.PlatformConfig(ctx)
				if err != nil {
					t.Fatal(err)
				}
				return c["test"].(map[string]any)["limit"]
			}
			if got := get(); got != 10 {
				t.Fatalf("default limit = %v", got)
			}
			put := func(body string) error {
				var p steward.PlatformConfigPatch
				if err := json.Unmarshal([]byte(body), &p); err != nil {
					t.Fatal(err)
				}
				_, err := pc.UpdatePlatformConfig(ctx, p)
				return err
			}
			if err := put(`{"test": {"limit": 42}}`); err != nil {
				t.Fatal(err)
			}
			if got := get(); got != 42 {
				t.Fatalf("limit after PUT = %v", got)
			}
			for body, field := range map[string]string{
				`{"nope": {}}`:                     "nope",
				`{"test": {"limit": 0}}`:           "test.limit",
				`{"test": {"limit": "x"}}`:         "test.limit",
				`{"test": {"other": 1}}`:           "test.other",
				`{"test": [1]}`:                    "test",
				`{"test": 5}`:                      "test",
				`{"test": {"limit": 5, "bad": 1}}`: "test.bad",
			} {
				err := put(body)
				var se *steward.Error
				if !errors.As(err, &se) || se.Code != steward.CodeValidation {
					t.Fatalf("PUT %s: %v, want VALIDATION_FAILED", body, err)
				}
				if _, ok := se.Details["fields"].(map[string]any)[field]; !ok {
					t.Fatalf("PUT %s: fields %v, want %s", body, se.Details["fields"], field)
				}
			}
			if got := get(); got != 42 {
				t.Fatalf("a refused PUT changed the limit to %v", got)
			}
			if err := put(`{"test": {"limit": 42}}`); err != nil { // no-op
				t.Fatal(err)
			}
			if err := put(`{"test": null}`); err != nil {
				t.Fatal(err)
			}
			if got := get(); got != 10 {
				t.Fatalf("limit after null = %v", got)
			}
			entries, err := st.ListAudit(ctx, steward.AuditFilter{Action: "config.update", Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 2 {
				t.Fatalf("%d config.update entries, want 2 (the no-op and refusals write none)", len(entries))
			}
			var ch map[string]change
			if err := json.Unmarshal(entries[0].Changes, &ch); err != nil {
				t.Fatal(err)
			}
			if c := ch["test.limit"]; c.Before != 42.0 || c.After != 10.0 {
				t.Fatalf("latest change = %+v, want test.limit 42 → 10", ch)
			}

			// Twenty writers each raise the limit by one from what they read
			// inside their transaction: all twenty must land.
			var wg sync.WaitGroup
			for range 20 {
				wg.Go(func() {
					err := s.update(ctx, func(tx store.Tx) error {
						stored, err := tx.LockPlatformSettings(ctx)
						if err != nil {
							return err
						}
						v, err := limitSection().view(stored["test"])
						if err != nil {
							return err
						}
						n := v.(map[string]any)["limit"].(int) + 1
						return tx.SetPlatformSetting(ctx, "test", json.RawMessage(fmt.Sprintf(`{"limit":%d}`, n)))
					})
					if err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			if got := get(); got != 30 {
				t.Fatalf("limit after 20 concurrent increments = %v, want 30", got)
			}
		})
	}
}
