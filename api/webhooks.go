package api

import (
	"net/http"
	"time"

	"github.com/stewardhq/steward"
)

func (s *server) listWebhookEventTypes(w http.ResponseWriter, r *http.Request) error {
	types, err := s.Webhooks.EventTypes(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": types})
	return nil
}

func (s *server) createWebhook(w http.ResponseWriter, r *http.Request) error {
	var in steward.WebhookEndpointCreate
	if err := decode(r, &in, false); err != nil {
		return err
	}
	e, err := s.Webhooks.CreateWebhook(r.Context(), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, e)
	return nil
}

func (s *server) listWebhooks(w http.ResponseWriter, r *http.Request) error {
	all, err := s.Webhooks.ListWebhooks(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": all})
	return nil
}

// webhookResult writes an endpoint or the error.
func webhookResult(w http.ResponseWriter, e *steward.WebhookEndpoint, err error) error {
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, e)
	return nil
}

func (s *server) getWebhook(w http.ResponseWriter, r *http.Request) error {
	e, err := s.Webhooks.GetWebhook(r.Context(), r.PathValue("id"))
	return webhookResult(w, e, err)
}

func (s *server) updateWebhook(w http.ResponseWriter, r *http.Request) error {
	var p steward.WebhookEndpointPatch
	if err := decode(r, &p, false); err != nil {
		return err
	}
	e, err := s.Webhooks.UpdateWebhook(r.Context(), r.PathValue("id"), p)
	return webhookResult(w, e, err)
}

func (s *server) deleteWebhook(w http.ResponseWriter, r *http.Request) error {
	e, err := s.Webhooks.DeleteWebhook(r.Context(), r.PathValue("id"))
	return webhookResult(w, e, err)
}

func (s *server) rotateWebhookSecret(w http.ResponseWriter, r *http.Request) error {
	e, err := s.Webhooks.RotateWebhookSecret(r.Context(), r.PathValue("id"))
	return webhookResult(w, e, err)
}

func (s *server) listWebhookDeliveries(w http.ResponseWriter, r *http.Request) error {
	p, err := pageParams(r) // no total: include_total is refused
	if err != nil {
		return err
	}
	pg, err := s.Webhooks.ListWebhookDeliveries(r.Context(), r.PathValue("id"), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pg)
	return nil
}

func (s *server) retryWebhookDelivery(w http.ResponseWriter, r *http.Request) error {
	d, err := s.Webhooks.RetryWebhookDelivery(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

func (s *server) replayWebhook(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Since time.Time `json:"since"`
		Until time.Time `json:"until"`
	}
	if err := decode(r, &in, false); err != nil {
		return err
	}
	e, err := s.Webhooks.ReplayWebhook(r.Context(), r.PathValue("id"), in.Since, in.Until)
	return webhookResult(w, e, err)
}
