// Package storetest is the behaviour suite every store backend runs:
//
//	func TestStore(t *testing.T) { storetest.Run(t, openFreshMigratedStore) }
//
// It speaks only the store interfaces, so a behaviour pinned here holds for
// every backend.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// Run runs the suite. open must return a fresh, migrated store of its own and
// close it when t ends; subtests run in parallel, each with its own store.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Meta", testMeta},
		{"UserCreateGet", testUserCreateGet},
		{"UserDuplicates", testUserDuplicates},
		{"ErrorsNameTheOperation", testErrorsNameTheOperation},
		{"UserUpdateRoundTrip", testUserUpdateRoundTrip},
		{"UserMissing", testUserMissing},
		{"UserListPaging", testUserListPaging},
		{"UserFilters", testUserFilters},
		{"UserBanExpired", testUserBanExpired},
		{"UserPurge", testUserPurge},
		{"Times", testTimes},
		{"SessionCRUD", testSessionCRUD},
		{"SessionList", testSessionList},
		{"SessionRevokeUser", testSessionRevokeUser},
		{"Impersonations", testImpersonations},
		{"EndImpersonations", testEndImpersonations},
		{"AuditListFilters", testAuditListFilters},
		{"AuditScan", testAuditScan},
		{"AuditPendingSeal", testAuditPendingSeal},
		{"AuditSealOwn", testAuditSealOwn},
		{"AuditPurgeSealedOnly", testAuditPurgeSealedOnly},
		{"AuditScanPages", testAuditScanPages},
		{"AuditBytes", testAuditBytes},
		{"AuditCheckpoints", testAuditCheckpoints},
		{"SigningKeys", testSigningKeys},
		{"UsersByIDs", testUsersByIDs},
		{"APIKeyCRUD", testAPIKeyCRUD},
		{"APIKeyForVerify", testAPIKeyForVerify},
		{"APIKeyList", testAPIKeyList},
		{"APIKeyStats", testAPIKeyStats},
		{"APIKeyRecordUses", testAPIKeyRecordUses},
		{"APIKeyPurgeUser", testAPIKeyPurgeUser},
		{"APIKeyUpdateSerialised", testAPIKeyUpdateSerialised},
		{"APIKeyRollback", testAPIKeyRollback},
		{"KeyUsage", testKeyUsage},
		{"Idempotency", testIdempotency},
		{"TenantCreateGet", testTenantCreateGet},
		{"TenantUpdate", testTenantUpdate},
		{"TenantList", testTenantList},
		{"TenantMembers", testTenantMembers},
		{"TenantPlanChanges", testTenantPlanChanges},
		{"TenantCascade", testTenantCascade},
		{"TenantRollback", testTenantRollback},
		{"TenantVerifyStatus", testTenantVerifyStatus},
		{"TenantPurge", testTenantPurge},
		{"CreditAccount", testCreditAccount},
		{"CreditBlocks", testCreditBlocks},
		{"CreditLapsedBlocks", testCreditLapsedBlocks},
		{"LedgerEntryRoundTrip", testLedgerEntryRoundTrip},
		{"LedgerKeysAndSeq", testLedgerKeysAndSeq},
		{"LedgerList", testLedgerList},
		{"LedgerRefundedAmount", testLedgerRefundedAmount},
		{"LedgerTotals", testLedgerTotals},
		{"UsageEvents", testUsageEvents},
		{"AggregateUsage", testAggregateUsage},
		{"CreditPurge", testCreditPurge},
		{"CreditRollback", testCreditRollback},
		{"CreditLockSerialised", testCreditLockSerialised},
		{"CreditLedgersLocked", testCreditLedgersLocked},
		{"StatCounters", testStatCounters},
		{"StatGauges", testStatGauges},
		{"SetCounter", testSetCounter},
		{"UpdateRollback", testUpdateRollback},
		{"UpdatePanic", testUpdatePanic},
		{"UpdateReadsOwnWrites", testUpdateReadsOwnWrites},
		{"UpdateSerialised", testUpdateSerialised},
		{"Health", testHealth},
		{"SeriesBuckets", testSeriesBuckets},
		{"SeriesActivity", testSeriesActivity},
		{"SeriesBilling", testSeriesBilling},
		{"SeriesConcurrentWriters", testSeriesConcurrentWriters},
		{"SeriesMemo", testSeriesMemo},
		{"RetentionSettings", testRetentionSettings},
		{"RetentionPurges", testRetentionPurges},
		{"RetentionAudit", testRetentionAudit},
		{"RetentionActivityIdempotency", testRetentionActivityIdempotency},
		{"UserSpending", testUserSpending},
		{"WebhookEvents", testWebhookEvents},
		{"WebhookEndpoints", testWebhookEndpoints},
		{"WebhookClaims", testWebhookClaims},
		{"Raw", testRaw},
		{"Resources", testResources},
		{"ResourceList", testResourceList},
		{"ResourcePurgeStale", testResourcePurgeStale},
		{"ResourceHolds", testResourceHolds},
		{"ResourceCounters", testResourceCounters},
		{"CountStaleResources", testCountStaleResources},
		{"TenantResourceCounts", testTenantResourceCounts},
		{"UserFeatures", testUserFeatures},
		{"NotifyFlags", testNotifyFlags},
		{"ActiveModel", testActiveModel},
		{"ActiveModelSerialised", testActiveModelSerialised},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

// t0 has a non-zero microsecond part, the precision every store keeps.
var t0 = time.Date(2025, 3, 14, 15, 9, 26, 535897000, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func ptr[T any](v T) *T { return &v }

// Ids are zero-padded so they sort in creation order, as real ids do.
func userID(n int) string    { return fmt.Sprintf("usr_%020d", n) }
func sessionID(n int) string { return fmt.Sprintf("ses_%020d", n) }
func auditID(n int) string   { return fmt.Sprintf("aud_%020d", n) }

func newUser(n int) *steward.User {
	return &steward.User{
		ID:        userID(n),
		Email:     fmt.Sprintf("user%d@example.com", n),
		Role:      steward.RoleUser,
		Status:    steward.StatusActive,
		Tags:      []string{},
		Metadata:  map[string]any{},
		CreatedAt: at(time.Duration(n) * time.Second),
		UpdatedAt: at(time.Duration(n) * time.Second),
	}
}

func newSession(n int, userID string) *steward.Session {
	return &steward.Session{
		ID:         sessionID(n),
		UserID:     userID,
		TokenHash:  []byte(fmt.Sprintf("hash-%d-\x00\xff", n)),
		CreatedAt:  at(-time.Hour),
		ExpiresAt:  at(time.Hour),
		LastSeenAt: at(-time.Minute),
		IP:         "203.0.113.7",
		UserAgent:  "test/1.0",
	}
}

func update(t *testing.T, s store.Store, fn func(tx store.Tx) error) {
	t.Helper()
	if err := s.Update(t.Context(), fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func createUsers(t *testing.T, s store.Store, users ...*steward.User) {
	t.Helper()
	update(t, s, func(tx store.Tx) error {
		for _, u := range users {
			if err := tx.CreateUser(t.Context(), u); err != nil {
				return fmt.Errorf("create %s: %w", u.ID, err)
			}
		}
		return nil
	})
}

func createSessions(t *testing.T, s store.Store, sessions ...*steward.Session) {
	t.Helper()
	update(t, s, func(tx store.Tx) error {
		for _, x := range sessions {
			if err := tx.CreateSession(t.Context(), x); err != nil {
				return fmt.Errorf("create %s: %w", x.ID, err)
			}
		}
		return nil
	})
}

// equal reports each differing field of two structs (or pointers to them).
func equal[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if reflect.DeepEqual(got, want) {
		return
	}
	g, w := reflect.Indirect(reflect.ValueOf(got)), reflect.Indirect(reflect.ValueOf(want))
	if g.Kind() != reflect.Struct || !g.IsValid() || !w.IsValid() {
		t.Errorf("%s: got %v, want %v", what, show(got), show(want))
		return
	}
	for i := range g.NumField() {
		gf, wf := g.Field(i).Interface(), w.Field(i).Interface()
		if !reflect.DeepEqual(gf, wf) {
			t.Errorf("%s: %s = %s, want %s", what, g.Type().Field(i).Name, show(gf), show(wf))
		}
	}
}

// show prints v with pointers followed and types visible.
func show(v any) string {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer && !rv.IsNil() {
		return "&" + show(rv.Elem().Interface())
	}
	switch x := v.(type) {
	case time.Time:
		return x.Format(time.RFC3339Nano) + " (" + x.Location().String() + ")"
	case []byte:
		return fmt.Sprintf("%q", x)
	case json.RawMessage:
		return fmt.Sprintf("%q", []byte(x))
	}
	return fmt.Sprintf("%#v", v)
}

func notFound(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("%s: err = %v, want store.ErrNotFound", what, err)
	}
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func ids[T any](list []*T, id func(*T) string) []string {
	out := make([]string, len(list))
	for i, x := range list {
		out[i] = id(x)
	}
	return out
}

func userIDs(list []*steward.User) []string {
	return ids(list, func(u *steward.User) string { return u.ID })
}

func sessionIDs(list []*steward.Session) []string {
	return ids(list, func(s *steward.Session) string { return s.ID })
}

func sameIDs(t *testing.T, what string, got, want []string) {
	t.Helper()
	if got == nil {
		got = []string{}
	}
	if want == nil {
		want = []string{}
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got  %v\n want %v", what, got, want)
	}
}

func testMeta(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(t, "Ping", s.Ping(ctx))
	if d := s.Dialect(); d != "sqlite" && d != "postgres" {
		t.Errorf("Dialect = %q", d)
	}
	v, err := s.MigrationVersion(ctx)
	must(t, "MigrationVersion", err)
	if v <= 0 {
		t.Errorf("MigrationVersion = %d, want > 0", v)
	}
	m, ok := s.(interface{ Migrate(context.Context) error })
	if !ok {
		t.Fatalf("%T has no Migrate(ctx) method", s)
	}
	must(t, "Migrate again", m.Migrate(ctx))
	v2, err := s.MigrationVersion(ctx)
	must(t, "MigrationVersion", err)
	if v2 != v {
		t.Errorf("MigrationVersion after a second Migrate = %d, want %d", v2, v)
	}
	// Still a working store.
	createUsers(t, s, newUser(1))
	if _, err := s.GetUser(ctx, userID(1)); err != nil {
		t.Errorf("GetUser after a second Migrate: %v", err)
	}
}
