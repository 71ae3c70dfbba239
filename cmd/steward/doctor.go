package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/stewardhq/steward/service"
)

// doctor checks Steward's invariants and writes one line per check to out:
// the signing keys open with the configured secret, the audit chain (its
// hashes, links and signed checkpoints) and the credits ledger. It returns
// an error when any check fails, so the command exits non-zero.
func doctor(ctx context.Context, svc *service.Service, out io.Writer) error {
	healthy := true

	keys, err := svc.CheckSigningKeys(ctx)
	if err != nil {
		return err
	}
	switch {
	case len(keys.Problems) > 0:
		healthy = false
		fmt.Fprintf(out, "signing keys: CANNOT DECRYPT %d of %d: %s\n", len(keys.Problems), keys.Keys, strings.Join(keys.Problems, "; "))
	case keys.Sealed == keys.Keys:
		fmt.Fprintf(out, "signing keys: ok (%d, encrypted at rest)\n", keys.Keys)
	default:
		fmt.Fprintf(out, "signing keys: ok (%d, %d stored in plaintext: set STEWARD_SECRET_KEY to encrypt them at rest)\n",
			keys.Keys, keys.Keys-keys.Sealed)
	}

	res, err := svc.VerifyChain(ctx)
	if err != nil {
		return err
	}
	if res.OK {
		latest := "none yet"
		if c := res.LatestCheckpoint; c != nil {
			latest = fmt.Sprintf("the latest %s at seq %d", c.ID, c.Seq)
		}
		fmt.Fprintf(out, "audit chain: ok (%d entries, %d signed checkpoints, %s)\n", res.Entries, res.Checkpoints, latest)
	} else {
		healthy = false
		b := res.FirstBreak
		var at []string
		if b.ID != "" {
			at = append(at, "entry "+b.ID)
		}
		if b.CheckpointID != "" {
			at = append(at, "checkpoint "+b.CheckpointID)
		}
		where := ""
		if len(at) > 0 {
			where = " (" + strings.Join(at, ", ") + ")"
		}
		fmt.Fprintf(out, "audit chain: BROKEN at seq %d%s: %s\n", b.Seq, where, b.Reason)
	}

	bad, err := svc.CheckLedger(ctx)
	if err != nil {
		return err
	}
	for _, t := range bad {
		healthy = false
		fmt.Fprintf(out, "credits ledger: tenant %s DISAGREES: account %d, sum of entries %d, sum of blocks %d, last balance_after %d, negative blocks %d\n",
			t.TenantID, t.Account, t.Entries, t.Blocks, t.LastBalance, t.NegativeBlocks)
	}
	if len(bad) == 0 {
		fmt.Fprintln(out, "credits ledger: ok (every tenant's balance equals the sum of its entries and of its blocks)")
	}
	if !healthy {
		return errors.New("doctor found problems")
	}
	return nil
}
