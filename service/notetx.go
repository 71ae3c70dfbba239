package service

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// noteTx is the transaction every core.update hands its function. Each
// method that writes something a replica's caches hold (the flags' inputs,
// and the rows of the authentication path: users, sessions, API keys,
// tenants, impersonations) notes the entity it changed, so a new write
// path cannot forget to invalidate: TestNoteTxCoversEveryWrite checks,
// from store.Tx's method set, that every writing method is either noted
// here or listed in authNeutralWrites with the reason it needs no note.
// Bulk writes note the tenant they work on.
type noteTx struct {
	store.Tx
	notes *[]string
}

// maxNotes is how many keys one transaction notifies before it asks for
// everything to be dropped instead (dropAllKey): a bulk action over a
// thousand users sends one notification, not a thousand.
const maxNotes = 64

func (t noteTx) note(key string) {
	if !slices.Contains(*t.notes, key) {
		*t.notes = append(*t.notes, key)
	}
}

// noted returns what a transaction's notes notify: each key once, or
// dropAllKey alone past maxNotes.
func noted(notes []string) []string {
	if len(notes) > maxNotes {
		return []string{dropAllKey}
	}
	return notes
}

// authNeutralWrites are the writing methods of store.Tx that change nothing
// either cache holds, each with why. TestNoteTxCoversEveryWrite fails on a
// writing method that is in neither this list nor noteTx.
var authNeutralWrites = map[string]string{
	// New rows: no entry can depend on a row that did not exist, since
	// misses are never cached.
	"CreateUser":          "new row",
	"CreateSession":       "new row",
	"CreateAPIKey":        "new row",
	"CreateTenant":        "new row",
	"CreateImpersonation": "new row",
	// Rows already refused by their own cached state (revoked, expired,
	// ended), deleted for retention.
	"PurgeEndedSessions":       "ended sessions only",
	"PurgeEndedImpersonations": "ended impersonations only",
	// Holds record which rows a cascade moved; the rows are written by
	// the notes of HoldTenantUsers, HoldTenantKeys, UpdateUser.
	"HoldUser": "hold bookkeeping",
	// Bookkeeping beside the auth path.
	"RecordKeyUses":  "last-use bookkeeping",
	"RecordKeyUsage": "usage counts",
	"PruneKeyUsage":  "usage counts",
	"SweepLapsed":    "counter marks on lapsed sessions and keys; their state is their expiry",
	"SetCounter":     "stat counters",
	"LockCounted":    "lock",
	// Signing keys: the key ring reloads itself (keys.go).
	"InsertSigningKey": "key ring",
	"UpdateSigningKey": "key ring",
	// The audit chain and its retention.
	"LockAuditHead":          "lock",
	"InsertAudit":            "audit",
	"SealableAudit":          "audit sequencer (reads pending entries)",
	"SealAudit":              "audit sequencer",
	"SealWebhookEvents":      "audit sequencer (webhook event order)",
	"InsertAuditCheckpoint":  "audit",
	"SetAuditAnchor":         "audit",
	"DeleteAuditThrough":     "audit retention",
	"AuditPurgeBound":        "audit retention",
	"ClaimRetentionRun":      "retention bookkeeping",
	"SetRetentionLastRun":    "retention bookkeeping",
	"SetRetention":           "retention settings",
	"PurgeIdempotency":       "idempotency",
	"PurgeUsageEvents":       "usage events",
	"PurgeUserActivity":      "activity",
	"PurgeWebhookEvents":     "webhooks",
	"PurgeWebhookDeliveries": "webhooks",
	"PurgeStaleResources":    "resources",
	// Credits, usage and spending.
	"LockCreditAccount":   "ledger",
	"LockCreditLedgers":   "ledger (locks tenant rows, writes none)",
	"UpdateCreditAccount": "ledger",
	"InsertLedgerEntry":   "ledger",
	"InsertCreditBlock":   "ledger",
	"SetBlockRemaining":   "ledger",
	"InsertUsageEvent":    "usage",
	"InsertPlanChange":    "plan history; the plan itself is UpdateTenant",
	"SetUserCaps":         "spending caps",
	"PutUserSpend":        "spending",
	"PutSessionSpend":     "spending",
	"SaveBillingSnapshot": "billing",
	// Idempotency records.
	"InsertIdempotency": "idempotency",
	"UpdateIdempotency": "idempotency",
	"DeleteIdempotency": "idempotency",
	// Series and activity.
	"RecordActivity": "activity",
	"SaveActiveDays": "activity",
	"LockSeriesMemo": "lock",
	"SaveSeriesMemo": "series",
	"CompactSeries":  "series",
	"RebuildSeries":  "series",
	// Platform settings other than the features section: the flags' note
	// is in SetPlatformSetting; nothing on the auth path reads them.
	"LockPlatformSettings": "lock",
	"LockOperators":        "lock",
	// Webhooks, resources, models.
	"InsertWebhookEvent":     "webhooks",
	"InsertWebhookDelivery":  "webhooks",
	"CreateWebhookEndpoint":  "webhooks",
	"UpdateWebhookEndpoint":  "webhooks",
	"DeleteWebhookEndpoint":  "webhooks",
	"ClaimWebhookEndpoints":  "webhooks",
	"PutResource":            "resources",
	"HoldTenantResources":    "resources",
	"ReleaseTenantResources": "resources",
	"LockActiveModel":        "models",
	"SetActiveModel":         "models",
	// The notification itself.
	"NotifyFlags": "sends the notes",
}

// Users.

func (t noteTx) UpdateUser(ctx context.Context, u *steward.User) error {
	t.note(flagUserKey(u.ID))
	return t.Tx.UpdateUser(ctx, u)
}

func (t noteTx) PurgeUser(ctx context.Context, id string) error {
	t.note(flagUserKey(id))
	return t.Tx.PurgeUser(ctx, id)
}

func (t noteTx) SetUserFeatures(ctx context.Context, uid string, m map[string]any, now time.Time) error {
	t.note(flagUserKey(uid))
	return t.Tx.SetUserFeatures(ctx, uid, m, now)
}

// Sessions: a user's sessions all depend on the user's key.

func (t noteTx) UpdateSession(ctx context.Context, s *steward.Session) error {
	t.note(sessionKey(s.ID))
	return t.Tx.UpdateSession(ctx, s)
}

func (t noteTx) RevokeUserSessions(ctx context.Context, uid string, now time.Time, reason string) (int64, error) {
	t.note(flagUserKey(uid))
	return t.Tx.RevokeUserSessions(ctx, uid, now, reason)
}

// API keys.

func (t noteTx) UpdateAPIKey(ctx context.Context, k *steward.APIKey) error {
	t.note(apiKeyKey(k.ID))
	return t.Tx.UpdateAPIKey(ctx, k)
}

// Tenants, and the cascade's bulk writes: every entry of a member, a
// member's session or a key of the tenant depends on the tenant's key.

func (t noteTx) UpdateTenant(ctx context.Context, tn *steward.Tenant) error {
	t.note(flagTenantKey(tn.ID))
	return t.Tx.UpdateTenant(ctx, tn)
}

func (t noteTx) PurgeTenant(ctx context.Context, id string) (steward.TenantPurgeCounts, error) {
	t.note(flagTenantKey(id))
	return t.Tx.PurgeTenant(ctx, id)
}

func (t noteTx) HoldTenantUsers(ctx context.Context, tid, reason string, now time.Time) (int64, error) {
	t.note(flagTenantKey(tid))
	return t.Tx.HoldTenantUsers(ctx, tid, reason, now)
}

func (t noteTx) RevokeHeldSessions(ctx context.Context, tid string, now time.Time, reason string) (int64, error) {
	t.note(flagTenantKey(tid))
	return t.Tx.RevokeHeldSessions(ctx, tid, now, reason)
}

func (t noteTx) HoldTenantKeys(ctx context.Context, tid string, now time.Time) (int64, error) {
	t.note(flagTenantKey(tid))
	return t.Tx.HoldTenantKeys(ctx, tid, now)
}

func (t noteTx) ReleaseTenant(ctx context.Context, tid string, now time.Time) (int64, int64, error) {
	t.note(flagTenantKey(tid))
	return t.Tx.ReleaseTenant(ctx, tid, now)
}

// Impersonations.

func (t noteTx) UpdateImpersonation(ctx context.Context, m *steward.Impersonation) error {
	t.note(impersonationKey(m.ID))
	return t.Tx.UpdateImpersonation(ctx, m)
}

func (t noteTx) EndImpersonations(ctx context.Context, f store.ImpersonationEnd, now time.Time, by string) ([]*steward.Impersonation, error) {
	ended, err := t.Tx.EndImpersonations(ctx, f, now, by)
	for _, m := range ended {
		t.note(impersonationKey(m.ID))
	}
	return ended, err
}

// Platform settings: the features section is an input of the flags.

func (t noteTx) SetPlatformSetting(ctx context.Context, section string, doc json.RawMessage) error {
	if section == featuresSection {
		t.note(flagPlatformKey)
	}
	return t.Tx.SetPlatformSetting(ctx, section, doc)
}

// updateNoting is core.update: fn runs on a noteTx; when it succeeds, its
// notes are notified in the transaction (one statement; delivered to the
// other replicas on commit, dropped on rollback), and once the transaction
// has committed this replica drops them from its caches before returning,
// so its next read sees the change.
func (s *core) updateNoting(ctx context.Context, fn func(tx store.Tx) error) error {
	var notes []string
	err := s.store.Update(ctx, func(tx store.Tx) error {
		notes = notes[:0] // a retried attempt starts again
		if err := fn(noteTx{Tx: tx, notes: &notes}); err != nil {
			return err
		}
		if len(notes) == 0 {
			return nil
		}
		return tx.NotifyFlags(ctx, noted(notes)...)
	})
	if err == nil {
		for _, k := range noted(notes) {
			s.invalidateCaches(k)
		}
		s.nudgeSealer() // most updates append audit entries: seal them soon
	}
	return err
}
