package service_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
	"github.com/stewardhq/steward/service"
	"github.com/stewardhq/steward/store"
)

// sqlFor writes a query with ? placeholders in the backend's own form.
func sqlFor(a *apptest.App, q string) string {
	if a.Backend.Name != "postgres" {
		return q
	}
	for n := 1; strings.Contains(q, "?"); n++ {
		q = strings.Replace(q, "?", fmt.Sprintf("$%d", n), 1)
	}
	return q
}

func verifyChain(t *testing.T, a *apptest.App) *steward.AuditVerification {
	t.Helper()
	res, err := a.Svc.Audit.VerifyChain(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func mustOK(t *testing.T, what string, res *steward.AuditVerification) {
	t.Helper()
	if !res.OK || res.FirstBreak != nil {
		t.Fatalf("%s: verify = %+v (break %+v), want ok", what, res, res.FirstBreak)
	}
}

// wantBreak asserts a break that names checkpoint cid and says why.
func wantBreak(t *testing.T, what string, res *steward.AuditVerification, seq int64, cid, reason string) {
	t.Helper()
	b := res.FirstBreak
	if res.OK || b == nil || b.Seq != seq || b.CheckpointID != cid || !strings.Contains(b.Reason, reason) || !strings.Contains(b.Reason, cid) {
		t.Fatalf("%s: verify = %+v (break %+v), want a break at seq %d naming %s: %q", what, res, b, seq, cid, reason)
	}
}

func checkpointOpts(interval time.Duration) apptest.Options {
	return apptest.Options{Service: func(c *service.Config) { c.CheckpointInterval = interval }}
}

func TestCheckpointIntervalFollowsTheClock(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		ctx := context.Background()
		due := func(what string, want bool) *steward.AuditCheckpoint {
			t.Helper()
			c, err := a.Svc.Audit.CheckpointIfDue(ctx)
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if (c != nil) != want {
				t.Fatalf("%s: checkpoint %+v, want one: %v", what, c, want)
			}
			return c
		}
		first := due("the first run signs the head at once", true)
		res := verifyChain(t, a)
		mustOK(t, "after the first checkpoint", res)
		if first.Seq != res.Entries || res.Checkpoints != 1 || res.LatestCheckpoint == nil || res.LatestCheckpoint.ID != first.ID {
			t.Fatalf("the checkpoint covers its own entry, the head: %+v, verify %+v", first, res)
		}
		due("nothing happened since", false)
		a.Clock.Advance(24 * time.Hour)
		gen, counts := a.Store.(store.Generational)
		var before uint64
		if counts {
			before = gen.Generation()
		}
		due("an idle day later: the head has not moved", false)
		if counts && gen.Generation() != before {
			t.Error("a check with nothing due ran a write transaction")
		}
		if got := verifyChain(t, a).Entries; got != res.Entries {
			t.Fatalf("an idle system's chain grew from %d to %d", res.Entries, got)
		}

		a.User(steward.RoleUser)
		second := due("the head moved and the interval passed", true)
		a.User(steward.RoleUser)
		a.Clock.Advance(9*time.Minute + 59*time.Second)
		due("the head moved within the interval", false)
		a.Clock.Advance(time.Second)
		third := due("the interval is up", true)

		res = verifyChain(t, a)
		mustOK(t, "three checkpoints", res)
		if res.Checkpoints != 3 || res.LatestCheckpoint.ID != third.ID || third.Seq != res.Entries {
			t.Fatalf("verify = %+v, want 3 checkpoints, the latest %s at the head", res, third.ID)
		}
		// Each is audited, by the system, at the seq it signs.
		entries, err := a.Svc.Audit.ListAudit(apptest.System(), steward.AuditFilter{Action: "audit.checkpoint"}, steward.ListParams{})
		if err != nil {
			t.Fatal(err)
		}
		if len(entries.Data) != 3 {
			t.Fatalf("audit.checkpoint entries = %d, want 3", len(entries.Data))
		}
		for i, c := range []*steward.AuditCheckpoint{third, second, first} {
			e := entries.Data[i]
			if e.TargetID != c.ID || e.Seq != c.Seq || e.Hash != c.Hash || e.ActorType != steward.ActorSystem {
				t.Errorf("entry %+v does not record checkpoint %+v", e, c)
			}
		}

		pg, err := a.Svc.Audit.ListAuditCheckpoints(apptest.System(), steward.ListParams{Limit: 2, IncludeTotal: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(pg.Data) != 2 || pg.Data[0].ID != third.ID || pg.Data[1].ID != second.ID || !pg.HasMore || *pg.Total != 3 {
			t.Fatalf("first page = %+v, want third and second of 3", pg)
		}
		pg, err = a.Svc.Audit.ListAuditCheckpoints(apptest.System(), steward.ListParams{Limit: 2, Cursor: *pg.NextCursor})
		if err != nil {
			t.Fatal(err)
		}
		if len(pg.Data) != 1 || pg.Data[0].ID != first.ID || pg.HasMore {
			t.Fatalf("second page = %+v, want first", pg)
		}
	}, checkpointOpts(10*time.Minute))
}

func TestCheckpointOnDemand(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		support, admin := a.User(steward.RoleSupport), a.User(steward.RoleAdmin)
		if _, err := a.Svc.Audit.CreateAuditCheckpoint(apptest.As(support)); code(err) != steward.CodeForbidden {
			t.Fatalf("support: %v, want FORBIDDEN", err)
		}
		c1, err := a.Svc.Audit.CreateAuditCheckpoint(apptest.As(admin))
		if err != nil {
			t.Fatal(err)
		}
		// On demand signs even when nothing moved (its own entry moves it).
		c2, err := a.Svc.Audit.CreateAuditCheckpoint(apptest.As(admin))
		if err != nil {
			t.Fatal(err)
		}
		if c2.Seq != c1.Seq+1 {
			t.Fatalf("checkpoints at %d then %d, want consecutive", c1.Seq, c2.Seq)
		}
		e, err := a.Svc.Audit.ListAudit(apptest.System(), steward.AuditFilter{Action: "audit.checkpoint"}, steward.ListParams{Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if e.Data[0].ActorID != admin.ID || e.Data[0].TargetID != c2.ID {
			t.Fatalf("the checkpoint's entry = %+v, want the admin's", e.Data[0])
		}
		mustOK(t, "two checkpoints on demand", verifyChain(t, a))
		if _, err := a.Svc.Audit.ListAuditCheckpoints(apptest.As(a.User(steward.RoleUser)), steward.ListParams{}); code(err) != steward.CodeForbidden {
			t.Fatalf("a user lists checkpoints: %v", err)
		}
	})
}

// The class of attack: someone with the database deletes the newest audit
// rows. The chain left is internally valid; only the checkpoint shows it.
func TestTruncatedTailBreaksAtTheCheckpoint(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		admin := a.User(steward.RoleAdmin)
		for range 3 {
			a.User(steward.RoleUser)
		}
		c, err := a.Svc.Audit.CreateAuditCheckpoint(apptest.As(admin))
		if err != nil {
			t.Fatal(err)
		}
		a.User(steward.RoleUser)
		mustOK(t, "before the cut", verifyChain(t, a))

		keep := c.Seq - 3
		a.Backend.Exec(t, a.Store, sqlFor(a, "DELETE FROM audit_log WHERE seq > ?"), keep)
		res := verifyChain(t, a)
		if res.Entries != keep {
			t.Fatalf("%d entries left, want %d", res.Entries, keep)
		}
		wantBreak(t, "after the cut", res, keep+1, c.ID, fmt.Sprintf("the chain ends at seq %d", keep))
		if !strings.Contains(res.FirstBreak.Reason, "deleted") {
			t.Errorf("reason %q does not say entries were deleted", res.FirstBreak.Reason)
		}

		// Nothing signs the cut chain, however long the system runs on.
		a.User(steward.RoleUser)
		a.Clock.Advance(time.Hour)
		if _, err := a.Svc.Audit.CheckpointIfDue(context.Background()); code(err) != steward.CodeInvalidState {
			t.Fatalf("the periodic checkpoint on a cut chain: %v, want INVALID_STATE", err)
		}
		if _, err := a.Svc.Audit.CreateAuditCheckpoint(apptest.As(admin)); code(err) != steward.CodeInvalidState {
			t.Fatalf("a checkpoint on demand on a cut chain: %v, want INVALID_STATE", err)
		}
		// Even once new entries have passed the checkpoint's seq.
		for range 5 {
			a.User(steward.RoleUser)
		}
		res = verifyChain(t, a)
		if res.OK || res.FirstBreak.CheckpointID != c.ID || !strings.Contains(res.FirstBreak.Reason, "rewritten") {
			t.Fatalf("a chain regrown past the checkpoint: %+v (break %+v), want a hash mismatch naming %s", res, res.FirstBreak, c.ID)
		}
		if _, err := a.Svc.Audit.CreateAuditCheckpoint(apptest.As(admin)); code(err) != steward.CodeInvalidState {
			t.Fatalf("a checkpoint over a regrown chain: %v, want INVALID_STATE", err)
		}
	})
}

// rewriteFrom changes the reason of the entry at seq and recomputes every
// hash after it, as an attacker who knows the hash scheme would: the chain
// itself then verifies.
func rewriteFrom(t *testing.T, a *apptest.App, seq int64) {
	t.Helper()
	var all []*steward.AuditEntry
	if err := a.Store.ScanAudit(context.Background(), steward.AuditFilter{}, func(e *steward.AuditEntry) error {
		all = append(all, e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	prev := ""
	for _, e := range all {
		if e.Seq == seq {
			e.Reason = "nothing to see here"
		}
		if e.Seq >= seq {
			e.PrevHash = prev
			e.Hash = e.ComputeHash()
			a.Backend.Exec(t, a.Store, sqlFor(a, "UPDATE audit_log SET reason = ?, prev_hash = ?, hash = ? WHERE seq = ?"),
				e.Reason, e.PrevHash, e.Hash, e.Seq)
		}
		prev = e.Hash
	}
}

func TestRewrittenChainBreaksAtTheCheckpoint(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		u := a.User(steward.RoleUser)
		c, err := a.Svc.Audit.CreateAuditCheckpoint(apptest.As(a.User(steward.RoleAdmin)))
		if err != nil {
			t.Fatal(err)
		}
		a.User(steward.RoleUser)
		page, err := a.Svc.Audit.ListAudit(apptest.System(), steward.AuditFilter{TargetID: u.ID}, steward.ListParams{Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		rewriteFrom(t, a, page.Data[0].Seq)
		res := verifyChain(t, a)
		wantBreak(t, "a rewritten chain", res, c.Seq, c.ID, "rewritten")
	})
}

func TestCheckpointForgeriesAreReported(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		ctx := context.Background()
		admin := a.User(steward.RoleAdmin)
		real, err := a.Svc.Audit.CreateAuditCheckpoint(apptest.As(admin))
		if err != nil {
			t.Fatal(err)
		}
		a.User(steward.RoleUser)
		mustOK(t, "before forging", verifyChain(t, a))

		// A checkpoint signed by a key of the attacker's, naming Steward's key.
		_, evil, _ := ed25519.GenerateKey(rand.Reader)
		forged := &steward.AuditCheckpoint{ID: "ckp_ZZZZZZZZZZZZZZZZZZZZZZZZZZ", Seq: real.Seq, Hash: real.Hash,
			Time: a.Clock.Now(), KeyID: real.KeyID}
		forged.Signature = signWith(t, evil, forged)
		if err := a.Store.Update(ctx, func(tx store.Tx) error { return tx.InsertAuditCheckpoint(ctx, forged) }); err != nil {
			t.Fatal(err)
		}
		wantBreak(t, "a forged signature", verifyChain(t, a), real.Seq, forged.ID, "does not verify")
		a.Backend.Exec(t, a.Store, sqlFor(a, "DELETE FROM audit_checkpoints WHERE id = ?"), forged.ID)
		mustOK(t, "forgery removed", verifyChain(t, a))

		// A real checkpoint whose row was moved to another seq.
		a.Backend.Exec(t, a.Store, sqlFor(a, "UPDATE audit_checkpoints SET seq = seq - 1 WHERE id = ?"), real.ID)
		wantBreak(t, "an altered row", verifyChain(t, a), real.Seq-1, real.ID, "differ from what was signed")
		a.Backend.Exec(t, a.Store, sqlFor(a, "UPDATE audit_checkpoints SET seq = seq + 1 WHERE id = ?"), real.ID)

		// A key that is not Steward's.
		other := *forged
		other.ID, other.KeyID = "ckp_ZZZZZZZZZZZZZZZZZZZZZZZZZY", "jwk_unknown"
		other.Signature = signWith(t, evil, &other)
		if err := a.Store.Update(ctx, func(tx store.Tx) error { return tx.InsertAuditCheckpoint(ctx, &other) }); err != nil {
			t.Fatal(err)
		}
		wantBreak(t, "an unknown key", verifyChain(t, a), real.Seq, other.ID, "not a trusted key of the signing key table")
		a.Backend.Exec(t, a.Store, sqlFor(a, "DELETE FROM audit_checkpoints WHERE id = ?"), other.ID)

		// Deleting the real checkpoint is seen through its audit entry.
		a.Backend.Exec(t, a.Store, sqlFor(a, "DELETE FROM audit_checkpoints WHERE id = ?"), real.ID)
		wantBreak(t, "a deleted checkpoint", verifyChain(t, a), real.Seq, real.ID, "missing from the checkpoint table")
	})
}

// signWith signs c's payload as Steward would, but with priv.
func signWith(t *testing.T, priv ed25519.PrivateKey, c *steward.AuditCheckpoint) string {
	t.Helper()
	payload, _ := json.Marshal(steward.CheckpointPayload{Type: steward.CheckpointType, ID: c.ID, Seq: c.Seq,
		Hash: c.Hash, Time: c.Time.UTC().Format(steward.AuditTimeFormat)})
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: jose.JSONWebKey{Key: priv, KeyID: c.KeyID}},
		(&jose.SignerOptions{}).WithType("steward-audit-checkpoint"))
	if err != nil {
		t.Fatal(err)
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A checkpoint keeps verifying after the key that signed it was rotated out
// and left the JWKS, against the key table; and the JWKS verifies a fresh one.
func TestCheckpointsVerifyAcrossKeyRotation(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		ctx := context.Background()
		admin := a.User(steward.RoleAdmin)
		old, err := a.Svc.Audit.CreateAuditCheckpoint(apptest.As(admin))
		if err != nil {
			t.Fatal(err)
		}
		a.Clock.Advance(30 * 24 * time.Hour)
		if err := a.Svc.Maintain(ctx); err != nil { // the successor
			t.Fatal(err)
		}
		a.Clock.Advance(3 * time.Minute)
		if err := a.Svc.Maintain(ctx); err != nil { // the old key retires
			t.Fatal(err)
		}
		a.Clock.Advance(time.Hour) // its tokens expired: it leaves the JWKS
		fresh, err := a.Svc.Audit.CreateAuditCheckpoint(apptest.As(admin))
		if err != nil {
			t.Fatal(err)
		}
		if fresh.KeyID == old.KeyID {
			t.Fatalf("both checkpoints by %s: the key did not rotate", old.KeyID)
		}
		res := verifyChain(t, a)
		mustOK(t, "checkpoints by two keys", res)
		if res.Checkpoints != 2 {
			t.Fatalf("verify checked %d checkpoints, want 2", res.Checkpoints)
		}
		raw, err := a.Svc.Auth.JWKS(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var set jose.JSONWebKeySet
		if err := json.Unmarshal(raw, &set); err != nil {
			t.Fatal(err)
		}
		if len(set.Key(old.KeyID)) != 0 || len(set.Key(fresh.KeyID)) != 1 {
			t.Fatalf("JWKS %s: want %s and not %s", raw, fresh.KeyID, old.KeyID)
		}
		obj, err := jose.ParseSignedCompact(fresh.Signature, []jose.SignatureAlgorithm{jose.EdDSA})
		if err != nil {
			t.Fatal(err)
		}
		payload, err := obj.Verify(set.Key(fresh.KeyID)[0].Key)
		if err != nil {
			t.Fatalf("the JWKS does not verify the checkpoint: %v", err)
		}
		var p steward.CheckpointPayload
		if err := json.Unmarshal(payload, &p); err != nil || p.Seq != fresh.Seq || p.Hash != fresh.Hash || p.ID != fresh.ID {
			t.Fatalf("signed payload %s, want checkpoint %+v", payload, fresh)
		}
	})
}
