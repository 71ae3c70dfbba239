package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
	"github.com/stewardhq/steward/store/postgres"
)

// TestSealerScansPendingInOrder: in a sealing transaction (one that holds
// the sealer lock), the pending audit entries and webhook events are read
// through their pending indexes by plain index scans, never by a bitmap
// or a sequential scan. Only a plain index scan marks the entries of rows
// an earlier pass sealed (dead versions, until a vacuum) as dead when it
// meets them; a bitmap scan leaves them, and under a steady load every
// pass then walked every row sealed since the last vacuum. Rows sealed
// out of their insertion order on disk (an update moves a row) and fresh
// statistics with some rows pending are what make the planner prefer
// another plan and a sort, so the test fails if the sealing transaction
// stops ruling them out.
func TestSealerScansPendingInOrder(t *testing.T) {
	s := open(t)
	ctx := t.Context()
	at := time.Now().UTC().Truncate(time.Microsecond)
	err := s.Update(ctx, func(tx store.Tx) error {
		for i := range 3000 {
			if err := tx.InsertAudit(ctx, &steward.AuditEntry{ID: fmt.Sprintf("aud_plan%04d", i), Time: at,
				Action: "test", TargetID: "t", Pending: true}); err != nil {
				return err
			}
			if err := tx.InsertWebhookEvent(ctx, &steward.WebhookEvent{ID: fmt.Sprintf("msg_plan%04d", i),
				Type: "user.created", Payload: []byte(`{}`), CreatedAt: at}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Seal most of them as a sequencer would, by hand: the plan, not the
	// chain, is under test.
	for _, q := range []string{
		"UPDATE audit_log SET seq = pos, prev_hash = 'p', hash = 'h' WHERE id < 'aud_plan2700'",
		"UPDATE webhook_events SET seq = pos WHERE id < 'msg_plan2700'",
		"ANALYZE audit_log, webhook_events",
	} {
		if _, err := s.Raw().ExecRaw(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	err = s.Update(ctx, func(tx store.Tx) error {
		if _, _, err := tx.LockAuditHead(ctx); err != nil {
			return err
		}
		for _, c := range []struct{ sql, index string }{
			{postgres.SealableAuditSQL, "audit_log_pending"},
			{postgres.SealWebhookEventsSQL, "webhook_events_pending"},
		} {
			text, err := explain(ctx, tx, c.sql, 2000)
			if err != nil {
				return err
			}
			if strings.Contains(text, "Bitmap") || strings.Contains(text, "Seq Scan") ||
				!strings.Contains(text, "Index Scan using "+c.index) {
				t.Errorf("a sealing transaction reads the pending rows without a plain index scan of %s:\n%s", c.index, text)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// explain is the plan of query with args in tx, one line per plan line.
func explain(ctx context.Context, tx store.Tx, query string, args ...any) (string, error) {
	_, rows, err := tx.Raw().QueryRaw(ctx, "EXPLAIN "+query, args...)
	if err != nil {
		return "", err
	}
	plan := make([]string, len(rows))
	for i, r := range rows {
		plan[i] = fmt.Sprint(r[0])
	}
	return strings.Join(plan, "\n"), nil
}
