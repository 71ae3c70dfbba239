package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/service"
	"github.com/stewardhq/steward/store"
)

// doctorCmd is `steward doctor [--checkpoint JWS]...`.
func doctorCmd(ctx context.Context, app func() (*service.Service, store.Store, *slog.Logger, error), stdout io.Writer) *cobra.Command {
	var signatures []string
	var repair bool
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check invariants: signing keys, the audit hash chain and its checkpoints, the credits ledger, the stat counters",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var outside []*steward.AuditCheckpoint
			for _, sig := range signatures {
				c, err := service.ParseCheckpoint(sig)
				if err != nil {
					return err
				}
				outside = append(outside, c)
			}
			svc, st, _, err := app()
			if err != nil {
				return err
			}
			defer st.Close()
			err = doctor(ctx, svc, outside, stdout)
			ok, cerr := doctorCounters(ctx, svc, repair, stdout)
			if err != nil {
				return err
			}
			if cerr != nil {
				return cerr
			}
			if !ok {
				return errors.New("doctor found problems")
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&repair, "repair", false,
		"set every stat counter that disagrees with a recount to the recount (audited as counters.repair)")
	cmd.Flags().StringArrayVar(&signatures, "checkpoint", nil,
		"also hold the chain to this checkpoint, the signature= of an \"audit checkpoint\" log line (repeatable)")
	return cmd
}

// doctor checks Steward's invariants and writes one line per check to out:
// the signing keys open with the configured secret, the audit chain (its
// hashes, links, signed checkpoints and the outside ones given) and the
// credits ledger. It returns
// an error when any check fails, so the command exits non-zero.
func doctor(ctx context.Context, svc *service.Service, outside []*steward.AuditCheckpoint, out io.Writer) error {
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

	if ok, err := doctorWebhookSecrets(ctx, svc, out); err != nil {
		return err
	} else if !ok {
		healthy = false
	}

	res, err := svc.Audit.VerifyChainWith(ctx, outside)
	if err != nil {
		return err
	}
	if res.OK {
		latest := "none yet"
		if c := res.LatestCheckpoint; c != nil {
			latest = fmt.Sprintf("the latest %s at seq %d", c.ID, c.Seq)
		}
		fmt.Fprintf(out, "audit chain: ok (%d entries from seq %d, %d signed checkpoints, %s)\n", res.Entries, res.FromSeq, res.Checkpoints, latest)
		if a := res.Anchor; a != nil {
			fmt.Fprintf(out, "audit chain: anchored at seq %d (hash %s, since %s): retention purged the entries before seq %d\n",
				a.Seq, a.Hash, a.At.Format(time.RFC3339), res.FromSeq)
		}
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
	if err := doctorAuditPending(ctx, svc, out); err != nil {
		return err
	}

	bad, err := svc.Credits.CheckLedger(ctx)
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

// doctorAuditPending reports the entries not sealed yet (after the verify's
// own seal pass): never a failure, since their changes committed and the
// sequencer seals them once every older transaction ended; a warning when
// the oldest waited past service.AuditPendingWarnAfter, naming the age of
// the oldest open transaction, which is what holds it back on PostgreSQL.
func doctorAuditPending(ctx context.Context, svc *service.Service, out io.Writer) error {
	p, err := svc.Audit.AuditPending(steward.WithActor(ctx, steward.SystemActor))
	if err != nil {
		return err
	}
	if p.Count == 0 {
		fmt.Fprintln(out, "audit pending: 0 (every committed entry is sealed)")
		return nil
	}
	age := time.Duration(*p.OldestAgeSeconds * float64(time.Second)).Round(time.Millisecond)
	holder := ""
	if p.OldestTransactionAgeSeconds != nil {
		holder = fmt.Sprintf("; the oldest open transaction in the database cluster is %s old",
			time.Duration(*p.OldestTransactionAgeSeconds*float64(time.Second)).Round(time.Millisecond))
	}
	if age > service.AuditPendingWarnAfter {
		fmt.Fprintf(out, "audit pending: WARNING %d entries not sealed, the oldest for %s%s: an open transaction holds the sequencer back, or no replica is running it\n",
			p.Count, age, holder)
		return nil
	}
	fmt.Fprintf(out, "audit pending: %d (the oldest %s old%s; the sequencer seals them shortly)\n", p.Count, age, holder)
	return nil
}
