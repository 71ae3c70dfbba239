package service

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// Retention implements steward.RetentionService: how long each data set is
// kept, the purge, and its daily sweep (docs/retention.md).
type Retention struct{ *core }

var _ steward.RetentionService = (*Retention)(nil)

// DefaultRetentionBatch is how many rows one purge transaction deletes when
// Config.RetentionBatch is 0: small enough that the write lock is held for
// milliseconds, so requests queue behind it only briefly.
const DefaultRetentionBatch = 1000

// RetentionSweepEvery is how often Maintain's sweep purges.
const RetentionSweepEvery = 24 * time.Hour

// retentionSet is one data set the purge knows. purge deletes up to limit
// rows past their age in tx and says how many; noNever, when set, refuses
// "never" with that reason.
type retentionSet struct {
	name    string
	def     func(cfg Config) steward.RetentionDays
	purge   func(s *Retention, ctx context.Context, tx store.Tx, before time.Time, limit int, out *steward.RetentionTableRun) (int64, error)
	noNever string
}

// retentionSets are the data sets, in the order a run purges them.
var retentionSets = []retentionSet{
	{name: "sessions", def: func(Config) steward.RetentionDays { return 90 },
		purge: func(_ *Retention, ctx context.Context, tx store.Tx, before time.Time, n int, _ *steward.RetentionTableRun) (int64, error) {
			return tx.PurgeEndedSessions(ctx, before, n)
		}},
	{name: "impersonations", def: func(Config) steward.RetentionDays { return steward.RetentionNever },
		purge: func(_ *Retention, ctx context.Context, tx store.Tx, before time.Time, n int, _ *steward.RetentionTableRun) (int64, error) {
			return tx.PurgeEndedImpersonations(ctx, before, n)
		}},
	// Kept forever by default: an event's id is how a resend is known, so
	// a purged id could be recorded again.
	{name: "usage_events", def: func(Config) steward.RetentionDays { return steward.RetentionNever },
		purge: func(_ *Retention, ctx context.Context, tx store.Tx, before time.Time, n int, _ *steward.RetentionTableRun) (int64, error) {
			return tx.PurgeUsageEvents(ctx, before, n)
		}},
	// --key-usage-retention is this data set's default, in whole days.
	{name: "key_usage", def: func(c Config) steward.RetentionDays {
		return steward.RetentionDays(max(1, cmp.Or(c.KeyUsageRetention, DefaultKeyUsageRetention)/(24*time.Hour)))
	}, purge: func(_ *Retention, ctx context.Context, tx store.Tx, before time.Time, n int, _ *steward.RetentionTableRun) (int64, error) {
		return tx.PruneKeyUsage(ctx, before, n)
	}},
	// A record answers repeats for IdempotencyTTL (a day) from when it was
	// made; its age counts from then, and the retention run is the one
	// place records go. 1 day keeps the replay contract; "never" would
	// keep records that replay nothing.
	{name: "idempotency", def: func(Config) steward.RetentionDays { return 1 },
		noNever: "idempotency records replay for 24 hours and nothing after: give a number of days (1 or more)",
		purge: func(_ *Retention, ctx context.Context, tx store.Tx, before time.Time, n int, _ *steward.RetentionTableRun) (int64, error) {
			// Made before the cut = expired before the cut plus the TTL
			// (expires_at is indexed, created_at is not).
			return tx.PurgeIdempotency(ctx, before.Add(IdempotencyTTL), n)
		}},
	// The dashboard reads up to 365 days back; 400 keeps every window it
	// offers whole.
	{name: "user_activity", def: func(Config) steward.RetentionDays { return DefaultUserActivityRetention },
		purge: func(_ *Retention, ctx context.Context, tx store.Tx, before time.Time, n int, _ *steward.RetentionTableRun) (int64, error) {
			return tx.PurgeUserActivity(ctx, before, n)
		}},
	// The webhook outbox and its delivery log (outbox.go): 30 days is ten
	// times the retry window (webhook_delivery.go).
	{name: "webhook_deliveries", def: func(Config) steward.RetentionDays { return 30 },
		purge: func(_ *Retention, ctx context.Context, tx store.Tx, before time.Time, n int, _ *steward.RetentionTableRun) (int64, error) {
			m, err := tx.PurgeWebhookDeliveries(ctx, before, n)
			if err != nil || m >= int64(n) {
				return m, err
			}
			k, err := tx.PurgeWebhookEvents(ctx, before, n-int(m))
			return m + k, err
		}},
	// Kept forever by default; a purge anchors the chain (auditretention.go).
	{name: "audit_log", def: func(Config) steward.RetentionDays { return steward.RetentionNever },
		purge: (*Retention).purgeAudit},
}

// DefaultUserActivityRetention is user_activity's default: more than the
// dashboard's longest window (365 days).
const DefaultUserActivityRetention steward.RetentionDays = 400

// refusedSets are data sets named in the API that are never purged, with
// the reason the 422 gives.
var refusedSets = map[string]string{
	"ledger": "credit entries are the books: they are kept forever and cannot be given a retention",
}

func knownSets() string {
	names := make([]string, len(retentionSets))
	for i, rs := range retentionSets {
		names[i] = rs.name
	}
	return strings.Join(names, ", ")
}

// settings are the effective retentions: stored ones over the defaults.
func (s *Retention) settings(ctx context.Context, q store.Queries) (steward.RetentionSettings, error) {
	stored, err := q.RetentionSettings(ctx)
	if err != nil {
		return nil, err
	}
	out := steward.RetentionSettings{}
	for _, rs := range retentionSets {
		out[rs.name] = rs.def(s.cfg)
		if d, ok := stored[rs.name]; ok {
			out[rs.name] = steward.RetentionDays(d)
		}
	}
	return out, nil
}

// Retention implements steward.RetentionService.
func (s *Retention) Retention(ctx context.Context) (steward.RetentionSettings, error) {
	if _, err := authorize(ctx, steward.PermConfigRead); err != nil {
		return nil, err
	}
	return s.settings(ctx, s.store)
}

// parseRetention reads one patch value: nil for null (the default).
func parseRetention(raw json.RawMessage) (*int, string) {
	raw = bytes.TrimSpace(raw)
	if string(raw) == "null" {
		return nil, ""
	}
	var never string
	if json.Unmarshal(raw, &never) == nil {
		if never != "never" {
			return nil, `want a number of days, "never" or null`
		}
		return new(int), ""
	}
	var days int
	if err := json.Unmarshal(raw, &days); err != nil {
		return nil, `want a number of days, "never" or null`
	}
	if days < 1 {
		return nil, "must be at least 1 day"
	}
	return &days, ""
}

// UpdateRetention implements steward.RetentionService.
func (s *Retention) UpdateRetention(ctx context.Context, p steward.RetentionPatch) (steward.RetentionSettings, error) {
	if _, err := authorize(ctx, steward.PermConfigWrite); err != nil {
		return nil, err
	}
	fe := steward.FieldErrors{}
	values := map[string]*int{}
	for name, raw := range p {
		if why, ok := refusedSets[name]; ok {
			fe.Add(name, why)
			continue
		}
		if !slices.ContainsFunc(retentionSets, func(rs retentionSet) bool { return rs.name == name }) {
			fe.Add(name, "unknown data set; known: "+knownSets())
			continue
		}
		v, msg := parseRetention(raw)
		if msg != "" {
			fe.Add(name, msg)
			continue
		}
		if i := slices.IndexFunc(retentionSets, func(rs retentionSet) bool { return rs.name == name }); v != nil && *v == 0 && retentionSets[i].noNever != "" {
			fe.Add(name, retentionSets[i].noNever)
			continue
		}
		values[name] = v
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	var after steward.RetentionSettings
	err := s.update(ctx, func(tx store.Tx) error {
		before, err := s.settings(ctx, tx)
		if err != nil {
			return err
		}
		names := make([]string, 0, len(values))
		for name := range values {
			names = append(names, name)
		}
		slices.Sort(names) // one order for every writer
		for _, name := range names {
			if err := tx.SetRetention(ctx, name, values[name]); err != nil {
				return err
			}
		}
		if after, err = s.settings(ctx, tx); err != nil {
			return err
		}
		changes := map[string]change{}
		for _, name := range names {
			if before[name] != after[name] {
				changes[name] = change{Before: before[name], After: after[name]}
			}
		}
		if len(changes) == 0 {
			return nil
		}
		return s.audit(ctx, tx, event{Action: "retention.update", TargetType: "retention", Changes: changes})
	})
	if err != nil {
		return nil, err
	}
	return after, nil
}

// RunRetention implements steward.RetentionService.
func (s *Retention) RunRetention(ctx context.Context) (*steward.RetentionRun, error) {
	if _, err := authorize(ctx, steward.PermRetentionRun); err != nil {
		return nil, err
	}
	return s.run(ctx, false)
}

// Sweep runs the purge as the system when RetentionSweepEvery has passed
// since the last run (manual runs included). Of replicas sweeping at once,
// the one whose claim of the day commits first runs it; the others skip.
// Maintain runs it.
func (s *Retention) Sweep(ctx context.Context) (bool, error) {
	now := s.now()
	last, err := s.store.RetentionLastRun(ctx)
	if err != nil || now.Sub(last) < RetentionSweepEvery {
		return false, err
	}
	var claimed bool
	err = s.update(ctx, func(tx store.Tx) (err error) {
		claimed, err = tx.ClaimRetentionRun(ctx, now, now.Add(-RetentionSweepEvery))
		return err
	})
	if err != nil || !claimed {
		return false, err
	}
	_, err = s.run(steward.WithActor(ctx, steward.SystemActor), true)
	return true, err
}

// run purges each data set in batches, each its own short transaction so
// writers wait at most one batch, then records the run and audits its
// counts. Rows written during the run are younger than any cutoff, so
// nothing a concurrent writer adds is touched.
func (s *Retention) run(ctx context.Context, claimed bool) (*steward.RetentionRun, error) {
	now := s.now()
	settings, err := s.settings(ctx, s.store)
	if err != nil {
		return nil, err
	}
	batch := cmp.Or(s.cfg.RetentionBatch, DefaultRetentionBatch)
	out := &steward.RetentionRun{Tables: map[string]steward.RetentionTableRun{}}
	for _, rs := range retentionSets {
		days := settings[rs.name]
		tr := steward.RetentionTableRun{RetentionDays: days}
		if days != steward.RetentionNever {
			before := now.AddDate(0, 0, -int(days))
			for {
				var n int64
				err := s.update(ctx, func(tx store.Tx) (err error) {
					n, err = rs.purge(s, ctx, tx, before, batch, &tr)
					return err
				})
				tr.Purged += n
				if err != nil {
					return nil, err
				}
				if n < int64(batch) {
					break
				}
			}
		}
		out.Tables[rs.name] = tr
		out.TotalPurged += tr.Purged
	}
	err = s.update(ctx, func(tx store.Tx) error {
		if !claimed {
			if err := tx.SetRetentionLastRun(ctx, now); err != nil {
				return err
			}
		}
		return s.audit(ctx, tx, event{Action: "retention.run", TargetType: "retention", Metadata: out})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
