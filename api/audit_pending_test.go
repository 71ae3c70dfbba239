package api_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
	"github.com/stewardhq/steward/service"
	"github.com/stewardhq/steward/store"
)

// unsealed is a store whose seal passes always fail, as when an older
// transaction holds the sequencer back forever: every entry stays pending.
type unsealed struct{ store.Store }

func (s unsealed) Update(ctx context.Context, fn func(store.Tx) error) error {
	return s.Store.Update(ctx, func(tx store.Tx) error { return fn(unsealedTx{tx}) })
}

type unsealedTx struct{ store.Tx }

func (unsealedTx) SealAudit(context.Context, []*steward.AuditEntry) error {
	return errors.New("held back")
}

// TestAuditPendingShown: entries not sealed yet are listed first, marked
// pending with seq, prev_hash and hash null, and a cursor past them goes on
// to the sealed ones; verify counts them without calling them a break;
// export leaves them out and says how many in X-Steward-Audit-Pending.
func TestAuditPendingShown(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		tok := a.RootToken
		r := a.Do(http.MethodGet, "/api/v1/admin/audit-log?limit=2", tok, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("list: %d %s", r.Status, r.Raw)
		}
		data, _ := r.Get("data").([]any)
		if len(data) != 2 {
			t.Fatalf("list = %s", r.Raw)
		}
		for _, x := range data {
			e := x.(map[string]any)
			if e["pending"] != true || e["seq"] != nil || e["hash"] != nil || e["prev_hash"] != nil {
				t.Errorf("pending entry shown as %v", e)
			}
			if _, ok := e["seq"]; !ok {
				t.Errorf("seq absent, want null: %v", e)
			}
		}
		cursor, _ := r.Get("next_cursor").(string)
		if cursor == "" {
			t.Fatalf("no cursor after a full page: %s", r.Raw)
		}
		if r := a.Do(http.MethodGet, "/api/v1/admin/audit-log?limit=2&cursor="+cursor, tok, nil); r.Status != http.StatusOK ||
			len(r.Get("data").([]any)) != 0 {
			t.Errorf("the page after the pending ones: %d %s, want none sealed", r.Status, r.Raw)
		}

		r = a.Do(http.MethodGet, "/api/v1/admin/audit-log/verify", tok, nil)
		pending, _ := r.Get("pending").(float64)
		if r.Status != http.StatusOK || r.Get("ok") != true || r.Get("entries") != float64(0) || pending < 2 {
			t.Fatalf("verify: %d %s, want ok, 0 entries, the pending counted", r.Status, r.Raw)
		}

		r = a.Do(http.MethodGet, "/api/v1/admin/audit-log/export", tok, nil)
		n, err := strconv.Atoi(r.Header.Get("X-Steward-Audit-Pending"))
		if r.Status != http.StatusOK || err != nil || n <= int(pending) || len(r.Raw) != 0 {
			t.Errorf("export: %d, X-Steward-Audit-Pending %q, body %q: want more pending than verify saw (the export's own entry) and no sealed entries",
				r.Status, r.Header.Get("X-Steward-Audit-Pending"), r.Raw)
		}
	}, apptest.Options{Service: func(c *service.Config) { c.Store = unsealed{c.Store} }})
}
