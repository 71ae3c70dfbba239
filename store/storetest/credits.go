package storetest

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

func blockID(n int) string { return fmt.Sprintf("blk_%020d", n) }
func entryID(n int) string { return fmt.Sprintf("cre_%020d", n) }
func usageID(n int) string { return fmt.Sprintf("use_%020d", n) }

func newBlock(n int, tenant string, remaining int64, expires *time.Time) *steward.CreditBlock {
	return &steward.CreditBlock{ID: blockID(n), TenantID: tenant, Amount: remaining + int64(n), Remaining: remaining,
		ExpiresAt: expires, CreatedAt: at(time.Duration(n) * time.Second)}
}

// newEntry is entry n, with seq n: distinct in every tenant.
func newEntry(n int, tenant string, kind steward.LedgerKind, amount, balanceAfter int64) *steward.LedgerEntry {
	return &steward.LedgerEntry{ID: entryID(n), TenantID: tenant, Seq: int64(n), Kind: kind, Amount: amount,
		BalanceAfter: balanceAfter, Draws: []steward.Draw{}, CreatedAt: at(time.Duration(n) * time.Minute)}
}

func insertBlocks(t *testing.T, s store.Store, blocks ...*steward.CreditBlock) {
	t.Helper()
	update(t, s, func(tx store.Tx) error {
		for _, b := range blocks {
			if err := tx.InsertCreditBlock(t.Context(), b); err != nil {
				return fmt.Errorf("insert block %s: %w", b.ID, err)
			}
		}
		return nil
	})
}

func insertEntries(t *testing.T, s store.Store, entries ...*steward.LedgerEntry) {
	t.Helper()
	update(t, s, func(tx store.Tx) error {
		for _, e := range entries {
			if err := tx.InsertLedgerEntry(t.Context(), e); err != nil {
				return fmt.Errorf("insert entry %s: %w", e.ID, err)
			}
		}
		return nil
	})
}

func insertUsage(t *testing.T, s store.Store, events ...*steward.UsageEvent) {
	t.Helper()
	update(t, s, func(tx store.Tx) error {
		for _, e := range events {
			if err := tx.InsertUsageEvent(t.Context(), e); err != nil {
				return fmt.Errorf("insert usage event %s: %w", e.ID, err)
			}
		}
		return nil
	})
}

// setAccount locks (creating) the tenant's account and writes a.
func setAccount(t *testing.T, s store.Store, a *steward.CreditAccount) {
	t.Helper()
	update(t, s, func(tx store.Tx) error {
		if _, err := tx.LockCreditAccount(t.Context(), a.TenantID, a.UpdatedAt); err != nil {
			return err
		}
		return tx.UpdateCreditAccount(t.Context(), a)
	})
}

func getEntry(t *testing.T, q store.Queries, id string) *steward.LedgerEntry {
	t.Helper()
	e, err := q.GetLedgerEntry(t.Context(), id)
	must(t, "GetLedgerEntry "+id, err)
	return e
}

func blockIDs(list []*steward.CreditBlock) []string {
	return ids(list, func(b *steward.CreditBlock) string { return b.ID })
}

func entryIDs(list []*steward.LedgerEntry) []string {
	return ids(list, func(e *steward.LedgerEntry) string { return e.ID })
}

func testCreditAccount(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenants(t, s, newTenant(1), newTenant(2))
	_, err := s.GetCreditAccount(ctx, tenantID(1))
	notFound(t, "GetCreditAccount before the first lock", err)

	created := &steward.CreditAccount{TenantID: tenantID(1), DayStart: at(time.Second), MonthStart: at(time.Second),
		UpdatedAt: at(time.Second)}
	update(t, s, func(tx store.Tx) error {
		a, err := tx.LockCreditAccount(ctx, tenantID(1), at(time.Second))
		if err != nil {
			return err
		}
		equal(t, "LockCreditAccount creating", a, created)
		got, err := tx.GetCreditAccount(ctx, tenantID(1))
		if err != nil {
			return fmt.Errorf("GetCreditAccount inside the transaction: %w", err)
		}
		equal(t, "GetCreditAccount inside the transaction", got, created)
		return nil
	})
	got, err := s.GetCreditAccount(ctx, tenantID(1))
	must(t, "GetCreditAccount", err)
	equal(t, "GetCreditAccount after creation", got, created)
	// Locking again neither resets the account nor moves its times.
	update(t, s, func(tx store.Tx) error {
		a, err := tx.LockCreditAccount(ctx, tenantID(1), at(time.Hour))
		if err != nil {
			return err
		}
		equal(t, "LockCreditAccount of an existing account", a, created)
		return nil
	})

	full := &steward.CreditAccount{TenantID: tenantID(1), Balance: 1 << 40, LastSeq: 1<<33 + 5, DaySpent: 17,
		DayStart: at(24*time.Hour + time.Microsecond), MonthSpent: 123_456, MonthStart: at(-15*24*time.Hour + 7*time.Microsecond),
		UpdatedAt: at(2 * time.Microsecond)}
	update(t, s, func(tx store.Tx) error {
		if _, err := tx.LockCreditAccount(ctx, tenantID(1), at(time.Hour)); err != nil {
			return err
		}
		if err := tx.UpdateCreditAccount(ctx, full); err != nil {
			return err
		}
		got, err := tx.GetCreditAccount(ctx, tenantID(1))
		if err != nil {
			return err
		}
		equal(t, "GetCreditAccount after UpdateCreditAccount, inside", got, full)
		return nil
	})
	got, err = s.GetCreditAccount(ctx, tenantID(1))
	must(t, "GetCreditAccount", err)
	equal(t, "GetCreditAccount after UpdateCreditAccount", got, full)
	update(t, s, func(tx store.Tx) error {
		a, err := tx.LockCreditAccount(ctx, tenantID(1), at(time.Hour))
		if err != nil {
			return err
		}
		equal(t, "LockCreditAccount after UpdateCreditAccount", a, full)
		return nil
	})

	err = s.Update(ctx, func(tx store.Tx) error {
		return tx.UpdateCreditAccount(ctx, &steward.CreditAccount{TenantID: tenantID(2), Balance: 5})
	})
	notFound(t, "UpdateCreditAccount without an account", err)
	// A creation rolled back leaves no account.
	boom := errors.New("boom")
	err = s.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.LockCreditAccount(ctx, tenantID(2), t0); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want boom", err)
	}
	_, err = s.GetCreditAccount(ctx, tenantID(2))
	notFound(t, "GetCreditAccount after a rolled-back creation", err)
}

func testCreditBlocks(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenants(t, s, newTenant(1), newTenant(2))
	blocks := []*steward.CreditBlock{
		newBlock(7, tenantID(1), 1, nil),                      // no expiry, after 2
		newBlock(1, tenantID(1), 10, ptr(at(2*time.Hour))),    // latest expiry
		newBlock(4, tenantID(1), 3, ptr(at(time.Hour))),       // same expiry as 3, later id
		newBlock(3, tenantID(1), 7, ptr(at(time.Hour))),       // same expiry as 4, earlier id
		newBlock(2, tenantID(1), 5, nil),                      // no expiry
		newBlock(5, tenantID(1), 4, ptr(at(-time.Hour))),      // expired but unspent: still listed
		newBlock(6, tenantID(1), 0, ptr(at(30*time.Minute))),  // spent
		newBlock(9, tenantID(1), -2, ptr(at(10*time.Minute))), // overdrawn
		newBlock(8, tenantID(2), 50, ptr(at(-2*time.Hour))),   // another tenant's
	}
	blocks[1].ExpiresAt = ptr(at(2*time.Hour + 3*time.Microsecond))
	blocks[1].CreatedAt = at(-time.Hour + time.Microsecond)
	insertBlocks(t, s, blocks...)

	list, err := s.ListCreditBlocks(ctx, tenantID(1))
	must(t, "ListCreditBlocks", err)
	sameIDs(t, "ListCreditBlocks order", blockIDs(list),
		[]string{blockID(5), blockID(3), blockID(4), blockID(1), blockID(2), blockID(7)})
	byID := map[string]*steward.CreditBlock{}
	for _, b := range blocks {
		byID[b.ID] = b
	}
	for _, b := range list {
		equal(t, "listed block "+b.ID, b, byID[b.ID])
	}
	for _, b := range blocks {
		got, err := s.GetCreditBlock(ctx, b.ID)
		must(t, "GetCreditBlock", err)
		equal(t, "GetCreditBlock "+b.ID, got, b)
	}
	_, err = s.GetCreditBlock(ctx, blockID(99))
	notFound(t, "GetCreditBlock missing", err)
	list, err = s.ListCreditBlocks(ctx, tenantID(3))
	must(t, "ListCreditBlocks", err)
	if list == nil || len(list) != 0 {
		t.Errorf("ListCreditBlocks of a tenant without blocks = %#v, want an empty list", list)
	}

	err = s.Update(ctx, func(tx store.Tx) error { return tx.InsertCreditBlock(ctx, newBlock(1, tenantID(2), 1, nil)) })
	isDuplicate(t, "InsertCreditBlock with a taken id", err, "id")

	// Remaining moves blocks in and out of the list.
	update(t, s, func(tx store.Tx) error {
		if err := tx.SetBlockRemaining(ctx, blockID(6), 9); err != nil {
			return err
		}
		if err := tx.SetBlockRemaining(ctx, blockID(3), 0); err != nil {
			return err
		}
		got, err := tx.GetCreditBlock(ctx, blockID(6))
		if err != nil {
			return err
		}
		if got.Remaining != 9 {
			t.Errorf("GetCreditBlock inside the transaction: remaining %d, want 9", got.Remaining)
		}
		return nil
	})
	list, err = s.ListCreditBlocks(ctx, tenantID(1))
	must(t, "ListCreditBlocks", err)
	sameIDs(t, "ListCreditBlocks after SetBlockRemaining", blockIDs(list),
		[]string{blockID(5), blockID(6), blockID(4), blockID(1), blockID(2), blockID(7)})
	got, err := s.GetCreditBlock(ctx, blockID(3))
	must(t, "GetCreditBlock", err)
	want := *blocks[3]
	want.Remaining = 0
	equal(t, "a spent block", got, &want)
	err = s.Update(ctx, func(tx store.Tx) error { return tx.SetBlockRemaining(ctx, blockID(99), 1) })
	notFound(t, "SetBlockRemaining missing", err)
}

func testCreditLapsedBlocks(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenants(t, s, newTenant(1), newTenant(2))
	now := t0
	insertBlocks(t, s,
		newBlock(7, tenantID(1), 2, ptr(at(-time.Hour))),         // ties with 2, later id
		newBlock(1, tenantID(1), 5, ptr(at(-2*time.Hour))),       // oldest expiry
		newBlock(3, tenantID(1), 1, ptr(now)),                    // expires exactly now: lapsed
		newBlock(2, tenantID(2), 1, ptr(at(-time.Hour))),         // ties with 7
		newBlock(4, tenantID(2), 1, ptr(at(time.Microsecond))),   // not yet
		newBlock(5, tenantID(1), 0, ptr(at(-3*time.Hour))),       // spent
		newBlock(6, tenantID(2), 9, nil),                         // never expires
		newBlock(8, tenantID(2), -1, ptr(at(-30*time.Minute))),   // overdrawn
		newBlock(9, tenantID(1), 3, ptr(at(24*time.Hour))),       // far future
		newBlock(10, tenantID(2), 8, ptr(at(-time.Microsecond))), // just before now
	)
	list, err := s.ListLapsedBlocks(ctx, now, 100)
	must(t, "ListLapsedBlocks", err)
	sameIDs(t, "ListLapsedBlocks", blockIDs(list),
		[]string{blockID(1), blockID(2), blockID(7), blockID(10), blockID(3)})
	got, err := s.GetCreditBlock(ctx, blockID(1))
	must(t, "GetCreditBlock", err)
	if len(list) > 0 {
		equal(t, "a lapsed block", list[0], got)
	}
	list, err = s.ListLapsedBlocks(ctx, now, 2)
	must(t, "ListLapsedBlocks", err)
	sameIDs(t, "ListLapsedBlocks limit 2", blockIDs(list), []string{blockID(1), blockID(2)})
	list, err = s.ListLapsedBlocks(ctx, now.Add(-time.Microsecond), 100)
	must(t, "ListLapsedBlocks", err)
	sameIDs(t, "ListLapsedBlocks a microsecond earlier", blockIDs(list),
		[]string{blockID(1), blockID(2), blockID(7), blockID(10)})
	list, err = s.ListLapsedBlocks(ctx, at(-4*time.Hour), 100)
	must(t, "ListLapsedBlocks", err)
	if list == nil || len(list) != 0 {
		t.Errorf("ListLapsedBlocks before any expiry = %#v, want an empty list", list)
	}
}

func testLedgerEntryRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenants(t, s, newTenant(1), newTenant(2))
	insertBlocks(t, s, newBlock(1, tenantID(1), 10, nil), newBlock(2, tenantID(1), 10, ptr(at(time.Hour))),
		newBlock(3, tenantID(1), 10, nil))
	full := &steward.LedgerEntry{
		ID: entryID(1), TenantID: tenantID(1), Seq: 1, Kind: steward.LedgerDeduct, Amount: -6, BalanceAfter: -(1 << 40),
		Description: `GPT "4o" run, ü`, Reason: "line one\nline 'two'", ActorType: "api_key", ActorID: "key_1",
		IdempotencyKey: "idem-1", RelatedID: entryID(9), BlockID: blockID(9),
		ExpiresAt: ptr(at(30*24*time.Hour + 7*time.Microsecond)), UsageEventID: usageID(1),
		// In the order written, not by block, with both signs.
		Draws: []steward.Draw{{BlockID: blockID(3), Amount: -2}, {BlockID: blockID(1), Amount: -5},
			{BlockID: blockID(2), Amount: 1}},
		CreatedAt: at(3 * time.Microsecond),
	}
	grant := newEntry(2, tenantID(1), steward.LedgerGrant, 10, 10) // no draws, no expiry, no key
	grant.BlockID = blockID(1)
	nilDraws := newEntry(3, tenantID(1), steward.LedgerAdjust, -1, 9)
	nilDraws.Draws = nil
	// More draws than fit one statement's parameters on some backends.
	var many []*steward.CreditBlock
	wide := newEntry(4, tenantID(1), steward.LedgerDeduct, 0, 9)
	for i := range 1200 {
		many = append(many, newBlock(100+i, tenantID(1), 1, nil))
		wide.Draws = append(wide.Draws, steward.Draw{BlockID: blockID(100 + (i*7)%1200), Amount: int64(i%3 - 1)})
	}
	insertBlocks(t, s, many...)
	update(t, s, func(tx store.Tx) error {
		for _, e := range []*steward.LedgerEntry{full, grant, nilDraws, wide} {
			if err := tx.InsertLedgerEntry(ctx, e); err != nil {
				return err
			}
		}
		got, err := tx.GetLedgerEntry(ctx, full.ID)
		if err != nil {
			return fmt.Errorf("GetLedgerEntry inside the transaction: %w", err)
		}
		equal(t, "GetLedgerEntry inside the transaction", got, full)
		return nil
	})
	nilDraws.Draws = []steward.Draw{} // read back empty, not nil
	for _, e := range []*steward.LedgerEntry{full, grant, nilDraws, wide} {
		got := getEntry(t, s, e.ID)
		equal(t, "GetLedgerEntry "+e.ID, got, e)
		if got.Draws == nil {
			t.Errorf("GetLedgerEntry %s: Draws is nil, want an empty slice", e.ID)
		}
	}
	got, err := s.GetLedgerEntryByKey(ctx, tenantID(1), "idem-1")
	must(t, "GetLedgerEntryByKey", err)
	equal(t, "GetLedgerEntryByKey", got, full)
	_, err = s.GetLedgerEntryByKey(ctx, tenantID(2), "idem-1")
	notFound(t, "GetLedgerEntryByKey in another tenant", err)
	_, err = s.GetLedgerEntryByKey(ctx, tenantID(1), "")
	notFound(t, "GetLedgerEntryByKey with the empty key", err)
	_, err = s.GetLedgerEntry(ctx, entryID(99))
	notFound(t, "GetLedgerEntry missing", err)
	list, err := s.ListLedger(ctx, steward.LedgerFilter{TenantID: tenantID(1)})
	must(t, "ListLedger", err)
	if len(list) == 4 {
		for i, e := range []*steward.LedgerEntry{wide, nilDraws, grant, full} {
			equal(t, "ListLedger entry "+e.ID, list[i], e)
		}
	} else {
		sameIDs(t, "ListLedger", entryIDs(list), []string{wide.ID, nilDraws.ID, grant.ID, full.ID})
	}

	// A taken id, with or without draws: nothing of the entry is written.
	dup := newEntry(1, tenantID(2), steward.LedgerGrant, 1, 1)
	dup.IdempotencyKey = "other"
	err = s.Update(ctx, func(tx store.Tx) error { return tx.InsertLedgerEntry(ctx, dup) })
	isDuplicate(t, "InsertLedgerEntry with a taken id", err, "id")
	dup.Draws = []steward.Draw{{BlockID: blockID(1), Amount: 4}}
	err = s.Update(ctx, func(tx store.Tx) error { return tx.InsertLedgerEntry(ctx, dup) })
	isDuplicate(t, "InsertLedgerEntry with a taken id and draws", err, "id")
	equal(t, "the entry whose id was taken", getEntry(t, s, full.ID), full)
	_, err = s.GetLedgerEntryByKey(ctx, tenantID(2), "other")
	notFound(t, "GetLedgerEntryByKey of a refused entry", err)
}

func testLedgerKeysAndSeq(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenants(t, s, newTenant(1), newTenant(2))
	insertBlocks(t, s, newBlock(1, tenantID(1), 10, nil))
	first := newEntry(1, tenantID(1), steward.LedgerDeduct, -1, 9)
	first.IdempotencyKey = "req-1"
	first.Draws = []steward.Draw{{BlockID: blockID(1), Amount: -1}}
	insertEntries(t, s, first)

	again := newEntry(2, tenantID(1), steward.LedgerDeduct, -1, 8)
	again.IdempotencyKey = "req-1"
	again.Draws = []steward.Draw{{BlockID: blockID(1), Amount: -1}}
	err := s.Update(ctx, func(tx store.Tx) error { return tx.InsertLedgerEntry(ctx, again) })
	isDuplicate(t, "the same key in the same tenant", err, "idempotency_key")
	_, err = s.GetLedgerEntry(ctx, again.ID)
	notFound(t, "GetLedgerEntry of the entry refused for its key", err)

	sameSeq := newEntry(3, tenantID(1), steward.LedgerDeduct, -1, 8)
	sameSeq.Seq = first.Seq
	sameSeq.Draws = []steward.Draw{{BlockID: blockID(1), Amount: -1}}
	err = s.Update(ctx, func(tx store.Tx) error { return tx.InsertLedgerEntry(ctx, sameSeq) })
	isDuplicate(t, "the same seq in the same tenant", err, "seq")
	_, err = s.GetLedgerEntry(ctx, sameSeq.ID)
	notFound(t, "GetLedgerEntry of the entry refused for its seq", err)

	// The same key or seq in another tenant, and entries without a key,
	// are fine.
	other := newEntry(4, tenantID(2), steward.LedgerGrant, 5, 5)
	other.IdempotencyKey, other.Seq = "req-1", first.Seq
	insertEntries(t, s, other, newEntry(5, tenantID(1), steward.LedgerGrant, 1, 10),
		newEntry(6, tenantID(1), steward.LedgerGrant, 1, 11), newEntry(7, tenantID(2), steward.LedgerGrant, 1, 6))
	for tenant, want := range map[string]*steward.LedgerEntry{tenantID(1): first, tenantID(2): other} {
		got, err := s.GetLedgerEntryByKey(ctx, tenant, "req-1")
		must(t, "GetLedgerEntryByKey", err)
		equal(t, "GetLedgerEntryByKey "+tenant, got, want)
	}
	list, err := s.ListLedger(ctx, steward.LedgerFilter{TenantID: tenantID(1)})
	must(t, "ListLedger", err)
	sameIDs(t, "entries of tenant 1", entryIDs(list), []string{entryID(6), entryID(5), entryID(1)})
	list, err = s.ListLedger(ctx, steward.LedgerFilter{TenantID: tenantID(2)})
	must(t, "ListLedger", err)
	sameIDs(t, "entries of tenant 2", entryIDs(list), []string{entryID(7), entryID(4)})
	// The refused entries drew nothing.
	equal(t, "the first entry", getEntry(t, s, first.ID), first)
}

// ledgerFixture is 18 entries of two tenants, of every kind, some with
// draws. Neither id nor created_at follows seq, the order written, so a
// page cannot be in id order and a filter on time cannot be one on seq.
func ledgerFixture(t *testing.T, s store.Store) []*steward.LedgerEntry {
	t.Helper()
	createTenants(t, s, newTenant(1), newTenant(2))
	insertBlocks(t, s, newBlock(1, tenantID(1), 100, nil), newBlock(2, tenantID(1), 100, ptr(at(time.Hour))),
		newBlock(3, tenantID(2), 100, nil))
	kinds := []steward.LedgerKind{steward.LedgerGrant, steward.LedgerDeduct, steward.LedgerRefund,
		steward.LedgerExpire, steward.LedgerAdjust}
	var (
		entries []*steward.LedgerEntry
		seq     = map[string]int64{}
	)
	for i := 1; i <= 18; i++ {
		n := i * 7 % 19 // 7, 14, 2, 9, …: every one of 1-18 once
		tenant, block := tenantID(1), blockID(1)
		if n%5 == 0 {
			tenant, block = tenantID(2), blockID(3)
		}
		seq[tenant]++
		e := newEntry(n, tenant, kinds[n%len(kinds)], int64(n), int64(10*n))
		e.Seq = seq[tenant]
		e.CreatedAt = at(time.Duration((n*7)%18)*time.Minute + time.Microsecond)
		e.Description = fmt.Sprintf("entry %d", n)
		switch e.Kind {
		case steward.LedgerDeduct:
			e.Amount = -int64(n)
			e.Draws = []steward.Draw{{BlockID: block, Amount: -int64(n) + 1}, {BlockID: blockID(2), Amount: -1}}
		case steward.LedgerRefund:
			e.Draws = []steward.Draw{{BlockID: block, Amount: int64(n)}}
		}
		entries = append(entries, e)
	}
	insertEntries(t, s, entries...)
	return entries
}

func ledgerMatches(e *steward.LedgerEntry, f steward.LedgerFilter) bool {
	return e.TenantID == f.TenantID && (f.Kind == "" || e.Kind == f.Kind) &&
		(f.Since == nil || !e.CreatedAt.Before(*f.Since)) && (f.Until == nil || e.CreatedAt.Before(*f.Until)) &&
		(f.BeforeSeq == 0 || e.Seq < f.BeforeSeq)
}

func testLedgerList(t *testing.T, s store.Store) {
	ctx := t.Context()
	entries := ledgerFixture(t, s)
	// An entry's exact time, to pin both boundaries.
	var five time.Time
	for _, e := range entries {
		if e.ID == entryID(5) {
			five = e.CreatedAt
		}
	}
	for _, f := range []steward.LedgerFilter{
		{TenantID: tenantID(1)},
		{TenantID: tenantID(2)},
		{TenantID: tenantID(1), Kind: steward.LedgerDeduct},
		{TenantID: tenantID(1), Kind: steward.LedgerGrant},
		{TenantID: tenantID(2), Since: &five}, // inclusive: entry 5 is in
		{TenantID: tenantID(2), Until: &five}, // exclusive: entry 5 is out
		{TenantID: tenantID(1), Since: ptr(at(4 * time.Minute)), Until: ptr(at(12 * time.Minute))},
		{TenantID: tenantID(1), Kind: steward.LedgerRefund, Since: ptr(at(2 * time.Minute)), Until: ptr(at(15 * time.Minute))},
		{TenantID: tenantID(1), BeforeSeq: 9},
		{TenantID: tenantID(1), Kind: steward.LedgerDeduct, BeforeSeq: 12},
		{TenantID: tenantID(1), Kind: steward.LedgerAdjust, Since: ptr(at(time.Hour))},
		{TenantID: tenantID(3)},
	} {
		var want []*steward.LedgerEntry
		for _, e := range entries {
			if ledgerMatches(e, f) {
				want = append(want, e)
			}
		}
		slices.SortFunc(want, func(a, b *steward.LedgerEntry) int { return cmp.Compare(b.Seq, a.Seq) })
		what := fmt.Sprintf("ListLedger(%+v)", f)
		if f.TenantID == tenantID(2) && f.Since != nil && !slices.ContainsFunc(want, func(e *steward.LedgerEntry) bool {
			return e.ID == entryID(5)
		}) {
			t.Fatalf("%s: the fixture no longer has entry 5 at the Since boundary", what)
		}

		all, err := s.ListLedger(ctx, steward.LedgerFilter{TenantID: f.TenantID, Kind: f.Kind, Since: f.Since,
			Until: f.Until, BeforeSeq: f.BeforeSeq, Limit: 100})
		must(t, what, err)
		if all == nil {
			t.Errorf("%s: nil, want an empty list", what)
		}
		sameIDs(t, what, entryIDs(all), entryIDs(want))
		// Pages of 3 walk the same entries, draws included.
		var paged []*steward.LedgerEntry
		page := f
		page.Limit = 3
		for range 10 {
			list, err := s.ListLedger(ctx, page)
			must(t, what, err)
			paged = append(paged, list...)
			if len(list) < 3 {
				break
			}
			page.BeforeSeq = list[len(list)-1].Seq
		}
		sameIDs(t, what+" in pages of 3", entryIDs(paged), entryIDs(want))
		if len(paged) == len(want) {
			for i := range want {
				equal(t, what+" entry", paged[i], want[i])
			}
		}
	}
	if _, err := s.ListLedger(ctx, steward.LedgerFilter{}); err == nil {
		t.Errorf("ListLedger without a tenant: no error (seq orders one tenant's entries)")
	}
}

func testLedgerRefundedAmount(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenants(t, s, newTenant(1), newTenant(2))
	d1 := newEntry(1, tenantID(1), steward.LedgerDeduct, -10, -10)
	d2 := newEntry(2, tenantID(1), steward.LedgerDeduct, -10, -20)
	d3 := newEntry(3, tenantID(2), steward.LedgerDeduct, -10, -10)
	refund := func(n int, related *steward.LedgerEntry, amount int64) *steward.LedgerEntry {
		e := newEntry(n, related.TenantID, steward.LedgerRefund, amount, 0)
		e.RelatedID = related.ID
		return e
	}
	adjust := newEntry(7, tenantID(1), steward.LedgerAdjust, 100, 100)
	adjust.RelatedID = d1.ID // not a refund
	insertEntries(t, s, d1, d2, d3, refund(4, d1, 3), refund(5, d1, 4), refund(6, d2, 5), adjust,
		newEntry(8, tenantID(1), steward.LedgerRefund, 9, 9)) // a refund of no deduct
	for id, want := range map[string]int64{d1.ID: 7, d2.ID: 5, d3.ID: 0, entryID(99): 0, "": 0} {
		got, err := s.RefundedAmount(ctx, id)
		must(t, "RefundedAmount", err)
		if got != want {
			t.Errorf("RefundedAmount(%q) = %d, want %d", id, got, want)
		}
	}
	update(t, s, func(tx store.Tx) error {
		if err := tx.InsertLedgerEntry(ctx, refund(9, d1, 1)); err != nil {
			return err
		}
		got, err := tx.RefundedAmount(ctx, d1.ID)
		if err != nil {
			return err
		}
		if got != 8 {
			t.Errorf("RefundedAmount inside the transaction = %d, want 8", got)
		}
		return nil
	})
}

func testLedgerTotals(t *testing.T, s store.Store) {
	ctx := t.Context()
	got, err := s.LedgerTotals(ctx)
	must(t, "LedgerTotals", err)
	if got == nil || len(got) != 0 {
		t.Errorf("LedgerTotals of an empty store = %#v, want an empty list", got)
	}
	createTenants(t, s, newTenant(1), newTenant(2), newTenant(3), newTenant(4), newTenant(5), newTenant(6))

	// Tenant 1 agrees: a grant of 15 and a deduct of 5 from its block.
	insertBlocks(t, s, newBlock(1, tenantID(1), 10, nil))
	deduct := newEntry(2, tenantID(1), steward.LedgerDeduct, -5, 10)
	deduct.Draws = []steward.Draw{{BlockID: blockID(1), Amount: -5}}
	insertEntries(t, s, newEntry(1, tenantID(1), steward.LedgerGrant, 15, 15), deduct)
	setAccount(t, s, &steward.CreditAccount{TenantID: tenantID(1), Balance: 10, UpdatedAt: t0})

	// Tenant 2 disagrees every way: the account says 7, the entries sum
	// to 16, the blocks to 9 with one overdrawn, and the newest entry (by
	// seq, though not by id) says 16.
	insertBlocks(t, s, newBlock(2, tenantID(2), 12, nil), newBlock(3, tenantID(2), -3, ptr(at(time.Hour))))
	grant, deduct2 := newEntry(9, tenantID(2), steward.LedgerGrant, 20, 20), newEntry(8, tenantID(2), steward.LedgerDeduct, -4, 16)
	grant.Seq, deduct2.Seq = 1, 2
	insertEntries(t, s, grant, deduct2)
	setAccount(t, s, &steward.CreditAccount{TenantID: tenantID(2), Balance: 7, UpdatedAt: t0})
	// Tenant 3 has only a block, 4 only an account, 5 only an entry; 6
	// nothing.
	insertBlocks(t, s, newBlock(4, tenantID(3), 5, nil))
	update(t, s, func(tx store.Tx) error {
		_, err := tx.LockCreditAccount(ctx, tenantID(4), t0)
		return err
	})
	insertEntries(t, s, newEntry(10, tenantID(5), steward.LedgerAdjust, -3, -3))

	want := []steward.LedgerTotals{
		{TenantID: tenantID(1), Account: 10, Entries: 10, Blocks: 10, LastBalance: 10},
		{TenantID: tenantID(2), Account: 7, Entries: 16, Blocks: 9, LastBalance: 16, NegativeBlocks: 1},
		{TenantID: tenantID(3), Blocks: 5},
		{TenantID: tenantID(4)},
		{TenantID: tenantID(5), Entries: -3, LastBalance: -3},
	}
	got, err = s.LedgerTotals(ctx)
	must(t, "LedgerTotals", err)
	if len(got) != len(want) {
		t.Fatalf("LedgerTotals = %+v, want %+v", got, want)
	}
	for i := range want {
		equal(t, "LedgerTotals "+want[i].TenantID, got[i], want[i])
	}
	for i, ok := range []bool{true, false, false, true, false} {
		if got[i].OK() != ok {
			t.Errorf("LedgerTotals %s: OK() = %v, want %v", got[i].TenantID, got[i].OK(), ok)
		}
	}

	// Repairing tenant 2 through the same writes makes it agree.
	update(t, s, func(tx store.Tx) error {
		a, err := tx.LockCreditAccount(ctx, tenantID(2), t0)
		if err != nil {
			return err
		}
		a.Balance = 16
		if err := tx.UpdateCreditAccount(ctx, a); err != nil {
			return err
		}
		if err := tx.SetBlockRemaining(ctx, blockID(3), 0); err != nil {
			return err
		}
		return tx.SetBlockRemaining(ctx, blockID(2), 16)
	})
	got, err = s.LedgerTotals(ctx)
	must(t, "LedgerTotals", err)
	if len(got) == len(want) {
		equal(t, "LedgerTotals after the repair", got[1],
			steward.LedgerTotals{TenantID: tenantID(2), Account: 16, Entries: 16, Blocks: 16, LastBalance: 16})
		if !got[1].OK() {
			t.Errorf("LedgerTotals after the repair: %+v not OK", got[1])
		}
	}
}

func newUsageEvent(n int, tenant string) *steward.UsageEvent {
	return &steward.UsageEvent{ID: usageID(n), TenantID: tenant, Metric: "tokens", Quantity: int64(n),
		OccurredAt: at(time.Duration(n) * time.Minute), RecordedAt: at(time.Duration(n)*time.Minute + time.Second)}
}

func testUsageEvents(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenants(t, s, newTenant(1), newTenant(2))
	full := &steward.UsageEvent{ID: "evt_caller-chosen/1", TenantID: tenantID(1), UserID: userID(1), Metric: "llm.tokens",
		Quantity: 1 << 40, Credits: 12_345, CostMicros: 987_654_321, Model: "gpt-4o-2024-08-06",
		OccurredAt: at(-time.Hour + 3*time.Microsecond), RecordedAt: at(5 * time.Microsecond), TransactionID: entryID(1)}
	bare := newUsageEvent(2, tenantID(1)) // free: no user, model or transaction
	update(t, s, func(tx store.Tx) error {
		for _, e := range []*steward.UsageEvent{full, bare} {
			if err := tx.InsertUsageEvent(ctx, e); err != nil {
				return err
			}
		}
		got, err := tx.GetUsageEvent(ctx, full.TenantID, full.ID)
		if err != nil {
			return fmt.Errorf("GetUsageEvent inside the transaction: %w", err)
		}
		equal(t, "GetUsageEvent inside the transaction", got, full)
		return nil
	})
	for _, e := range []*steward.UsageEvent{full, bare} {
		got, err := s.GetUsageEvent(ctx, e.TenantID, e.ID)
		must(t, "GetUsageEvent", err)
		equal(t, "GetUsageEvent "+e.ID, got, e)
	}
	_, err := s.GetUsageEvent(ctx, tenantID(2), full.ID)
	notFound(t, "GetUsageEvent in another tenant", err)
	_, err = s.GetUsageEvent(ctx, tenantID(1), usageID(99))
	notFound(t, "GetUsageEvent missing", err)

	dup := *full
	dup.Quantity, dup.Metric = 1, "other"
	err = s.Update(ctx, func(tx store.Tx) error { return tx.InsertUsageEvent(ctx, &dup) })
	isDuplicate(t, "InsertUsageEvent with a taken (tenant, id)", err, "id")
	got, err := s.GetUsageEvent(ctx, full.TenantID, full.ID)
	must(t, "GetUsageEvent", err)
	equal(t, "the event whose id was taken", got, full)
	// The same id in another tenant is another event.
	dup.TenantID = tenantID(2)
	insertUsage(t, s, &dup)
	got, err = s.GetUsageEvent(ctx, tenantID(2), full.ID)
	must(t, "GetUsageEvent", err)
	equal(t, "the same id in another tenant", got, &dup)
}

// usageFixture has keys that sort differently bytewise and in a natural
// language collation ("Gpt4" < "gpt-4o" < "gpt_4o"), and events at both
// ends of the window [t0, t0+1h).
func usageFixture() []*steward.UsageEvent {
	ev := func(n int, tenant, user, metric, model string, qty, credits, cost int64, occurred time.Time) *steward.UsageEvent {
		return &steward.UsageEvent{ID: usageID(n), TenantID: tenant, UserID: user, Metric: metric, Model: model,
			Quantity: qty, Credits: credits, CostMicros: cost, OccurredAt: occurred, RecordedAt: occurred.Add(time.Second)}
	}
	return []*steward.UsageEvent{
		ev(1, tenantID(1), userID(1), "tokens", "gpt-4o", 100, 10, 1000, at(0)), // at the start: in
		ev(2, tenantID(1), userID(2), "tokens", "gpt_4o", 50, 10, 500, at(30*time.Minute)),
		ev(3, tenantID(1), "", "images", "", 2, 30, 300, at(time.Hour-time.Microsecond)), // last moment in
		ev(4, tenantID(1), userID(1), "tokens", "gpt-4o", 7, 5, 70, at(time.Hour)),       // at the end: out
		ev(5, tenantID(1), userID(1), "tokens", "gpt-4o", 9, 9, 90, at(-time.Microsecond)),
		ev(6, tenantID(2), userID(3), "tokens", "Gpt4", 40, 10, 400, at(10*time.Minute)),
		ev(7, tenantID(2), userID(3), "Images", "gpt-4o", 1, 0, 0, at(20*time.Minute)),
		ev(8, tenantID(2), "", "tokens", "", 3, 30, 3, at(40*time.Minute)),
		ev(9, tenantID(2), userID(1), "tokens", "gpt_4o", 4, 0, 40, at(50*time.Minute)),
	}
}

// aggregate is AggregateUsage done by hand.
func aggregate(events []*steward.UsageEvent, q steward.UsageQuery) []steward.UsageRow {
	groups := map[string]*steward.UsageRow{}
	for _, e := range events {
		if e.OccurredAt.Before(q.Start) || !e.OccurredAt.Before(q.End) || (q.TenantID != "" && e.TenantID != q.TenantID) {
			continue
		}
		key := map[steward.UsageGroup]string{steward.UsageByTenant: e.TenantID, steward.UsageByUser: e.UserID,
			steward.UsageByMetric: e.Metric, steward.UsageByModel: e.Model}[q.GroupBy]
		r := groups[key]
		if r == nil {
			r = &steward.UsageRow{Key: key}
			groups[key] = r
		}
		r.Events++
		r.Quantity += e.Quantity
		r.Credits += e.Credits
		r.CostMicros += e.CostMicros
	}
	out := []steward.UsageRow{}
	for _, r := range groups {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b steward.UsageRow) int {
		return cmp.Or(cmp.Compare(b.Credits, a.Credits), strings.Compare(a.Key, b.Key))
	})
	return out
}

func testAggregateUsage(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenants(t, s, newTenant(1), newTenant(2))
	events := usageFixture()
	insertUsage(t, s, events...)
	window := steward.UsageQuery{Start: t0, End: at(time.Hour)}

	// One by hand, to keep the model honest: empty model first with the
	// most credits, then the ties bytewise.
	q := window
	q.GroupBy = steward.UsageByModel
	got, err := s.AggregateUsage(ctx, q)
	must(t, "AggregateUsage by model", err)
	equal(t, "AggregateUsage by model", got, []steward.UsageRow{
		{Key: "", Events: 2, Quantity: 5, Credits: 60, CostMicros: 303},
		{Key: "Gpt4", Events: 1, Quantity: 40, Credits: 10, CostMicros: 400},
		{Key: "gpt-4o", Events: 2, Quantity: 101, Credits: 10, CostMicros: 1000},
		{Key: "gpt_4o", Events: 2, Quantity: 54, Credits: 10, CostMicros: 540},
	})

	for _, group := range []steward.UsageGroup{steward.UsageByTenant, steward.UsageByUser, steward.UsageByMetric,
		steward.UsageByModel} {
		for _, tenant := range []string{"", tenantID(1), tenantID(2), tenantID(3)} {
			for _, w := range []steward.UsageQuery{
				window,
				{Start: at(-time.Microsecond), End: at(time.Hour + time.Microsecond)},
				{Start: at(30 * time.Minute), End: at(30 * time.Minute)}, // empty window
				{Start: at(10 * time.Minute), End: at(40 * time.Minute)},
			} {
				q := w
				q.GroupBy, q.TenantID = group, tenant
				got, err := s.AggregateUsage(ctx, q)
				must(t, "AggregateUsage", err)
				want := aggregate(events, q)
				if got == nil || len(got) != len(want) {
					t.Errorf("AggregateUsage(%+v) = %+v, want %+v", q, got, want)
					continue
				}
				equal(t, fmt.Sprintf("AggregateUsage(%+v)", q), got, want)
			}
		}
	}
	q.GroupBy = "colour"
	if _, err := s.AggregateUsage(ctx, q); err == nil {
		t.Errorf("AggregateUsage by an unknown group: no error")
	}
}

func testCreditPurge(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenants(t, s, newTenant(1), newTenant(2))
	seed := func(tenant string, base int) (entries []*steward.LedgerEntry, events []*steward.UsageEvent) {
		insertBlocks(t, s, newBlock(base+1, tenant, 10, nil), newBlock(base+2, tenant, 0, ptr(at(-time.Hour))),
			newBlock(base+3, tenant, 5, ptr(at(time.Hour))))
		for i := range 4 {
			e := newEntry(base+i, tenant, steward.LedgerDeduct, -1, int64(i))
			e.IdempotencyKey = fmt.Sprintf("key-%d", i)
			e.Draws = []steward.Draw{{BlockID: blockID(base + 1 + i%3), Amount: -1}, {BlockID: blockID(base + 2), Amount: 0}}
			entries = append(entries, e)
			u := newUsageEvent(base+i, tenant)
			u.TransactionID = e.ID
			events = append(events, u)
		}
		events = append(events, newUsageEvent(base+9, tenant)) // a free one
		insertEntries(t, s, entries...)
		insertUsage(t, s, events...)
		setAccount(t, s, &steward.CreditAccount{TenantID: tenant, Balance: 15, UpdatedAt: t0})
		return entries, events
	}
	goneEntries, goneEvents := seed(tenantID(1), 100)
	keepEntries, keepEvents := seed(tenantID(2), 200)
	keepTotals, err := s.LedgerTotals(ctx)
	must(t, "LedgerTotals", err)
	keepTotals = slices.DeleteFunc(keepTotals, func(x steward.LedgerTotals) bool { return x.TenantID == tenantID(1) })

	var c steward.TenantPurgeCounts
	update(t, s, func(tx store.Tx) (err error) {
		c, err = tx.PurgeTenant(ctx, tenantID(1))
		return err
	})
	equal(t, "PurgeTenant counts", c, steward.TenantPurgeCounts{LedgerEntries: 4, UsageEvents: 5})

	_, err = s.GetCreditAccount(ctx, tenantID(1))
	notFound(t, "GetCreditAccount after purge", err)
	blocks, err := s.ListCreditBlocks(ctx, tenantID(1))
	must(t, "ListCreditBlocks", err)
	sameIDs(t, "blocks after purge", blockIDs(blocks), nil)
	for n := 101; n <= 103; n++ {
		_, err := s.GetCreditBlock(ctx, blockID(n))
		notFound(t, "GetCreditBlock after purge", err)
	}
	for _, e := range goneEntries {
		_, err := s.GetLedgerEntry(ctx, e.ID)
		notFound(t, "GetLedgerEntry after purge", err)
		_, err = s.GetLedgerEntryByKey(ctx, tenantID(1), e.IdempotencyKey)
		notFound(t, "GetLedgerEntryByKey after purge", err)
	}
	for _, e := range goneEvents {
		_, err := s.GetUsageEvent(ctx, tenantID(1), e.ID)
		notFound(t, "GetUsageEvent after purge", err)
	}
	list, err := s.ListLedger(ctx, steward.LedgerFilter{TenantID: tenantID(1)})
	must(t, "ListLedger", err)
	sameIDs(t, "ledger after purge", entryIDs(list), nil)
	lapsed, err := s.ListLapsedBlocks(ctx, at(24*time.Hour), 100)
	must(t, "ListLapsedBlocks", err)
	sameIDs(t, "lapsed blocks after purge", blockIDs(lapsed), []string{blockID(203)})
	rows, err := s.AggregateUsage(ctx, steward.UsageQuery{Start: at(-time.Hour), End: at(24 * time.Hour),
		GroupBy: steward.UsageByTenant})
	must(t, "AggregateUsage", err)
	if len(rows) != 1 || rows[0].Key != tenantID(2) || rows[0].Events != 5 {
		t.Errorf("usage after purge = %+v, want tenant 2's 5 events only", rows)
	}
	totals, err := s.LedgerTotals(ctx)
	must(t, "LedgerTotals", err)
	equal(t, "LedgerTotals after purge", totals, keepTotals)

	// The other tenant is untouched.
	for _, e := range keepEntries {
		equal(t, "an entry of the other tenant", getEntry(t, s, e.ID), e)
	}
	for _, e := range keepEvents {
		got, err := s.GetUsageEvent(ctx, tenantID(2), e.ID)
		must(t, "GetUsageEvent", err)
		equal(t, "an event of the other tenant", got, e)
	}
	blocks, err = s.ListCreditBlocks(ctx, tenantID(2))
	must(t, "ListCreditBlocks", err)
	sameIDs(t, "blocks of the other tenant", blockIDs(blocks), []string{blockID(203), blockID(201)})

	// Every id and key of the purged tenant is free again.
	createTenants(t, s, newTenant(1))
	seed(tenantID(1), 100)
	equal(t, "an entry written again after purge", getEntry(t, s, goneEntries[0].ID), goneEntries[0])
}

func testCreditRollback(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenants(t, s, newTenant(1))
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx store.Tx) error {
		a, err := tx.LockCreditAccount(ctx, tenantID(1), t0)
		if err != nil {
			return err
		}
		if err := tx.InsertCreditBlock(ctx, newBlock(1, tenantID(1), 10, ptr(at(-time.Hour)))); err != nil {
			return err
		}
		grant := newEntry(1, tenantID(1), steward.LedgerGrant, 10, 10)
		grant.IdempotencyKey = "req"
		deduct := newEntry(2, tenantID(1), steward.LedgerDeduct, -3, 7)
		deduct.Draws = []steward.Draw{{BlockID: blockID(1), Amount: -3}}
		for _, e := range []*steward.LedgerEntry{grant, deduct} {
			if err := tx.InsertLedgerEntry(ctx, e); err != nil {
				return err
			}
		}
		if err := tx.SetBlockRemaining(ctx, blockID(1), 7); err != nil {
			return err
		}
		a.Balance = 7
		if err := tx.UpdateCreditAccount(ctx, a); err != nil {
			return err
		}
		if err := tx.InsertUsageEvent(ctx, newUsageEvent(1, tenantID(1))); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want boom", err)
	}
	_, err = s.GetCreditAccount(ctx, tenantID(1))
	notFound(t, "GetCreditAccount after rollback", err)
	_, err = s.GetCreditBlock(ctx, blockID(1))
	notFound(t, "GetCreditBlock after rollback", err)
	lapsed, err := s.ListLapsedBlocks(ctx, t0, 10)
	must(t, "ListLapsedBlocks", err)
	sameIDs(t, "lapsed blocks after rollback", blockIDs(lapsed), nil)
	for _, id := range []string{entryID(1), entryID(2)} {
		_, err = s.GetLedgerEntry(ctx, id)
		notFound(t, "GetLedgerEntry after rollback", err)
	}
	_, err = s.GetLedgerEntryByKey(ctx, tenantID(1), "req")
	notFound(t, "GetLedgerEntryByKey after rollback", err)
	_, err = s.GetUsageEvent(ctx, tenantID(1), usageID(1))
	notFound(t, "GetUsageEvent after rollback", err)
	totals, err := s.LedgerTotals(ctx)
	must(t, "LedgerTotals", err)
	if len(totals) != 0 {
		t.Errorf("LedgerTotals after rollback = %+v, want none", totals)
	}
}

// testCreditLockSerialised: LockCreditAccount serialises the writers of one
// account (on PostgreSQL the row lock, on SQLite the single writer), so
// concurrent read-modify-write increments lose nothing — including the
// race to create an account none of them finds at first. (Without the lock,
// two writers read the same balance and one increment is lost.)
func testCreditLockSerialised(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenants(t, s, newTenant(1), newTenant(2))
	var wg sync.WaitGroup
	const workers, rounds = 8, 10
	errs := make(chan error, workers*rounds)
	for range workers {
		wg.Go(func() {
			for range rounds {
				errs <- s.Update(ctx, func(tx store.Tx) error {
					a, err := tx.LockCreditAccount(ctx, tenantID(2), t0)
					if err != nil {
						return err
					}
					a.Balance++
					return tx.UpdateCreditAccount(ctx, a)
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
	a, err := s.GetCreditAccount(ctx, tenantID(2))
	must(t, "GetCreditAccount", err)
	if a.Balance != workers*rounds {
		t.Errorf("balance after %d locked increments = %d (lost updates)", workers*rounds, a.Balance)
	}
}

// testCreditLedgersLocked: LockCreditLedgers returns the existing tenants
// of the set, in id order, each with its account (created on first use,
// kept after) and its blocks with credits left in drawing order; writers
// locking overlapping sets given in opposite orders neither deadlock nor
// lose an update.
func testCreditLedgersLocked(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenants(t, s, newTenant(1), newTenant(2), newTenant(3))
	insertBlocks(t, s,
		newBlock(1, tenantID(2), 5, nil),
		newBlock(2, tenantID(2), 7, ptr(at(time.Hour))),
		newBlock(3, tenantID(2), 0, ptr(at(time.Minute))), // spent: not listed
		newBlock(4, tenantID(3), 9, nil))
	setAccount(t, s, &steward.CreditAccount{TenantID: tenantID(3), Balance: 9, LastSeq: 4, DayStart: at(0),
		MonthStart: at(0), UpdatedAt: at(0)})
	var got []*store.CreditLedger
	update(t, s, func(tx store.Tx) (err error) {
		got, err = tx.LockCreditLedgers(ctx, []string{tenantID(3), "ten_missing", tenantID(2), tenantID(3)}, at(time.Second))
		return err
	})
	if len(got) != 2 || got[0].Tenant.ID != tenantID(2) || got[1].Tenant.ID != tenantID(3) {
		t.Fatalf("LockCreditLedgers tenants = %+v, want %s and %s in order", got, tenantID(2), tenantID(3))
	}
	equal(t, "a new account", got[0].Account, &steward.CreditAccount{TenantID: tenantID(2), DayStart: at(time.Second),
		MonthStart: at(time.Second), UpdatedAt: at(time.Second)})
	if got[1].Account.Balance != 9 || got[1].Account.LastSeq != 4 {
		t.Errorf("an existing account = %+v, want balance 9, last seq 4", got[1].Account)
	}
	sameIDs(t, "tenant 2's blocks", blockIDs(got[0].Blocks), []string{blockID(2), blockID(1)})
	sameIDs(t, "tenant 3's blocks", blockIDs(got[1].Blocks), []string{blockID(4)})
	if _, err := s.GetCreditAccount(ctx, tenantID(2)); err != nil {
		t.Errorf("the account created by LockCreditLedgers: %v", err)
	}
	if _, err := s.GetCreditAccount(ctx, tenantID(1)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a tenant outside the set got an account: %v", err)
	}

	const workers, rounds = 6, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds)
	for w := range workers {
		set := []string{tenantID(1), tenantID(2), tenantID(3)}
		if w%2 == 1 {
			slices.Reverse(set)
		}
		wg.Go(func() {
			for range rounds {
				errs <- s.Update(ctx, func(tx store.Tx) error {
					ls, err := tx.LockCreditLedgers(ctx, set, t0)
					if err != nil {
						return err
					}
					for _, l := range ls {
						l.Account.Balance++
						if err := tx.UpdateCreditAccount(ctx, l.Account); err != nil {
							return err
						}
					}
					return nil
				})
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent LockCreditLedgers: %v", err)
		}
	}
	for i, want := range []int64{workers * rounds, workers * rounds, 9 + workers*rounds} {
		a, err := s.GetCreditAccount(ctx, tenantID(i+1))
		must(t, "GetCreditAccount", err)
		if a.Balance != want {
			t.Errorf("tenant %d balance = %d, want %d (lost updates)", i+1, a.Balance, want)
		}
	}
}
