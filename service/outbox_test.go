package service_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
	"github.com/stewardhq/steward/internal/testdb"
	"github.com/stewardhq/steward/service"
	"github.com/stewardhq/steward/store"
)

// failingCommits makes every write transaction fail after its function
// ran, while fail is set: the commit of a change that did all its writes.
type failingCommits struct {
	store.Store
	fail *atomic.Bool
}

var errCommit = errors.New("commit failed")

func (f failingCommits) Update(ctx context.Context, fn func(store.Tx) error) error {
	return f.Store.Update(ctx, func(tx store.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		if f.fail.Load() {
			return errCommit
		}
		return nil
	})
}

// TestOutboxWritesEachAuditedChange: an announced change writes one
// outbox event in its transaction, with the audit entry's seq and the
// catalogue's type; a change whose transaction rolls back writes neither
// its audit entry nor its event; an action not announced writes none.
func TestOutboxWritesEachAuditedChange(t *testing.T) {
	for _, b := range testdb.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			var fail atomic.Bool
			a := apptest.New(t, b, apptest.Options{Service: func(c *service.Config) {
				c.Store = failingCommits{Store: c.Store, fail: &fail}
			}})
			testOutbox(t, a, &fail)
		})
	}
}

func testOutbox(t *testing.T, a *apptest.App, fail *atomic.Bool) {
	ctx := apptest.System()
	u := a.User(steward.RoleUser)
	a.Svc.Audit.SealNow(ctx) // events are ordered by the sequencer on PostgreSQL
	before, err := a.Store.ListWebhookEvents(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	last := before[len(before)-1].Seq

	if _, err := a.Svc.Users.SuspendUser(ctx, u.ID, "abuse"); err != nil {
		t.Fatal(err)
	}
	a.Svc.Audit.SealNow(ctx) // events are ordered by the sequencer on PostgreSQL
	evs, err := a.Store.ListWebhookEvents(ctx, last, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Type != "user.suspended" {
		t.Fatalf("events after a suspend: %+v, want one user.suspended", evs)
	}
	entries, err := a.Store.ListAudit(ctx, steward.AuditFilter{Action: "user.suspend", Limit: 1})
	if err != nil || len(entries) != 1 {
		t.Fatalf("audit: %v %v", entries, err)
	}
	var p struct {
		Type      string `json:"type"`
		Timestamp string `json:"timestamp"`
		Data      struct {
			AuditID  string `json:"audit_id"`
			TargetID string `json:"target_id"`
			Reason   string `json:"reason"`
			Actor    struct {
				Type string `json:"type"`
			} `json:"actor"`
		} `json:"data"`
	}
	if err := json.Unmarshal(evs[0].Payload, &p); err != nil {
		t.Fatal(err)
	}
	if p.Type != "user.suspended" || p.Data.TargetID != u.ID || p.Data.Reason != "abuse" ||
		p.Data.AuditID != entries[0].ID || p.Data.Actor.Type != steward.ActorSystem || p.Timestamp == "" {
		t.Errorf("payload %s", evs[0].Payload)
	}

	// Rolled back: no audit entry, no event.
	fail.Store(true)
	_, err = a.Svc.Users.UnsuspendUser(ctx, u.ID)
	fail.Store(false)
	if !errors.Is(err, errCommit) {
		t.Fatalf("unsuspend with a failing commit: %v", err)
	}
	a.Svc.Audit.SealNow(ctx) // events are ordered by the sequencer on PostgreSQL
	evs, _ = a.Store.ListWebhookEvents(ctx, last, 10)
	if len(evs) != 1 {
		t.Errorf("events after a rolled-back change: %+v", evs)
	}

	// Not announced: a checkpoint writes an audit entry only.
	if _, err := a.Svc.Audit.CreateAuditCheckpoint(ctx); err != nil {
		t.Fatal(err)
	}
	a.Svc.Audit.SealNow(ctx) // events are ordered by the sequencer on PostgreSQL
	evs, _ = a.Store.ListWebhookEvents(ctx, last, 10)
	if len(evs) != 1 {
		t.Errorf("events after a checkpoint: %+v", evs)
	}
}
