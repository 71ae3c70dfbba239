package service

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"math"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/id"
	"github.com/stewardhq/steward/store"
)

// Webhooks implements steward.WebhookService: the event catalogue and the
// endpoints events are delivered to.
type Webhooks struct {
	*core
	client *http.Client
	lookup func(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// MaxWebhookEndpoints bounds how many endpoints the platform keeps: each
// is read by every delivery round.
const MaxWebhookEndpoints = 100

// EventTypes lists the catalogue, each type with an example payload.
func (s *Webhooks) EventTypes(ctx context.Context) ([]steward.WebhookEventType, error) {
	if _, err := authorize(ctx, steward.PermConfigRead); err != nil {
		return nil, err
	}
	return EventTypes(), nil
}

// newWebhookSecret is "whsec_" and 32 random bytes in base64, the form
// Standard Webhooks libraries take.
func newWebhookSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

// checkEventTypes validates and dedupes a subscription: "*", "<noun>.*"
// for a noun of the catalogue, or a catalogued type.
func checkEventTypes(types []string) ([]string, error) {
	if len(types) == 0 {
		return nil, steward.FieldError("event_types", `must name at least one event type, or "*"`)
	}
	if len(types) > 100 {
		return nil, steward.FieldError("event_types", "must have at most 100 entries")
	}
	known, nouns := map[string]bool{}, map[string]bool{}
	for _, c := range eventCatalogue {
		known[c.event] = true
		nouns[strings.SplitN(c.event, ".", 2)[0]] = true
	}
	out := make([]string, 0, len(types))
	for _, t := range types {
		noun, ok := strings.CutSuffix(t, ".*")
		if !(t == "*" || known[t] || (ok && nouns[noun])) {
			return nil, steward.FieldError("event_types",
				"unknown event type "+quote(t)+`: give "*", "<noun>.*" or a type from GET /api/v1/admin/webhooks/event-types`)
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out, nil
}

func quote(s string) string {
	if utf8.RuneCountInString(s) > 64 {
		s = string([]rune(s)[:64]) + "…"
	}
	return `"` + s + `"`
}

func checkDescription(d string) error {
	if utf8.RuneCountInString(d) > 500 {
		return steward.FieldError("description", "must be at most 500 characters")
	}
	return nil
}

// checkTenantFilter: "" is every tenant; otherwise the tenant must exist.
func checkTenantFilter(ctx context.Context, q store.Queries, tid string) error {
	if tid == "" {
		return nil
	}
	if _, err := q.GetTenant(ctx, tid); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return steward.FieldError("tenant_id", "no such tenant")
		}
		return err
	}
	return nil
}

// CreateWebhook adds an endpoint; its answer carries the secret, the only
// time it is shown.
func (s *Webhooks) CreateWebhook(ctx context.Context, in steward.WebhookEndpointCreate) (*steward.WebhookEndpoint, error) {
	if _, err := authorize(ctx, steward.PermConfigWrite); err != nil {
		return nil, err
	}
	u, err := s.cfg.Webhooks.checkURL(in.URL)
	if err != nil {
		return nil, err
	}
	types, err := checkEventTypes(in.EventTypes)
	if err != nil {
		return nil, err
	}
	if err := checkDescription(in.Description); err != nil {
		return nil, err
	}
	now := s.now()
	secret := newWebhookSecret()
	e := &steward.WebhookEndpoint{ID: id.New("whk", now), URL: u, EventTypes: types, TenantID: in.TenantID,
		Description: in.Description, Enabled: in.Enabled == nil || *in.Enabled, CreatedAt: now, UpdatedAt: now}
	if e.SigningSecret, err = s.wrapWebhookSecret(e.ID, secret); err != nil {
		return nil, err
	}
	s.sealForRead(ctx) // what committed before, past the horizon: see below
	err = s.update(ctx, func(tx store.Tx) error {
		if err := checkTenantFilter(ctx, tx, e.TenantID); err != nil {
			return err
		}
		all, err := tx.ListWebhookEndpoints(ctx)
		if err != nil {
			return err
		}
		if len(all) >= MaxWebhookEndpoints {
			return steward.Errorf(steward.CodeValidation, "the platform has %d webhook endpoints, the most it keeps", len(all))
		}
		if err := s.audit(ctx, tx, event{Action: "webhook.create", TargetType: "webhook", TargetID: e.ID,
			TenantID: e.TenantID, Metadata: endpointFields(e)}); err != nil {
			return err
		}
		// Under the sealer lock, with everything sealable sealed, the
		// last seq read next is final: the endpoint receives the events
		// sealed after it, those of changes that commit after it (and of
		// any held back by a transaction still open: at least once).
		if _, err := s.sealIn(ctx, tx, math.MaxInt); err != nil {
			return err
		}
		if e.AfterSeq, err = tx.LastWebhookEventSeq(ctx); err != nil {
			return err
		}
		return tx.CreateWebhookEndpoint(ctx, e)
	})
	if err != nil {
		return nil, err
	}
	e.Secret = secret
	return e, nil
}

// endpointFields are what the audit log records of an endpoint: never its
// secrets.
func endpointFields(e *steward.WebhookEndpoint) map[string]any {
	return map[string]any{"url": e.URL, "event_types": e.EventTypes, "tenant_id": e.TenantID,
		"description": e.Description, "enabled": e.Enabled}
}

// ListWebhooks lists every endpoint, oldest first.
func (s *Webhooks) ListWebhooks(ctx context.Context) ([]*steward.WebhookEndpoint, error) {
	if _, err := authorize(ctx, steward.PermConfigRead); err != nil {
		return nil, err
	}
	all, err := s.store.ListWebhookEndpoints(ctx)
	if all == nil {
		all = []*steward.WebhookEndpoint{}
	}
	return all, err
}

// GetWebhook returns one endpoint.
func (s *Webhooks) GetWebhook(ctx context.Context, wid string) (*steward.WebhookEndpoint, error) {
	if _, err := authorize(ctx, steward.PermConfigRead); err != nil {
		return nil, err
	}
	e, err := s.store.GetWebhookEndpoint(ctx, wid)
	return e, notFound(err, "webhook", wid)
}

// UpdateWebhook patches an endpoint. Enabling one Steward disabled clears
// its reason.
func (s *Webhooks) UpdateWebhook(ctx context.Context, wid string, p steward.WebhookEndpointPatch) (*steward.WebhookEndpoint, error) {
	if _, err := authorize(ctx, steward.PermConfigWrite); err != nil {
		return nil, err
	}
	var err error
	var u string
	var types []string
	if p.URL != nil {
		if u, err = s.cfg.Webhooks.checkURL(*p.URL); err != nil {
			return nil, err
		}
	}
	if p.EventTypes != nil {
		if types, err = checkEventTypes(*p.EventTypes); err != nil {
			return nil, err
		}
	}
	if p.Description != nil {
		if err := checkDescription(*p.Description); err != nil {
			return nil, err
		}
	}
	var e *steward.WebhookEndpoint
	err = s.update(ctx, func(tx store.Tx) error {
		if e, err = tx.GetWebhookEndpoint(ctx, wid); err != nil {
			return notFound(err, "webhook", wid)
		}
		before := endpointFields(e)
		if p.URL != nil {
			e.URL = u
		}
		if p.EventTypes != nil {
			e.EventTypes = types
		}
		if p.TenantID != nil {
			if err := checkTenantFilter(ctx, tx, *p.TenantID); err != nil {
				return err
			}
			e.TenantID = *p.TenantID
		}
		if p.Description != nil {
			e.Description = *p.Description
		}
		if p.Enabled != nil {
			e.Enabled = *p.Enabled
			if e.Enabled {
				e.DisabledReason = ""
			}
		}
		after := endpointFields(e)
		changes := map[string]change{}
		for k, v := range after {
			if !equalJSON(before[k], v) {
				changes[k] = change{Before: before[k], After: v}
			}
		}
		if len(changes) == 0 {
			return nil
		}
		e.UpdatedAt = s.now()
		if err := tx.UpdateWebhookEndpoint(ctx, e); err != nil {
			return err
		}
		return s.audit(ctx, tx, event{Action: "webhook.update", TargetType: "webhook", TargetID: e.ID,
			TenantID: e.TenantID, Changes: changes})
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// equalJSON compares two endpoint fields (strings, bools, string lists).
func equalJSON(a, b any) bool {
	as, aok := a.([]string)
	bs, bok := b.([]string)
	if aok && bok {
		return slices.Equal(as, bs)
	}
	return a == b
}

// DeleteWebhook removes an endpoint; events not yet delivered to it are
// not.
func (s *Webhooks) DeleteWebhook(ctx context.Context, wid string) (*steward.WebhookEndpoint, error) {
	if _, err := authorize(ctx, steward.PermConfigWrite); err != nil {
		return nil, err
	}
	var e *steward.WebhookEndpoint
	err := s.update(ctx, func(tx store.Tx) error {
		var err error
		if e, err = tx.GetWebhookEndpoint(ctx, wid); err != nil {
			return notFound(err, "webhook", wid)
		}
		if err := tx.DeleteWebhookEndpoint(ctx, wid); err != nil {
			return err
		}
		return s.audit(ctx, tx, event{Action: "webhook.delete", TargetType: "webhook", TargetID: wid,
			TenantID: e.TenantID, Metadata: endpointFields(e)})
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// RotateWebhookSecret makes a new secret, returned this once; the old one
// signs beside it (a second signature) for steward.WebhookSecretOverlap.
// Rotating again within the overlap drops the oldest.
func (s *Webhooks) RotateWebhookSecret(ctx context.Context, wid string) (*steward.WebhookEndpoint, error) {
	if _, err := authorize(ctx, steward.PermConfigWrite); err != nil {
		return nil, err
	}
	var e *steward.WebhookEndpoint
	var secret string
	err := s.update(ctx, func(tx store.Tx) error {
		var err error
		if e, err = tx.GetWebhookEndpoint(ctx, wid); err != nil {
			return notFound(err, "webhook", wid)
		}
		now := s.now()
		until := now.Add(steward.WebhookSecretOverlap)
		e.PreviousSecret, e.PreviousSecretUntil = e.SigningSecret, &until // as stored: sealed or not
		secret = newWebhookSecret()
		if e.SigningSecret, err = s.wrapWebhookSecret(wid, secret); err != nil {
			return err
		}
		e.UpdatedAt = now
		if err := tx.UpdateWebhookEndpoint(ctx, e); err != nil {
			return err
		}
		return s.audit(ctx, tx, event{Action: "webhook.rotate_secret", TargetType: "webhook", TargetID: wid,
			TenantID: e.TenantID, Metadata: map[string]any{"previous_secret_until": until}})
	})
	if err != nil {
		return nil, err
	}
	e.Secret = secret
	return e, nil
}
