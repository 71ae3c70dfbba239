package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

func keyID(n int) string { return fmt.Sprintf("key_%020d", n) }

func newKey(n int, userID string) *steward.APIKey {
	return &steward.APIKey{
		ID:         keyID(n),
		Name:       fmt.Sprintf("key %d", n),
		Type:       steward.KeyAdmin,
		Purpose:    "api",
		UserID:     userID,
		Scopes:     []steward.Permission{},
		AllowedIPs: []string{},
		Status:     steward.KeyActive,
		KeyPrefix:  "stw_a_abcd",
		LastFour:   "wxyz",
		CreatedAt:  at(time.Duration(n) * time.Second),
		UpdatedAt:  at(time.Duration(n) * time.Second),
		SecretHash: []byte(fmt.Sprintf("secret-%d-\x00\xff", n)),
	}
}

func createKeys(t *testing.T, s store.Store, keys ...*steward.APIKey) {
	t.Helper()
	update(t, s, func(tx store.Tx) error {
		for _, k := range keys {
			if err := tx.CreateAPIKey(t.Context(), k); err != nil {
				return fmt.Errorf("create %s: %w", k.ID, err)
			}
		}
		return nil
	})
}

func keyIDs(list []*steward.APIKey) []string {
	return ids(list, func(k *steward.APIKey) string { return k.ID })
}

func getKey(t *testing.T, q store.Queries, id string) *steward.APIKey {
	t.Helper()
	k, err := q.GetAPIKey(t.Context(), id)
	must(t, "GetAPIKey "+id, err)
	return k
}

func testAPIKeyCRUD(t *testing.T, s store.Store) {
	ctx := t.Context()
	createUsers(t, s, newUser(1), newUser(2))

	plain := newKey(1, userID(1))
	full := newKey(2, userID(2))
	full.Type, full.Purpose, full.TenantID = steward.KeyPlatform, "billing", "ten_1"
	full.Scopes = []steward.Permission{steward.PermUsersRead, steward.PermAll}
	full.RateLimitRPM = 600
	full.ExpiresAt = ptr(at(30 * 24 * time.Hour))
	full.AllowedIPs = []string{"10.0.0.0/8", "2001:db8::/32", "203.0.113.7/32"}
	full.Status, full.RevokedAt, full.RevokedReason = steward.KeyRevoked, ptr(at(time.Hour)), "rotated"
	full.RotatedFrom = keyID(9)
	full.LastUsedAt, full.LastUsedIP = ptr(at(-time.Minute)), "2001:db8::1"
	full.CreatedBy = userID(1)
	full.UpdatedAt = at(2 * time.Hour)
	// nil lists are stored as empty ones and read back as [].
	bare := newKey(3, userID(1))
	bare.Name, bare.Purpose, bare.KeyPrefix, bare.LastFour = "", "", "", ""
	bare.Scopes, bare.AllowedIPs = nil, nil
	createKeys(t, s, plain, full, bare)
	bareRead := *bare
	bareRead.Scopes, bareRead.AllowedIPs = []steward.Permission{}, []string{}

	for _, want := range []*steward.APIKey{plain, full, &bareRead} {
		got, err := s.GetAPIKey(ctx, want.ID)
		must(t, "GetAPIKey", err)
		equal(t, "GetAPIKey", got, want)
		got, err = s.GetAPIKeyByHash(ctx, want.SecretHash)
		must(t, "GetAPIKeyByHash", err)
		equal(t, "GetAPIKeyByHash", got, want)
	}
	_, err := s.GetAPIKey(ctx, keyID(9))
	notFound(t, "GetAPIKey missing", err)
	_, err = s.GetAPIKeyByHash(ctx, []byte("no such hash"))
	notFound(t, "GetAPIKeyByHash missing", err)
	_, err = s.GetAPIKeyByHash(ctx, nil)
	notFound(t, "GetAPIKeyByHash(nil)", err)

	update(t, s, func(tx store.Tx) error {
		got, err := tx.GetAPIKey(ctx, full.ID)
		if err != nil {
			return fmt.Errorf("GetAPIKey inside a transaction: %w", err)
		}
		equal(t, "GetAPIKey inside a transaction", got, full)
		got, err = tx.GetAPIKeyByHash(ctx, full.SecretHash)
		if err != nil {
			return fmt.Errorf("GetAPIKeyByHash inside a transaction: %w", err)
		}
		equal(t, "GetAPIKeyByHash inside a transaction", got, full)
		return nil
	})

	dupHash := newKey(4, userID(2))
	dupHash.SecretHash = plain.SecretHash
	dupID := newKey(5, userID(2))
	dupID.ID = plain.ID
	for _, tc := range []struct {
		k     *steward.APIKey
		field string
	}{{dupHash, "secret_hash"}, {dupID, "id"}} {
		err := s.Update(ctx, func(tx store.Tx) error { return tx.CreateAPIKey(ctx, tc.k) })
		var dup *store.DuplicateError
		if !errors.As(err, &dup) || dup.Field != tc.field {
			t.Errorf("CreateAPIKey with a taken %s: err = %v, want DuplicateError{%q}", tc.field, err, tc.field)
		}
	}

	// UpdateAPIKey writes every column: plain takes full's settings, full
	// drops all of its optional ones.
	newPlain := *full
	newPlain.ID, newPlain.SecretHash = plain.ID, []byte("rehashed\x00")
	newFull := *plain
	newFull.ID, newFull.SecretHash = full.ID, full.SecretHash
	update(t, s, func(tx store.Tx) error {
		if err := tx.UpdateAPIKey(ctx, &newPlain); err != nil {
			return err
		}
		return tx.UpdateAPIKey(ctx, &newFull)
	})
	equal(t, "GetAPIKey after update", getKey(t, s, plain.ID), &newPlain)
	equal(t, "GetAPIKey after update", getKey(t, s, full.ID), &newFull)
	got, err := s.GetAPIKeyByHash(ctx, newPlain.SecretHash)
	must(t, "GetAPIKeyByHash of the new hash", err)
	equal(t, "GetAPIKeyByHash of the new hash", got, &newPlain)
	_, err = s.GetAPIKeyByHash(ctx, plain.SecretHash)
	notFound(t, "GetAPIKeyByHash of the replaced hash", err)

	err = s.Update(ctx, func(tx store.Tx) error { return tx.UpdateAPIKey(ctx, newKey(9, userID(1))) })
	notFound(t, "UpdateAPIKey missing", err)
	taken := newFull
	taken.SecretHash = newPlain.SecretHash
	err = s.Update(ctx, func(tx store.Tx) error { return tx.UpdateAPIKey(ctx, &taken) })
	var dup *store.DuplicateError
	if !errors.As(err, &dup) || dup.Field != "secret_hash" {
		t.Errorf("UpdateAPIKey to a taken secret hash: err = %v, want DuplicateError{secret_hash}", err)
	}
}

func testAPIKeyList(t *testing.T, s store.Store) {
	ctx := t.Context()
	createUsers(t, s, newUser(1), newUser(2), newUser(3))
	tenants := []string{"", "ten_a", "ten_b"}
	types := []steward.KeyType{steward.KeyUser, steward.KeyAdmin, steward.KeyPlatform}
	statuses := []steward.KeyStatus{steward.KeyActive, steward.KeyDisabled, steward.KeyRevoked}
	const total = 55 // more than one default page
	var all []*steward.APIKey
	for n := 1; n <= total; n++ {
		k := newKey(n, userID(1+n%3))
		k.TenantID = tenants[(n/2)%3]
		k.Type = types[(n/3)%3]
		k.Status = statuses[(n/5)%3]
		if k.Status == steward.KeyRevoked {
			k.RevokedAt = ptr(at(-time.Hour))
		}
		all = append(all, k)
	}
	// Insert newest first, so order comes from ids.
	slices.Reverse(all)
	createKeys(t, s, all...)
	slices.Reverse(all)

	for _, tenant := range append(tenants, "ten_none") {
		for _, user := range []string{"", userID(1), userID(2), userID(3)} {
			// expired is never a stored status: the filter finds nothing.
			for _, status := range append([]steward.KeyStatus{""}, append(statuses, steward.KeyExpired)...) {
				for _, typ := range append([]steward.KeyType{""}, types...) {
					var want []string
					for i := len(all) - 1; i >= 0; i-- {
						k := all[i]
						if (tenant == "" || k.TenantID == tenant) && (user == "" || k.UserID == user) &&
							(status == "" || k.Status == status) && (typ == "" || k.Type == typ) {
							want = append(want, k.ID)
						}
					}
					f := steward.KeyFilter{TenantID: tenant, UserID: user, Status: status, Type: typ, Limit: 100}
					name := fmt.Sprintf("tenant %q user %q status %q type %q", tenant, user, status, typ)
					got, err := s.ListAPIKeys(ctx, f)
					must(t, "ListAPIKeys", err)
					sameIDs(t, name, keyIDs(got), want)

					// Counts ignore the page: Before and Limit are set to show it.
					cf := f
					cf.Before, cf.Limit = all[len(all)/2].ID, 1
					n, err := s.CountAPIKeys(ctx, cf)
					must(t, "CountAPIKeys", err)
					if n != int64(len(want)) {
						t.Errorf("%s: CountAPIKeys = %d, want %d", name, n, len(want))
					}

					var paged []string
					f.Limit = 4
					for range len(want) + 1 {
						page, err := s.ListAPIKeys(ctx, f)
						must(t, "ListAPIKeys", err)
						paged = append(paged, keyIDs(page)...)
						if len(page) < f.Limit {
							break
						}
						f.Before = page[len(page)-1].ID
					}
					sameIDs(t, name+" paged by 4", paged, want)
				}
			}
		}
	}

	got, err := s.ListAPIKeys(ctx, steward.KeyFilter{})
	must(t, "ListAPIKeys", err)
	if len(got) != steward.DefaultLimit || got[0].ID != keyID(total) {
		t.Errorf("ListAPIKeys with Limit 0 = %d keys, want the newest %d", len(got), steward.DefaultLimit)
	}
	byID := map[string]*steward.APIKey{}
	for _, k := range all {
		byID[k.ID] = k
	}
	for _, k := range got {
		equal(t, "listed key", k, byID[k.ID])
	}
}

func testAPIKeyStats(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := t0
	empty := &steward.KeyStats{
		ByStatus: map[steward.KeyStatus]int64{steward.KeyActive: 0, steward.KeyRevoked: 0, steward.KeyExpired: 0, steward.KeyDisabled: 0},
		ByType:   map[steward.KeyType]int64{steward.KeyUser: 0, steward.KeyAdmin: 0, steward.KeyPlatform: 0},
	}
	got, err := s.APIKeyStats(ctx, now)
	must(t, "APIKeyStats", err)
	equal(t, "APIKeyStats of no keys", got, empty)

	createUsers(t, s, newUser(1))
	const (
		day   = 24 * time.Hour
		month = 30 * day
		us    = time.Microsecond
	)
	past, future := at(-time.Hour), at(time.Hour)
	var (
		keys  []*steward.APIKey
		state = map[string]steward.KeyStatus{}
	)
	add := func(want steward.KeyStatus, created time.Duration, used *time.Duration, set func(k *steward.APIKey)) {
		k := newKey(len(keys)+1, userID(1))
		k.Type = []steward.KeyType{steward.KeyUser, steward.KeyAdmin, steward.KeyPlatform}[len(keys)%3]
		k.CreatedAt = at(created)
		if used != nil {
			k.LastUsedAt = ptr(at(*used))
		}
		if set != nil {
			set(k)
		}
		keys = append(keys, k)
		state[k.ID] = want
	}
	d := func(v time.Duration) *time.Duration { return &v }
	add(steward.KeyActive, 0, nil, nil)
	add(steward.KeyActive, -day, d(0), func(k *steward.APIKey) { k.ExpiresAt = ptr(at(us)) })
	// A scheduled revocation (a rotation's grace period) still to come.
	add(steward.KeyActive, -day-us, d(-day), func(k *steward.APIKey) { k.RevokedAt = &future })
	add(steward.KeyRevoked, -month, d(-day-us), func(k *steward.APIKey) {
		k.Status, k.RevokedAt = steward.KeyRevoked, &past
	})
	// A scheduled revocation that has come, to the microsecond.
	add(steward.KeyRevoked, -month-us, d(-month), func(k *steward.APIKey) { k.RevokedAt = &now })
	add(steward.KeyRevoked, 0, d(-month-us), func(k *steward.APIKey) { k.RevokedAt, k.ExpiresAt = &past, &past })
	add(steward.KeyRevoked, 0, nil, func(k *steward.APIKey) { k.Status, k.RevokedAt = steward.KeyRevoked, &future })
	add(steward.KeyRevoked, 0, nil, func(k *steward.APIKey) { k.Status, k.RevokedAt = steward.KeyDisabled, &past })
	add(steward.KeyExpired, time.Second, d(time.Second), func(k *steward.APIKey) { k.ExpiresAt = &now })
	add(steward.KeyExpired, 0, nil, func(k *steward.APIKey) { k.Status, k.ExpiresAt = steward.KeyDisabled, &past })
	add(steward.KeyExpired, 0, nil, func(k *steward.APIKey) { k.RevokedAt, k.ExpiresAt = &future, &past })
	add(steward.KeyDisabled, 0, nil, func(k *steward.APIKey) { k.Status = steward.KeyDisabled })
	add(steward.KeyDisabled, 0, nil, func(k *steward.APIKey) {
		k.Status, k.RevokedAt, k.ExpiresAt = steward.KeyDisabled, &future, &future
	})
	createKeys(t, s, keys...)

	for _, k := range keys {
		if st := k.State(now); st != state[k.ID] {
			t.Fatalf("test table: %s is %s at now by APIKey.State, the table says %s", k.ID, st, state[k.ID])
		}
	}

	// The status filter is the same state at Now, for lists and counts.
	for _, status := range []steward.KeyStatus{steward.KeyActive, steward.KeyRevoked, steward.KeyExpired, steward.KeyDisabled} {
		var want []string
		for i := len(keys) - 1; i >= 0; i-- {
			if state[keys[i].ID] == status {
				want = append(want, keys[i].ID)
			}
		}
		f := steward.KeyFilter{Status: status, Now: now, Limit: 100}
		got, err := s.ListAPIKeys(ctx, f)
		must(t, "ListAPIKeys", err)
		sameIDs(t, "status "+string(status), keyIDs(got), want)
		n, err := s.CountAPIKeys(ctx, f)
		must(t, "CountAPIKeys", err)
		if n != int64(len(want)) {
			t.Errorf("CountAPIKeys(status %s) = %d, want %d", status, n, len(want))
		}
	}
	// Windows include both ends; a time after now (key 9) is in neither.
	want := &steward.KeyStats{
		ByStatus:  map[steward.KeyStatus]int64{steward.KeyActive: 3, steward.KeyRevoked: 5, steward.KeyExpired: 3, steward.KeyDisabled: 2},
		ByType:    map[steward.KeyType]int64{steward.KeyUser: 5, steward.KeyAdmin: 4, steward.KeyPlatform: 4},
		Total:     13,
		Created24: 9, Created30: 11,
		Used24: 2, Used30: 4,
	}
	got, err = s.APIKeyStats(ctx, now)
	must(t, "APIKeyStats", err)
	equal(t, "APIKeyStats", got, want)
}

func testAPIKeyRecordUses(t *testing.T, s store.Store) {
	ctx := t.Context()
	createUsers(t, s, newUser(1))
	a, b, c, d := newKey(1, userID(1)), newKey(2, userID(1)), newKey(3, userID(1)), newKey(4, userID(1))
	b.LastUsedAt, b.LastUsedIP = ptr(t0), "198.51.100.1"
	d.LastUsedAt, d.LastUsedIP = ptr(t0), "198.51.100.4"
	createKeys(t, s, a, b, c, d)

	update(t, s, func(tx store.Tx) error { return tx.RecordKeyUses(ctx, nil) })
	update(t, s, func(tx store.Tx) error {
		return tx.RecordKeyUses(ctx, []steward.KeyUse{
			{KeyID: a.ID, At: at(time.Minute), IP: "203.0.113.1"},
			{KeyID: b.ID, At: at(-time.Minute), IP: "203.0.113.2"}, // older than the stored use
			{KeyID: c.ID, At: at(2 * time.Minute), IP: "203.0.113.32"},
			{KeyID: keyID(99), At: at(time.Minute), IP: "203.0.113.99"}, // unknown: ignored
			{KeyID: c.ID, At: at(3 * time.Minute), IP: "203.0.113.33"},
			{KeyID: c.ID, At: at(time.Minute), IP: "203.0.113.31"},
			{KeyID: d.ID, At: t0, IP: "203.0.113.4"}, // as new as the stored use: not newer
		})
	})
	a.LastUsedAt, a.LastUsedIP = ptr(at(time.Minute)), "203.0.113.1"
	c.LastUsedAt, c.LastUsedIP = ptr(at(3*time.Minute)), "203.0.113.33"
	for _, want := range []*steward.APIKey{a, b, c, d} {
		equal(t, "after RecordKeyUses", getKey(t, s, want.ID), want)
	}

	update(t, s, func(tx store.Tx) error {
		return tx.RecordKeyUses(ctx, []steward.KeyUse{
			{KeyID: a.ID, At: at(30 * time.Second), IP: "203.0.113.10"},
			{KeyID: b.ID, At: at(5 * time.Minute), IP: "2001:db8::2"},
		})
	})
	b.LastUsedAt, b.LastUsedIP = ptr(at(5*time.Minute)), "2001:db8::2"
	for _, want := range []*steward.APIKey{a, b, c, d} {
		equal(t, "after a second RecordKeyUses", getKey(t, s, want.ID), want)
	}
}

// GetAPIKeyForVerify reads the key and its owner's state in one go.
func testAPIKeyForVerify(t *testing.T, s store.Store) {
	ctx := t.Context()
	owner := newUser(1)
	owner.Role, owner.TenantID, owner.TenantRole = steward.RoleAdmin, "ten_7", steward.TenantMember
	owner.Status = steward.StatusBanned
	owner.Ban = &steward.Ban{Reason: "x", ExpiresAt: ptr(at(time.Hour)), By: userID(9), At: t0}
	createUsers(t, s, owner, newUser(2))
	k := newKey(1, userID(1))
	k.Scopes, k.AllowedIPs = []steward.Permission{steward.PermUsersRead}, []string{"10.0.0.0/8"}
	createKeys(t, s, k, newKey(2, userID(2)))

	got, o, err := s.GetAPIKeyForVerify(ctx, k.SecretHash)
	must(t, "GetAPIKeyForVerify", err)
	byHash, err := s.GetAPIKeyByHash(ctx, k.SecretHash)
	must(t, "GetAPIKeyByHash", err)
	if !reflect.DeepEqual(got, byHash) {
		t.Errorf("the key differs from GetAPIKeyByHash:\n got %+v\nwant %+v", got, byHash)
	}
	want := &steward.KeyOwner{ID: userID(1), Role: steward.RoleAdmin, Status: steward.StatusBanned,
		BanExpiresAt: ptr(at(time.Hour)), TenantID: "ten_7"}
	if o == nil || !reflect.DeepEqual(o, want) {
		t.Fatalf("owner = %+v, want %+v", o, want)
	}
	if o.IsActive(at(time.Hour-time.Microsecond)) || !o.IsActive(at(time.Hour)) {
		t.Error("an owner's ban counts until its expiry and not after")
	}
	_, o2, err := s.GetAPIKeyForVerify(ctx, newKey(2, userID(2)).SecretHash)
	must(t, "GetAPIKeyForVerify", err)
	if o2 == nil || o2.Status != steward.StatusActive || o2.BanExpiresAt != nil || o2.TenantID != "" {
		t.Errorf("plain owner = %+v", o2)
	}
	_, _, err = s.GetAPIKeyForVerify(ctx, []byte("no such hash"))
	notFound(t, "GetAPIKeyForVerify of an unknown hash", err)
}

func testAPIKeyPurgeUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	createUsers(t, s, newUser(1), newUser(2))
	k1, k2, k3 := newKey(1, userID(1)), newKey(2, userID(1)), newKey(3, userID(2))
	createKeys(t, s, k1, k2, k3)

	update(t, s, func(tx store.Tx) error { return tx.PurgeUser(ctx, userID(1)) })

	_, err := s.GetAPIKey(ctx, k1.ID)
	notFound(t, "GetAPIKey after purge", err)
	_, err = s.GetAPIKeyByHash(ctx, k2.SecretHash)
	notFound(t, "GetAPIKeyByHash after purge", err)
	list, err := s.ListAPIKeys(ctx, steward.KeyFilter{UserID: userID(1)})
	must(t, "ListAPIKeys", err)
	sameIDs(t, "keys of a purged user", keyIDs(list), nil)
	list, err = s.ListAPIKeys(ctx, steward.KeyFilter{})
	must(t, "ListAPIKeys", err)
	sameIDs(t, "keys after purge", keyIDs(list), []string{k3.ID})
	st, err := s.APIKeyStats(ctx, t0)
	must(t, "APIKeyStats", err)
	if st.Total != 1 {
		t.Errorf("APIKeyStats after purge: total %d, want 1", st.Total)
	}
	// A batch of uses flushed after the purge still goes through.
	update(t, s, func(tx store.Tx) error {
		return tx.RecordKeyUses(ctx, []steward.KeyUse{{KeyID: k1.ID, At: t0, IP: "203.0.113.1"}})
	})
}

// Get* inside a transaction lock what they return, so read-modify-write
// loses nothing without any other lock.
func testAPIKeyUpdateSerialised(t *testing.T, s store.Store) {
	ctx := t.Context()
	createUsers(t, s, newUser(1))
	k := newKey(1, userID(1))
	createKeys(t, s, k)
	r := &steward.IdempotencyRecord{KeyHash: []byte("idem"), RequestHash: []byte("req"), CreatedAt: t0, ExpiresAt: at(time.Hour)}
	update(t, s, func(tx store.Tx) error { return tx.InsertIdempotency(ctx, r) })

	const workers, rounds = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds)
	for w := range workers {
		wg.Go(func() {
			for range rounds {
				errs <- s.Update(ctx, func(tx store.Tx) error {
					get := func() (*steward.APIKey, error) { return tx.GetAPIKey(ctx, k.ID) }
					if w%2 == 1 {
						get = func() (*steward.APIKey, error) { return tx.GetAPIKeyByHash(ctx, k.SecretHash) }
					}
					got, err := get()
					if err != nil {
						return err
					}
					got.RateLimitRPM++
					if err := tx.UpdateAPIKey(ctx, got); err != nil {
						return err
					}
					rec, err := tx.GetIdempotency(ctx, r.KeyHash)
					if err != nil {
						return err
					}
					rec.Status++
					return tx.UpdateIdempotency(ctx, rec)
				})
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent Update: %v", err)
		}
	}
	if got := getKey(t, s, k.ID); got.RateLimitRPM != workers*rounds {
		t.Errorf("RateLimitRPM after %d read-modify-write transactions = %d (lost updates)", workers*rounds, got.RateLimitRPM)
	}
	rec, err := s.GetIdempotency(ctx, r.KeyHash)
	must(t, "GetIdempotency", err)
	if rec.Status != workers*rounds {
		t.Errorf("idempotency status after %d read-modify-write transactions = %d (lost updates)", workers*rounds, rec.Status)
	}
}

func testIdempotency(t *testing.T, s store.Store) {
	ctx := t.Context()
	rec := func(n int, expires time.Time) *steward.IdempotencyRecord {
		return &steward.IdempotencyRecord{
			KeyHash:     []byte(fmt.Sprintf("\x00idem-%d\xff", n)),
			RequestHash: []byte(fmt.Sprintf("req-%d\x00", n)),
			CreatedAt:   t0,
			ExpiresAt:   expires,
		}
	}
	get := func(r *steward.IdempotencyRecord) *steward.IdempotencyRecord {
		t.Helper()
		got, err := s.GetIdempotency(ctx, r.KeyHash)
		must(t, "GetIdempotency", err)
		return got
	}

	r := rec(1, at(24*time.Hour))
	update(t, s, func(tx store.Tx) error {
		if err := tx.InsertIdempotency(ctx, r); err != nil {
			return err
		}
		got, err := tx.GetIdempotency(ctx, r.KeyHash)
		if err != nil {
			return fmt.Errorf("GetIdempotency inside the transaction: %w", err)
		}
		equal(t, "GetIdempotency inside the transaction", got, r)
		return nil
	})
	equal(t, "GetIdempotency of a claim", get(r), r)
	_, err := s.GetIdempotency(ctx, []byte("no such key"))
	notFound(t, "GetIdempotency missing", err)

	again := rec(1, at(48*time.Hour))
	again.RequestHash = []byte("another request")
	err = s.Update(ctx, func(tx store.Tx) error { return tx.InsertIdempotency(ctx, again) })
	var dup *store.DuplicateError
	if !errors.As(err, &dup) || dup.Field != "key_hash" {
		t.Errorf("InsertIdempotency of a taken key: err = %v, want DuplicateError{key_hash}", err)
	}
	equal(t, "GetIdempotency after a duplicate claim", get(r), r)

	r.Status, r.Body, r.ExpiresAt = 201, []byte("sealed\x00answer\xff"), at(25*time.Hour)
	update(t, s, func(tx store.Tx) error { return tx.UpdateIdempotency(ctx, r) })
	equal(t, "GetIdempotency of an answer", get(r), r)
	err = s.Update(ctx, func(tx store.Tx) error { return tx.UpdateIdempotency(ctx, rec(9, t0)) })
	notFound(t, "UpdateIdempotency missing", err)

	// An empty body is no body.
	r2 := rec(2, at(time.Hour))
	r2.Body = []byte{}
	update(t, s, func(tx store.Tx) error { return tx.InsertIdempotency(ctx, r2) })
	r2.Body = nil
	equal(t, "GetIdempotency with an empty body", get(r2), r2)

	update(t, s, func(tx store.Tx) error { return tx.DeleteIdempotency(ctx, r.KeyHash) })
	_, err = s.GetIdempotency(ctx, r.KeyHash)
	notFound(t, "GetIdempotency after delete", err)
	update(t, s, func(tx store.Tx) error { return tx.DeleteIdempotency(ctx, r.KeyHash) })
	// The key is free again.
	update(t, s, func(tx store.Tx) error { return tx.InsertIdempotency(ctx, rec(1, at(time.Hour))) })
}

// Keys and idempotency records written in a transaction that fails are gone.
func testAPIKeyRollback(t *testing.T, s store.Store) {
	ctx := t.Context()
	createUsers(t, s, newUser(1))
	boom := errors.New("boom")
	k := newKey(1, userID(1))
	r := &steward.IdempotencyRecord{KeyHash: []byte("idem"), RequestHash: []byte("req"), CreatedAt: t0, ExpiresAt: at(time.Hour)}
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateAPIKey(ctx, k); err != nil {
			return err
		}
		if err := tx.InsertIdempotency(ctx, r); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want the error fn returned", err)
	}
	_, err = s.GetAPIKey(ctx, k.ID)
	notFound(t, "GetAPIKey after rollback", err)
	_, err = s.GetIdempotency(ctx, r.KeyHash)
	notFound(t, "GetIdempotency after rollback", err)
}

func testUsersByIDs(t *testing.T, s store.Store) {
	ctx := t.Context()
	byID := map[string]*steward.User{}
	for n := 1; n <= 5; n++ {
		createUsers(t, s, newUser(n))
		byID[userID(n)] = newUser(n)
	}
	for _, tc := range []struct {
		ids  []string
		want []string
	}{
		{nil, nil},
		{[]string{}, nil},
		{[]string{userID(9)}, nil},
		{[]string{userID(3), "usr_missing", userID(1), userID(3), userID(9)}, []string{userID(1), userID(3)}},
	} {
		got, err := s.ListUsersByIDs(ctx, tc.ids)
		must(t, "ListUsersByIDs", err)
		sameIDs(t, fmt.Sprintf("ListUsersByIDs(%v)", tc.ids), slices.Sorted(slices.Values(userIDs(got))), tc.want)
		for _, u := range got {
			equal(t, "ListUsersByIDs", u, byID[u.ID])
		}
	}

	// Many ids at once: no limit on bound parameters applies.
	many := []string{userID(2)}
	for n := range 40000 {
		many = append(many, userID(100+n))
	}
	many = append(many, userID(5))
	got, err := s.ListUsersByIDs(ctx, many)
	must(t, "ListUsersByIDs of many ids", err)
	sameIDs(t, "ListUsersByIDs of many ids", slices.Sorted(slices.Values(userIDs(got))), []string{userID(2), userID(5)})

	update(t, s, func(tx store.Tx) error {
		if err := tx.CreateUser(ctx, newUser(6)); err != nil {
			return err
		}
		got, err := tx.ListUsersByIDs(ctx, []string{userID(6), userID(4)})
		if err != nil {
			return err
		}
		sameIDs(t, "ListUsersByIDs inside the transaction", slices.Sorted(slices.Values(userIDs(got))),
			[]string{userID(4), userID(6)})
		return nil
	})
}
