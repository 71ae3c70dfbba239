package service

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/id"
	"github.com/stewardhq/steward/store"
)

// eventCatalogue is every announced audit action and the event type it
// becomes. The naming rule: an action is "<noun>.<verb>"; its event is the
// same noun with the verb's past participle ("user.suspend" →
// "user.suspended", "tenant.plan_change" → "tenant.plan_changed"); an
// action already named in the past ("user.ban_expired") keeps its name.
// An action not listed here is Steward's own housekeeping and is not
// announced (notAnnounced lists them; a test keeps both lists complete).
var eventCatalogue = []struct {
	action, event, target, desc string
}{
	{"user.create", "user.created", "user", "A user was created."},
	{"user.update", "user.updated", "user", "A user's profile, tags or metadata changed."},
	{"user.delete", "user.deleted", "user", "A user was soft-deleted."},
	{"user.restore", "user.restored", "user", "A soft-deleted user was restored."},
	{"user.purge", "user.purged", "user", "A user's data was erased for good."},
	{"user.suspend", "user.suspended", "user", "A user was suspended: stop serving them."},
	{"user.unsuspend", "user.unsuspended", "user", "A suspension was lifted."},
	{"user.ban", "user.banned", "user", "A user was banned: freeze their data."},
	{"user.unban", "user.unbanned", "user", "A ban was lifted by an operator."},
	{"user.ban_expired", "user.ban_expired", "user", "A timed ban ran out."},
	{"user.role_change", "user.role_changed", "user", "A user's role changed."},
	{"user.tag", "user.tagged", "user", "Tags were added to or removed from users."},
	{"user.password_change", "user.password_changed", "user", "A user's password changed."},
	{"user.force_logout", "user.force_logged_out", "user", "Every session of a user was ended."},
	{"user.notify_requested", "user.notify_requested", "user", "An operator asked the product to notify a user."},
	{"user.spending_update", "user.spending_updated", "user", "A user's spending caps changed."},
	{"user.bootstrap", "user.bootstrapped", "user", "The first super admin was created."},
	{"operator.provision", "operator.provisioned", "user", "An operator was provisioned from a trusted issuer."},
	{"operator.role_sync", "operator.role_synced", "user", "An operator's role was synced from a trusted issuer."},
	{"tenant.create", "tenant.created", "tenant", "A tenant was created."},
	{"tenant.update", "tenant.updated", "tenant", "A tenant's settings changed."},
	{"tenant.delete", "tenant.deleted", "tenant", "A tenant was soft-deleted."},
	{"tenant.restore", "tenant.restored", "tenant", "A soft-deleted tenant was restored."},
	{"tenant.purge", "tenant.purged", "tenant", "A tenant's data was erased for good."},
	{"tenant.suspend", "tenant.suspended", "tenant", "A tenant was suspended: stop its machines."},
	{"tenant.unsuspend", "tenant.unsuspended", "tenant", "A tenant's suspension was lifted."},
	{"tenant.plan_change", "tenant.plan_changed", "tenant", "A tenant moved to another plan."},
	{"api_key.create", "api_key.created", "api_key", "An API key was created."},
	{"api_key.update", "api_key.updated", "api_key", "An API key's name, scopes or limits changed."},
	{"api_key.revoke", "api_key.revoked", "api_key", "An API key was revoked: refuse it."},
	{"api_key.rotate", "api_key.rotated", "api_key", "An API key was rotated."},
	{"session.revoke", "session.revoked", "session", "A session was revoked."},
	{"impersonation.start", "impersonation.started", "impersonation", "An operator began impersonating a user."},
	{"impersonation.stop", "impersonation.stopped", "impersonation", "An impersonation ended."},
	{"credits.grant", "credits.granted", "credit_transaction", "Credits were granted to a tenant."},
	{"credits.deduct", "credits.deducted", "credit_transaction", "Credits were deducted from a tenant."},
	{"credits.refund", "credits.refunded", "credit_transaction", "A deduct was refunded."},
	{"credits.expire", "credits.expired", "credit_transaction", "A credit block expired."},
	{"credits.adjust", "credits.adjusted", "credit_transaction", "An operator adjusted a balance."},
	{"credits.spending_alert", "credits.spending_alerted", "tenant", "A tenant crossed its spending alert threshold."},
	{"resource.reported", "resource.reported", "resource", "The product reported a resource new, or changed its status, name, owner or metadata (heartbeats that change nothing are not announced)."},
	{"resource.suspend_requested", "resource.suspend_requested", "resource", "An operator wants a resource suspended: stop it and report suspended."},
	{"resource.resume_requested", "resource.resume_requested", "resource", "An operator wants a suspended resource running again."},
	{"resource.restart_requested", "resource.restart_requested", "resource", "An operator asked for a restart (data.metadata.restart_id names the request)."},
	{"resource.delete_requested", "resource.delete_requested", "resource", "An operator wants a resource deleted: tear it down."},
	{"resource.purged", "resource.purged", "resource", "A stale resource's record was erased."},
	{"model.switch", "model.switched", "model", "The active model was switched: use it for new work (data.changes.model_id has before and after)."},
	{"usage.record", "usage.recorded", "usage", "Usage events were recorded."},
	{"features.update", "features.updated", "tenant", "A tenant's or user's feature flags changed."},
	{"config.update", "config.updated", "config", "The platform configuration changed."},
	{"retention.update", "retention.updated", "retention", "A data set's retention changed."},
	{"data.insert", "data.inserted", "data:orders", "An operator inserted a row into a data admin table (target_type data:<table>, target_id the row's path key; changes hold its visible fields)."},
	{"data.update", "data.updated", "data:orders", "An operator changed a row of a data admin table (changes hold the before and after of each changed visible field)."},
	{"data.delete", "data.deleted", "data:orders", "An operator deleted a row of a data admin table (changes hold its visible fields before)."},
	{"auth.lockout", "auth.locked_out", "user", "Sign-in was locked after repeated failures."},
	{"auth.unlock", "auth.unlocked", "user", "An operator lifted a sign-in lockout."},
}

// notAnnounced are the audited actions no webhook carries: sign-ins and
// sign-outs (one per request of a busy product, and nothing for it to
// act on), and Steward's own bookkeeping of its audit chain, signing keys,
// retention runs and counters.
var notAnnounced = []string{
	"auth.login", "auth.login_failed", "auth.logout",
	"audit.anchor", "audit.checkpoint", "audit.export",
	"signing_key.create", "signing_key.retire", "signing_key.seal",
	"retention.run", "counters.repair",
	// The data admin's reload and exports: operators' reads and plumbing.
	"data.reload", "data.export",
	// The endpoints themselves: operators' plumbing, not the product's.
	"webhook.create", "webhook.update", "webhook.delete", "webhook.rotate_secret", "webhook.disable",
	"webhook.replay", "webhook.retry", "webhook.seal_secrets",
	// Custom admin actions call the product directly: an event too would
	// tell it twice (dataadmin_actions.go).
	"action.run", "action.result",
}

// eventTypeOf maps an audit action to its event type; "" when the action
// is not announced.
var eventTypeOf = func() map[string]string {
	m := make(map[string]string, len(eventCatalogue))
	for _, c := range eventCatalogue {
		m[c.action] = c.event
	}
	return m
}()

// eventPayload is the body a webhook carries, per Standard Webhooks.
type eventPayload struct {
	Type      string    `json:"type"`
	Timestamp string    `json:"timestamp"`
	Data      eventData `json:"data"`
}

// eventData is the audit entry, less where the request came from (IP, user
// agent: personal data a receiver has no use for) and the chain's seq and
// hashes, which the sequencer assigns after the event is written: audit_id
// names the entry.
type eventData struct {
	AuditID    string          `json:"audit_id"`
	Action     string          `json:"action"`
	TargetType string          `json:"target_type"`
	TargetID   string          `json:"target_id"`
	TenantID   string          `json:"tenant_id"`
	Actor      eventActor      `json:"actor"`
	Reason     string          `json:"reason"`
	Changes    json.RawMessage `json:"changes"`
	Metadata   json.RawMessage `json:"metadata"`
	RequestID  string          `json:"request_id"`
}

type eventActor struct {
	Type           string `json:"type"`
	ID             string `json:"id"`
	Role           string `json:"role"`
	ImpersonatorID string `json:"impersonator_id"`
}

// webhookEvent builds the outbox row announcing e, or nil when e's action
// is not announced.
func webhookEvent(e *steward.AuditEntry) (*steward.WebhookEvent, error) {
	typ := eventTypeOf[e.Action]
	if typ == "" {
		return nil, nil
	}
	raw := func(m json.RawMessage) json.RawMessage {
		if len(m) == 0 {
			return json.RawMessage("null")
		}
		return m
	}
	b, err := json.Marshal(eventPayload{Type: typ, Timestamp: e.Time.UTC().Format(time.RFC3339Nano), Data: eventData{
		AuditID: e.ID, Action: e.Action, TargetType: e.TargetType, TargetID: e.TargetID,
		TenantID: e.TenantID, Reason: e.Reason, Changes: raw(e.Changes), Metadata: raw(e.Metadata),
		RequestID: e.RequestID,
		Actor:     eventActor{Type: e.ActorType, ID: e.ActorID, Role: e.ActorRole, ImpersonatorID: e.ImpersonatorID},
	}})
	if err != nil {
		return nil, err
	}
	return &steward.WebhookEvent{ID: id.New("msg", e.Time), Type: typ, TenantID: e.TenantID,
		Payload: b, CreatedAt: e.Time}, nil
}

// announce writes the outbox row for e in tx, the audited change's
// transaction: one insert, whether or not an endpoint subscribes (the
// deliverer fans events out to endpoints later, off the request path).
func announce(ctx context.Context, tx store.Tx, e *steward.AuditEntry) error {
	ev, err := webhookEvent(e)
	if ev == nil || err != nil {
		return err
	}
	return tx.InsertWebhookEvent(ctx, ev)
}

// EventTypes is the catalogue, sorted by type.
func EventTypes() []steward.WebhookEventType {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	out := make([]steward.WebhookEventType, 0, len(eventCatalogue))
	for _, c := range eventCatalogue {
		e := &steward.AuditEntry{ID: id.New("aud", at), Seq: 42, Time: at, ActorType: steward.ActorOperator,
			ActorID: "usr_01JGEXAMPLE0000000000000", ActorRole: string(steward.RoleAdmin), Action: c.action,
			TargetType: c.target, TargetID: c.target + "_01JGEXAMPLE0000000000000", TenantID: "ten_01JGEXAMPLE0000000000000",
			Reason: "example", RequestID: "req_example"}
		ev, _ := webhookEvent(e)
		out = append(out, steward.WebhookEventType{Type: c.event, Action: c.action, TargetType: c.target,
			Description: c.desc, Example: ev.Payload})
	}
	slices.SortFunc(out, func(a, b steward.WebhookEventType) int { return strings.Compare(a.Type, b.Type) })
	return out
}
