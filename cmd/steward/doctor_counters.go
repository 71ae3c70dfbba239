package main

import (
	"context"
	"fmt"
	"io"

	"github.com/stewardhq/steward/service"
)

// doctorCounters recounts the stat counters and writes the "counters:"
// lines: ok, or each drift. With repair it overwrites the drifted counters
// with their recounts (one counters.repair audit entry) and says what it
// fixed. It reports whether the counters are right now: false only for a
// drift left unrepaired.
func doctorCounters(ctx context.Context, svc *service.Service, repair bool, out io.Writer) (bool, error) {
	// The gauges (Overview) and the hourly buckets and tenant months
	// (Series) are separate tables, each checked and repaired on its own.
	drifts, err := svc.Overview.CheckCounters(ctx, repair)
	if err != nil {
		return false, err
	}
	buckets, err := svc.Series.CheckCounters(ctx, repair)
	if err != nil {
		return false, err
	}
	drifts = append(drifts, buckets...)
	if len(drifts) == 0 {
		fmt.Fprintln(out, "counters: ok (every stat counter equals a recount from the rows)")
		return true, nil
	}
	for _, d := range drifts {
		if repair {
			fmt.Fprintf(out, "counters: %s[%s] REPAIRED: was %d, set to the recount %d\n", d.Counter, d.Key, d.Stored, d.Recounted)
		} else {
			fmt.Fprintf(out, "counters: %s[%s] DRIFTED: stored %d, recounted %d\n", d.Counter, d.Key, d.Stored, d.Recounted)
		}
	}
	if repair {
		fmt.Fprintf(out, "counters: repaired %d (audited as counters.repair)\n", len(drifts))
		return true, nil
	}
	fmt.Fprintln(out, "counters: run steward doctor --repair to set them to the recount")
	return false, nil
}
